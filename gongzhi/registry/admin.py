"""Admin for the register; lists show masked numbers only."""

from django.contrib import admin

from .models import Household, Organisation, Person, Visit


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "place", "parent")
    list_filter = ("kind",)
    raw_id_fields = ("place", "parent")


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ("__str__", "tenure", "area_m2")
    raw_id_fields = ("place",)


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ("name", "gender", "masked_id_number", "masked_phone", "household")
    raw_id_fields = ("household",)
    exclude = ("id_number", "phone")
    search_fields = ("name",)


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
    list_display = ("household", "visitor", "visited_at")
    raw_id_fields = ("household", "visitor")
