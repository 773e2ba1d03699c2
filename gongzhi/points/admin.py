from django.contrib import admin

from .models import Account, Activity, Claim, Entry, Item, Participation, PointsRule, Policy, Redemption


class ReadOnly(admin.ModelAdmin):
    """The ledger is changed only through services (and corrected by reversing entries)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnly):
    list_display = ("id", "kind", "person", "household", "place", "balance")
    list_filter = ("kind",)


@admin.register(Entry)
class EntryAdmin(ReadOnly):
    list_display = ("id", "account", "kind", "amount", "balance_after", "reason", "actor", "created_at", "reverses")
    list_filter = ("kind",)
    search_fields = ("reason", "idempotency_key")


@admin.register(Redemption)
class RedemptionAdmin(ReadOnly):
    list_display = ("code", "item", "account", "points", "status", "created_at")
    list_filter = ("status",)


@admin.register(Claim)
class ClaimAdmin(ReadOnly):
    list_display = ("id", "rule", "account", "status", "created_at", "decided_by")
    list_filter = ("status",)


@admin.register(Participation)
class ParticipationAdmin(ReadOnly):
    list_display = ("activity", "account", "status", "hours", "entry")


@admin.register(PointsRule)
class PointsRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "place", "points", "award_role", "evidence_required", "cap", "period", "active")


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ("title", "place", "starts_at", "capacity", "status", "organiser")
    readonly_fields = ("checkin_token",)


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("name", "place", "price", "stock", "provider", "merchant", "active")
    raw_id_fields = ("merchant_user",)


@admin.register(Policy)
class PolicyAdmin(ReadOnly):
    """Changed on the place's points page (services.set_policy), which records who changed it."""
    list_display = ("place", "household_includes_members", "public_leaderboard", "updated_at")
