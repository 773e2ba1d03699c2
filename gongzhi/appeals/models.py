"""Appeals (诉求) and their append-only history, joint-handling sub-tasks, categories and notifications."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gongzhi.core.crypto import EncryptedCharField, mask_phone


class Tier(models.TextChoices):
    GRID = "grid", _("Grid")
    COMMUNITY = "community", _("Community")
    SUBDISTRICT = "subdistrict", _("Subdistrict")
    DEPARTMENT = "department", _("Department")


# The escalation ladder: each tier hands up to the next.
TIER_ORDER = [Tier.GRID, Tier.COMMUNITY, Tier.SUBDISTRICT, Tier.DEPARTMENT]


class Category(models.Model):
    """A configurable tree of appeal categories, each with its default tier and time limits (hours)."""

    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               verbose_name=_("parent"))
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=50)
    default_tier = models.CharField(_("default tier"), max_length=20, choices=Tier.choices, default=Tier.GRID)
    # The department a subdistrict dispatches this kind of appeal to, when it goes that far.
    department = models.CharField(_("department"), max_length=50, blank=True)
    response_hours = models.PositiveIntegerField(_("response time limit (hours)"), default=24)
    resolve_hours = models.PositiveIntegerField(_("resolution time limit (hours)"), default=168)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("appeal category")
        verbose_name_plural = _("appeal categories")
        ordering = ["order", "code"]

    def __str__(self):
        return f"{self.parent.name} / {self.name}" if self.parent_id else self.name


class Appeal(models.Model):
    class Kind(models.TextChoices):
        INQUIRY = "inquiry", _("Inquiry")
        HELP = "help", _("Request for help")
        COMPLAINT = "complaint", _("Complaint")
        REPORT = "report", _("Report")
        SUGGESTION = "suggestion", _("Suggestion")
        DISPUTE = "dispute", _("Dispute")

    class Source(models.TextChoices):
        WEB = "web", _("Web/phone page")
        PHONE = "phone", _("Phone intake")
        GRID = "grid", _("Grid discovery")
        VISIT = "visit", _("Door-knocking visit")
        API = "api", _("API")

    class Urgency(models.TextChoices):
        NORMAL = "normal", _("Normal")
        URGENT = "urgent", _("Urgent")
        DANGER = "danger", _("Danger to life or property")

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        ACCEPTED = "accepted", _("Accepted")
        ASSIGNED = "assigned", _("Assigned")
        IN_PROGRESS = "in_progress", _("In progress")
        ON_HOLD = "on_hold", _("On hold")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")
        REJECTED = "rejected", _("Rejected")
        MERGED = "merged", _("Merged")

    class Rating(models.TextChoices):
        SATISFIED = "satisfied", _("Satisfied")
        BASICALLY = "basically", _("Basically satisfied")
        UNSATISFIED = "unsatisfied", _("Unsatisfied")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="appeals", verbose_name=_("category"))
    title = models.CharField(_("title"), max_length=100)
    description = models.TextField(_("description"))
    # Where it happened (scopes who may see it) and who handles it now.
    place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="appeals", verbose_name=_("place"))
    tier = models.CharField(_("tier"), max_length=20, choices=Tier.choices, default=Tier.GRID)
    handler_place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="handled_appeals",
                                      verbose_name=_("handling place"))
    department = models.CharField(_("department"), max_length=50, blank=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="assigned_appeals", verbose_name=_("assignee"))
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.WEB)
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="appeals", verbose_name=_("reporter"))
    reporter_person = models.ForeignKey("registry.Person", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="appeals", verbose_name=_("reporter (person)"))
    contact_name = models.CharField(_("contact name"), max_length=50, blank=True)
    contact_phone = EncryptedCharField(_("contact phone"), blank=True, null=True)
    urgency = models.CharField(_("urgency"), max_length=20, choices=Urgency.choices, default=Urgency.NORMAL)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.SUBMITTED,
                              db_index=True)
    status_before_hold = models.CharField(max_length=20, blank=True, editable=False)
    photo = models.FileField(_("photo"), upload_to="appeals/%Y/%m/", blank=True)
    idempotency_key = models.CharField(max_length=80, null=True, blank=True, unique=True, editable=False)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged",
                                    verbose_name=_("merged into"))
    resolution = models.TextField(_("what was done"), blank=True)
    rating = models.CharField(_("rating"), max_length=20, choices=Rating.choices, blank=True)
    rating_note = models.CharField(_("rating note"), max_length=300, blank=True)
    rated_at = models.DateTimeField(_("rated at"), null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField(_("times reopened"), default=0)
    escalation_count = models.PositiveSmallIntegerField(_("times escalated"), default=0)
    overdue = models.BooleanField(_("ever overdue"), default=False)
    # Time limits; holding pauses the clock: resuming pushes the due times back by the time held.
    accept_due = models.DateTimeField(_("accept by"), null=True, blank=True)
    response_due = models.DateTimeField(_("respond by"), null=True, blank=True)
    resolve_due = models.DateTimeField(_("resolve by"), null=True, blank=True)
    hold_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    paused_seconds = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(_("submitted at"), default=timezone.now, db_index=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    responded_at = models.DateTimeField(_("responded at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    OPEN = (Status.SUBMITTED, Status.ACCEPTED, Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD)

    class Meta:
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "resolve_due"]),
            # Metrics: the appeals of the places under a node, submitted in a period.
            models.Index(fields=["place", "created_at"], name="appeal_place_created"),
            # Inbox: the open appeals a unit holds, by deadline.
            models.Index(fields=["handler_place", "status", "resolve_due"], name="appeal_handler_status_due"),
            # The rollup refresh: the appeals changed since its last run.
            models.Index(fields=["updated_at"], name="appeal_updated"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @property
    def root(self) -> "Appeal":
        """The appeal whose handling this one follows: itself, or the one it was merged into."""
        appeal, seen = self, {self.pk}
        while appeal.merged_into_id and appeal.merged_into_id not in seen:
            seen.add(appeal.merged_into_id)
            appeal = appeal.merged_into
        return appeal

    @property
    def masked_contact_phone(self) -> str:
        return mask_phone(self.contact_phone)

    @property
    def due(self):
        """The next deadline that matters in the current status."""
        if self.status == self.Status.SUBMITTED:
            return self.accept_due
        if self.status in (self.Status.ACCEPTED, self.Status.ASSIGNED) and not self.responded_at:
            return self.response_due
        if self.status in self.OPEN:
            return self.resolve_due
        return None

    @property
    def due_state(self) -> str:
        """'late', 'soon' (within a quarter of a day) or 'ok', for colouring lists."""
        due = self.due
        if due is None or self.status == self.Status.ON_HOLD:
            return "ok"
        left = (due - timezone.now()).total_seconds()
        return "late" if left < 0 else "soon" if left < 6 * 3600 else "ok"


class AppealEvent(models.Model):
    """One step in an appeal's history; written once, never changed."""

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(_("action"), max_length=20)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    tier = models.CharField(max_length=20, blank=True)
    place = models.ForeignKey("places.Place", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["at", "pk"]
        # The extension rate asks "has an extend event" of every appeal counted: a small partial index answers.
        indexes = [models.Index(fields=["appeal"], condition=models.Q(action="extend"), name="appeal_event_extend")]
        verbose_name = _("appeal event")
        verbose_name_plural = _("appeal events")

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Appeal events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Appeal events are append-only.")

    def __str__(self):
        return f"{self.appeal_id} {self.action} {self.at:%Y-%m-%d %H:%M}"


class SubTask(models.Model):
    """Joint handling: the lead unit and each assisting unit get a sub-task."""

    class Role(models.TextChoices):
        LEAD = "lead", _("Lead unit")
        ASSIST = "assist", _("Assisting unit")

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="subtasks")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    place = models.ForeignKey("places.Place", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("unit (place)"))
    department = models.CharField(_("department"), max_length=50, blank=True)
    note = models.CharField(_("what was done"), max_length=300, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", verbose_name=_("done by"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("sub-task")
        verbose_name_plural = _("sub-tasks")

    def __str__(self):
        return f"{self.get_role_display()}: {self.department or self.place}"


class Notification(models.Model):
    """An in-app message; other channels (SMS, WeChat) plug in through services.CHANNELS."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="appeal_notifications")
    appeal = models.ForeignKey(Appeal, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    message = models.CharField(max_length=300)
    channel = models.CharField(max_length=20, default="inapp")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.message


class DailyRollup(models.Model):
    """Precomputed metrics (services.refresh_rollups): the appeals submitted under one place (community level
    and above) on one local day in one top-level category, with every count metrics.compute gives; the row
    without a category holds the day's total and log-spaced histograms of the two durations
    (metrics.BUCKET_RATIO; docs/appeals.md)."""

    place = models.ForeignKey("places.Place", on_delete=models.CASCADE, related_name="+")
    # The place's parent, kept here so a parent's row is summed from its children's rows by one index.
    parent = models.ForeignKey("places.Place", null=True, on_delete=models.CASCADE, related_name="+",
                               db_index=False)
    day = models.DateField()
    category = models.ForeignKey(Category, null=True, on_delete=models.CASCADE, related_name="+")  # null: all
    total = models.PositiveIntegerField(default=0)
    valid = models.PositiveIntegerField(default=0)
    responded = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    on_time = models.PositiveIntegerField(default=0)
    reworked = models.PositiveIntegerField(default=0)
    rated = models.PositiveIntegerField(default=0)
    satisfied = models.PositiveIntegerField(default=0)
    extended = models.PositiveIntegerField(default=0)
    overdue = models.PositiveIntegerField(default=0)
    by_kind = models.JSONField(default=dict)        # {kind: appeals}
    response_hist = models.JSONField(default=dict)  # {bucket: appeals}, hours to respond (day total only)
    resolve_hist = models.JSONField(default=dict)   # {bucket: appeals}, hours to resolve (day total only)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["place", "day", "category"], name="rollup_place_day_category"),
            models.UniqueConstraint(fields=["place", "day"], condition=models.Q(category__isnull=True),
                                    name="rollup_place_day_total"),
        ]
        indexes = [models.Index(fields=["parent", "day"], name="rollup_parent_day")]

    def __str__(self):
        return f"{self.place_id} {self.day} {self.category_id}: {self.total}"


class RollupState(models.Model):
    """One row: the rollup holds every change to appeals up to `watermark`; locked while a refresh runs."""

    watermark = models.DateTimeField(null=True)
    rebuilt_at = models.DateTimeField(null=True)
