"""Deliberation (议事协商): topics and co-signatures, meetings, votes and ballots, resolutions, conventions."""

import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL


class Notice(models.Model):
    """A message to a user about a deliberation event (a topic reaching the agenda, a vote opening)."""
    recipient = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="deliberation_notices")
    text = models.CharField(_("text"), max_length=300)
    url = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]


class Convention(models.Model):
    class Kind(models.TextChoices):
        VILLAGE_RULES = "village_rules", _("Village rules (村规民约)")
        RESIDENTS = "residents", _("Residents' convention (居民公约)")
        MANAGEMENT = "management", _("Management statute (管理规约)")
        CHARTER = "charter", _("Self-governance charter (自治章程)")

    place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="conventions",
                              verbose_name=_("place"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("convention")
        verbose_name_plural = _("conventions")
        ordering = ["place__path", "kind"]

    def __str__(self):
        return self.title

    @property
    def adopted(self):
        return self.versions.filter(status=ConventionVersion.Status.ADOPTED).first()


class ConventionVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        REVIEWED = "reviewed", _("Legally reviewed")
        VOTING = "voting", _("Being voted on")
        ADOPTED = "adopted", _("Adopted")
        REJECTED = "rejected", _("Rejected")
        SUPERSEDED = "superseded", _("Superseded")

    convention = models.ForeignKey(Convention, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    text = models.TextField(_("text"))
    silent_majority = models.BooleanField(_("silent majority follows (沉默从众)"), default=False)
    motion_percent = models.DecimalField(_("motion threshold (percent of households)"), max_digits=5, decimal_places=2,
                                         default=5)
    # Where in the text the two settings are laid down, e.g. "第八条", so pages can point to the clause.
    motion_clause = models.CharField(_("clause on the motion threshold"), max_length=30, blank=True)
    silent_majority_clause = models.CharField(_("clause on silent majority"), max_length=30, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    legal_opinion = models.TextField(_("legal review opinion"), blank=True)
    reviewed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    adopted_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["convention", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["convention", "number"], name="convention_version_unique"),
            models.UniqueConstraint(fields=["convention"], condition=models.Q(status="adopted"),
                                    name="convention_one_adopted"),
        ]

    def __str__(self):
        return f"{self.convention} v{self.number}"


class Topic(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Collecting signatures")
        ON_AGENDA = "on_agenda", _("On the agenda")
        MERGED = "merged", _("Merged")
        DECLINED = "declined", _("Declined")

    class Unit(models.TextChoices):
        HOUSEHOLD = "household", _("One per household")
        PERSON = "person", _("One per person")

    place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="topics",
                              verbose_name=_("place"))
    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(_("description"))
    proposer = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="topics_raised")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    signature_unit = models.CharField(max_length=10, choices=Unit.choices, default=Unit.HOUSEHOLD)
    # Frozen when the topic opens: ceil(percent × households under the place).
    threshold = models.PositiveIntegerField(_("signatures needed"))
    threshold_percent = models.DecimalField(max_digits=5, decimal_places=2)
    households_at_opening = models.PositiveIntegerField()
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decline_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    on_agenda_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        ordering = ["-created_at"]

    def __str__(self):
        return self.title


class Comment(models.Model):
    """Online deliberation before the meeting: one thread per topic."""
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("comment"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class SignatureSheet(models.Model):
    """A scanned paper signature sheet, entered by staff."""
    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="sheets")
    scan = models.FileField(_("scanned sheet"), upload_to="deliberation/sheets/%Y/%m/")
    entered_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)


class CoSignature(models.Model):
    class Channel(models.TextChoices):
        ONLINE = "online", _("Online")
        PAPER = "paper", _("Paper")

    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="signatures")
    household = models.ForeignKey("registry.Household", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    person = models.ForeignKey("registry.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.ONLINE)
    sheet = models.ForeignKey(SignatureSheet, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="signatures")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["topic", "household"], condition=models.Q(person__isnull=True),
                                    name="cosign_once_per_household"),
            models.UniqueConstraint(fields=["topic", "person"], condition=models.Q(person__isnull=False),
                                    name="cosign_once_per_person"),
        ]


def new_checkin_code():
    return secrets.token_urlsafe(16)


