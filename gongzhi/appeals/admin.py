"""Admin: categories are configured here; appeals are read-only (change them through the services)."""

from django.contrib import admin

from .models import Appeal, AppealEvent, Category, Notification, SubTask


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("__str__", "code", "default_tier", "department", "response_hours", "resolve_hours", "active")
    list_filter = ("default_tier", "active")
    list_editable = ("response_hours", "resolve_hours", "active")


class EventInline(admin.TabularInline):
    model = AppealEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "actor", "action", "from_status", "to_status", "tier", "place", "note")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Appeal)
class AppealAdmin(admin.ModelAdmin):
    list_display = ("pk", "title", "kind", "category", "status", "tier", "place", "created_at", "overdue")
    list_filter = ("status", "tier", "kind", "overdue")
    search_fields = ("title",)
    exclude = ("contact_phone",)
    readonly_fields = [f.name for f in Appeal._meta.fields if f.name != "contact_phone"] + ["masked_contact_phone"]
    inlines = [EventInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SubTask)
class SubTaskAdmin(admin.ModelAdmin):
    list_display = ("appeal", "role", "place", "department", "done_at")
    raw_id_fields = ("appeal", "place")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("user", "appeal", "message", "channel", "created_at", "read_at")
    raw_id_fields = ("user", "appeal")
