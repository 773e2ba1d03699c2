"""Admin for users and their roles."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import RoleAssignment, User


class RoleInline(admin.TabularInline):
    model = RoleAssignment
    raw_id_fields = ("place", "organisation")
    extra = 0


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "full_name", "is_active", "is_staff")
    search_fields = ("username", "full_name")
    fieldsets = BaseUserAdmin.fieldsets + ((None, {"fields": ("full_name", "phone", "person")}),)
    raw_id_fields = ("person",)
    inlines = [RoleInline]
