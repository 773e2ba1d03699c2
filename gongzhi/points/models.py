"""Points: accounts and their append-only ledger, the rulebook and claims, volunteering, the points store.

A balance is the sum of its account's entries. `Account.balance` is a cache written in the same
transaction as each entry (under a row lock); `gongzhi points_audit` recomputes it from the entries.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gongzhi.accounts.roles import Role


class Account(models.Model):
    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        HOUSEHOLD = "household", _("Household")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    person = models.OneToOneField("registry.Person", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="points_account", verbose_name=_("person"))
    household = models.OneToOneField("registry.Household", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="points_account", verbose_name=_("household"))
    place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="points_accounts",
                              verbose_name=_("place"))
    balance = models.IntegerField(_("balance"), default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("points account")
        verbose_name_plural = _("points accounts")
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="points_balance_not_negative"),
            models.CheckConstraint(condition=(Q(kind="person", person__isnull=False, household__isnull=True)
                                              | Q(kind="household", household__isnull=False, person__isnull=True)),
                                   name="points_account_one_holder"),
        ]

    def __str__(self):
        return str(self.person if self.kind == self.Kind.PERSON else self.household)


class Policy(models.Model):
    """How a community or village runs its points, as its adopted village rules or convention say."""

    place = models.OneToOneField("places.Place", on_delete=models.PROTECT, related_name="points_policy",
                                 verbose_name=_("community/village"))
    household_includes_members = models.BooleanField(
        _("a household's balance includes its members'"), default=False,
        help_text=_("Villages that score the household (户积分) count every member's points towards it."))
    public_leaderboard = models.BooleanField(_("public leaderboard"), default=False,
                                             help_text=_("Anyone may see the ranking of contributors."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("points policy")
        verbose_name_plural = _("points policies")

    def __str__(self):
        return str(self.place)


class PointsRule(models.Model):
    """One line of the published rulebook (村规民约/居民公约 + 积分制) of a community or village."""

    class Period(models.TextChoices):
        NONE = "", _("No cap")
        DAY = "day", _("Per day")
        WEEK = "week", _("Per week")
        MONTH = "month", _("Per month")
        YEAR = "year", _("Per year")

    place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="points_rules",
                              verbose_name=_("community/village"))
    name = models.CharField(_("name"), max_length=100)
    points = models.IntegerField(_("points"), help_text=_("Negative for conduct that costs points."))
    award_role = models.CharField(_("who may award"), max_length=30, choices=Role.choices,
                                  default=Role.COMMUNITY_WORKER)
    evidence_required = models.BooleanField(_("evidence photo required"), default=False)
    cap = models.PositiveIntegerField(_("times per period"), null=True, blank=True)
    period = models.CharField(_("period"), max_length=10, choices=Period.choices, default="", blank=True)
    convention = models.TextField(_("convention text"), blank=True,
                                  help_text=_("The article of the adopted village rules or residents' convention."))
    convention_url = models.URLField(_("convention link"), blank=True)
    expiry_days = models.PositiveIntegerField(_("points expire after (days)"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("points rule")
        verbose_name_plural = _("points rules")
        ordering = ["place_id", "name"]
        constraints = [models.UniqueConstraint(fields=["place", "name"], name="points_rule_unique_name")]

    def __str__(self):
        return f"{self.name} ({self.points:+d})"


class Entry(models.Model):
    """One line of the ledger. Never updated or deleted; a mistake is corrected by a reversing entry."""

    class Kind(models.TextChoices):
        AWARD = "award", _("Award")
        DEDUCTION = "deduction", _("Deduction")
        SPEND = "spend", _("Spent")
        REFUND = "refund", _("Refund")
        EXPIRY = "expiry", _("Expired")
        REVERSAL = "reversal", _("Reversal")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries", verbose_name=_("account"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.AWARD)
    amount = models.IntegerField(_("points"))
    balance_after = models.IntegerField(_("balance after"))
    reason = models.CharField(_("reason"), max_length=200)
    rule = models.ForeignKey(PointsRule, null=True, blank=True, on_delete=models.PROTECT, related_name="entries",
                             verbose_name=_("rule"))
    source_type = models.CharField(_("source type"), max_length=50, blank=True)
    source_id = models.CharField(_("source id"), max_length=50, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                              related_name="points_entries", verbose_name=_("by"))
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    idempotency_key = models.CharField(max_length=100, unique=True)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="reversed_by", verbose_name=_("reverses"))

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-created_at", "-id"]
        # (account, -id): an account's latest entry, for posting and for the ledger audit.
        indexes = [models.Index(fields=["source_type", "source_id"]),
                   models.Index(fields=["account", "-id"], name="points_entry_account_latest")]

    def __str__(self):
        return f"{self.amount:+d} {self.reason}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Ledger entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Ledger entries are append-only.")


class Claim(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    rule = models.ForeignKey(PointsRule, on_delete=models.PROTECT, related_name="claims", verbose_name=_("rule"))
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="claims", verbose_name=_("account"))
    claimant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="points_claims",
                                 verbose_name=_("claimed by"))
    description = models.TextField(_("what was done"))
    # Checked and stripped of metadata by core.uploads.clean_image in the service.
    evidence = models.FileField(_("evidence photo"), upload_to="points/evidence/%Y/%m/", blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.CharField(_("reason"), max_length=200, blank=True)
    entry = models.OneToOneField(Entry, null=True, blank=True, on_delete=models.PROTECT, related_name="claim")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("points claim")
        verbose_name_plural = _("points claims")
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.account} · {self.rule.name}"


class Activity(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open for sign-up")
        CONFIRMED = "confirmed", _("Hours confirmed")
        CANCELLED = "cancelled", _("Cancelled")

    place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="points_activities",
                              verbose_name=_("place"))
    title = models.CharField(_("what"), max_length=100)
    description = models.TextField(_("details"), blank=True)
    location = models.CharField(_("where"), max_length=200)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    capacity = models.PositiveIntegerField(_("places"))
    points_per_hour = models.PositiveIntegerField(_("points per hour"), null=True, blank=True)
    points_per_activity = models.PositiveIntegerField(_("points for taking part"), null=True, blank=True)
    organiser = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="points_activities",
                                  verbose_name=_("organiser"))
    checkin_token = models.CharField(max_length=40, unique=True, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("volunteer activity")
        verbose_name_plural = _("volunteer activities")
        ordering = ["-starts_at"]

    def __str__(self):
        return self.title


class Participation(models.Model):
    class Status(models.TextChoices):
        SIGNED_UP = "signed_up", _("Signed up")
        CHECKED_IN = "checked_in", _("Checked in")
        CHECKED_OUT = "checked_out", _("Checked out")
        CANCELLED = "cancelled", _("Cancelled")

    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="participations",
                                 verbose_name=_("activity"))
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="participations",
                                verbose_name=_("account"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.SIGNED_UP)
    checked_in_at = models.DateTimeField(_("checked in"), null=True, blank=True)
    checked_out_at = models.DateTimeField(_("checked out"), null=True, blank=True)
    hours = models.DecimalField(_("hours"), max_digits=5, decimal_places=2, null=True, blank=True)
    entry = models.OneToOneField(Entry, null=True, blank=True, on_delete=models.PROTECT, related_name="participation")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("participation")
        verbose_name_plural = _("participations")
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["activity", "account"], name="points_signup_once")]

    def __str__(self):
        return f"{self.activity} · {self.account}"


class Item(models.Model):
    class Provider(models.TextChoices):
        COUNTER = "counter", _("Community counter")
        MERCHANT = "merchant", _("Partner merchant")

    place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="points_items",
                              verbose_name=_("place"))
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    price = models.PositiveIntegerField(_("price in points"))
    stock = models.IntegerField(_("stock"), default=0)
    provider = models.CharField(_("collected at"), max_length=10, choices=Provider.choices, default=Provider.COUNTER)
    merchant = models.CharField(_("merchant"), max_length=100, blank=True)
    merchant_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="points_merchant_items", verbose_name=_("merchant's login"),
                                      help_text=_("This login may hand the item over at the shop against its "
                                                  "collection code."))
    active = models.BooleanField(_("on sale"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("store item")
        verbose_name_plural = _("store items")
        ordering = ["price", "name"]
        constraints = [models.CheckConstraint(condition=Q(stock__gte=0), name="points_stock_not_negative")]

    def __str__(self):
        return self.name


class Redemption(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for collection")
        COLLECTED = "collected", _("Collected")
        CANCELLED = "cancelled", _("Cancelled")

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("item"))
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="redemptions",
                                verbose_name=_("account"))
    redeemed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("redeemed by"))
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    points = models.PositiveIntegerField(_("points"))
    code = models.CharField(_("collection code"), max_length=12, unique=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    spend_entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="redemption")
    refund_entry = models.OneToOneField(Entry, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="refunded_redemption")
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("handled by"))
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.code} · {self.item}"