class Meeting(models.Model):
    class Kind(models.TextChoices):
        REPRESENTATIVES = "representatives", _("Residents' representatives meeting (居民代表会议)")
        VILLAGE_NIGHT = "village_night", _("Village evening talk (村湾夜话)")
        BUILDING = "building", _("Building meeting (楼栋会议)")
        TRIPARTITE = "tripartite", _("Tripartite joint meeting (三方联席会)")
        PROPERTY_SALON = "property_salon", _("Property salon (物业沙龙)")
        HEARING = "hearing", _("Decision hearing (决策听证会)")
        REVIEW = "review", _("Democratic review meeting (民主评议会)")
        OWNERS_ASSEMBLY = "owners_assembly", _("Owners' assembly (业主大会)")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="meetings",
                              verbose_name=_("place"))
    title = models.CharField(_("title"), max_length=100)
    starts_at = models.DateTimeField(_("starts at"))
    location = models.CharField(_("location"), max_length=200, blank=True)
    online_url = models.URLField(_("online link"), blank=True)
    agenda = models.ManyToManyField(Topic, blank=True, related_name="meetings", verbose_name=_("agenda"))
    invitees = models.ManyToManyField(USER, blank=True, related_name="meeting_invitations")
    invitee_note = models.CharField(_("also invited"), max_length=300, blank=True)
    minutes = models.TextField(_("minutes"), blank=True)
    minutes_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    minutes_at = models.DateTimeField(null=True, blank=True)
    convened_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    # Printed as a QR code at the venue; the phone that scans it lands on the self check-in.
    checkin_code = models.CharField(max_length=40, default=new_checkin_code, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")
        ordering = ["-starts_at"]

    def __str__(self):
        return self.title


class MeetingDocument(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(_("title"), max_length=100)
    file = models.FileField(_("file"), upload_to="deliberation/documents/%Y/%m/")
    uploaded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class Attendance(models.Model):
    class Method(models.TextChoices):
        SELF = "self", _("Self check-in")
        STAFF = "staff", _("Recorded by staff")

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendance")
    user = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=50)
    method = models.CharField(max_length=10, choices=Method.choices)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meeting", "user"], condition=models.Q(user__isnull=False),
                                    name="attend_once_per_user"),
            models.UniqueConstraint(fields=["meeting", "name"], condition=models.Q(user__isnull=True),
                                    name="attend_once_per_name"),
        ]


class Vote(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="votes",
                              verbose_name=_("place"))
    title = models.CharField(_("title"), max_length=100)
    topic = models.ForeignKey(Topic, null=True, blank=True, on_delete=models.PROTECT, related_name="votes")
    meeting = models.ForeignKey(Meeting, null=True, blank=True, on_delete=models.PROTECT, related_name="votes")
    convention_version = models.ForeignKey(ConventionVersion, null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="votes")
    # Frozen at opening: counting.VoteRules.to_json() and {voter key: floor area}.
    rules = models.JSONField()
    electorate = models.JSONField()
    secret = models.BooleanField(_("secret ballot"), default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    result = models.JSONField(null=True, blank=True)
    passed = models.BooleanField(null=True)
    opened_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("vote")
        verbose_name_plural = _("votes")
        ordering = ["-opened_at"]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        if self.pk:
            frozen = Vote.objects.filter(pk=self.pk).values("rules", "electorate").first()
            if frozen and (frozen["rules"] != self.rules or frozen["electorate"] != self.electorate):
                raise ValidationError(_("The rules and electorate of a vote cannot change after it opens."))
        super().save(*args, **kwargs)

    @property
    def vote_rules(self):
        from .counting import VoteRules
        return VoteRules.from_json(self.rules)


class Ballot(models.Model):
    """The receipt: who (which voter unit) voted, how, by which channel. For a secret ballot `choice` is empty."""
    class Channel(models.TextChoices):
        ONLINE = "online", _("Online")
        PAPER = "paper", _("Paper")
        PROXY = "proxy", _("Proxy")

    vote = models.ForeignKey(Vote, on_delete=models.PROTECT, related_name="ballots")
    voter_key = models.CharField(max_length=20)
    household = models.ForeignKey("registry.Household", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    person = models.ForeignKey("registry.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    proxy_name = models.CharField(max_length=50, blank=True)
    # The written authorisation (委托书) a proxy hands in, scanned by staff.
    authorisation = models.FileField(upload_to="deliberation/proxies/%Y/%m/", blank=True)
    cast_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    choice = models.CharField(max_length=30, blank=True)
    cast_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["vote", "voter_key"], name="ballot_once_per_voter")]


class Choice(models.Model):
    """One anonymous choice per ballot, with the voter unit's area: no voter, no time, a random key."""
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vote = models.ForeignKey(Vote, on_delete=models.PROTECT, related_name="choices")
    option = models.CharField(max_length=30)
    area = models.DecimalField(max_digits=10, decimal_places=2, default=0)


class Resolution(models.Model):
    place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="resolutions",
                              verbose_name=_("place"))
    vote = models.OneToOneField(Vote, null=True, blank=True, on_delete=models.PROTECT, related_name="resolution")
    title = models.CharField(_("title"), max_length=100)
    text = models.TextField(_("text"))
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("resolution")
        verbose_name_plural = _("resolutions")
        ordering = ["-created_at"]

    def __str__(self):
        return self.title


class Task(models.Model):
    resolution = models.ForeignKey(Resolution, on_delete=models.PROTECT, related_name="tasks")
    title = models.CharField(_("task"), max_length=100)
    owner = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    owner_name = models.CharField(_("responsible"), max_length=50)
    due = models.DateField(_("due"))
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due", "id"]


class Progress(models.Model):
    resolution = models.ForeignKey(Resolution, on_delete=models.PROTECT, related_name="progress")
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.PROTECT, related_name="progress")
    text = models.TextField(_("progress"))
    by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]


class Rating(models.Model):
    resolution = models.ForeignKey(Resolution, on_delete=models.PROTECT, related_name="ratings")
    user = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.CharField(_("comment"), max_length=300, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["resolution", "user"], name="rate_once_per_user"),
            models.CheckConstraint(condition=models.Q(score__gte=1, score__lte=5), name="rating_score_1_5"),
        ]
