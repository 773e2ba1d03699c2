"""The audit trail in the admin: list and search only; no one (superusers included) adds, edits or deletes."""

from django.contrib import admin

from .models import AuditArchive, AuditEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "at", "username", "action", "outcome", "object_type", "object_id", "detail", "client_ip")
    list_filter = ("action", "outcome")
    search_fields = ("username", "object_type", "object_id", "detail", "client_ip")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]


@admin.register(AuditArchive)
class AuditArchiveAdmin(ReadOnlyAdmin):
    list_display = ("file", "first_seq", "last_seq", "count", "created_at")
    readonly_fields = [f.name for f in AuditArchive._meta.fields]
