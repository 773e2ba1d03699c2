"""Admin for the place tree; creation goes through the service so paths stay right."""

from django.contrib import admin

from .models import Place
from .services import create_place


@admin.register(Place)
class PlaceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "code", "parent")
    list_filter = ("kind",)
    search_fields = ("name", "code")
    raw_id_fields = ("parent",)
    readonly_fields = ("path", "depth")

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            created = create_place(kind=obj.kind, name=obj.name, parent=obj.parent, code=obj.code,
                                   boundary=obj.boundary, latitude=obj.latitude, longitude=obj.longitude,
                                   address=obj.address)
            obj.pk, obj.path, obj.depth = created.pk, created.path, created.depth
