"""Households and persons in the place tree, the party and self-governance trees, and visit logs."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from gongzhi.core.crypto import EncryptedCharField, lookup_hash, mask_id_number, mask_phone


class Organisation(models.Model):
    class Kind(models.TextChoices):
        PARTY_COMMITTEE = "party_committee", _("Community party committee")
        PARTY_BRANCH = "party_branch", _("Party branch")
        PARTY_GROUP = "party_group", _("Party group")
        PARTY_HOUSEHOLD = "party_household", _("Party household liaison post")
        RESIDENTS_COMMITTEE = "residents_committee", _("Residents' committee")
        VILLAGE_COMMITTEE = "village_committee", _("Villagers' committee")
        SUBCOMMITTEE = "subcommittee", _("Sub-committee")
        RESIDENT_GROUP = "resident_group", _("Resident group")
        OWNERS_COMMITTEE = "owners_committee", _("Owners' committee")
        PROPERTY_COMPANY = "property_company", _("Property company")

    PARTY_KINDS = {Kind.PARTY_COMMITTEE, Kind.PARTY_BRANCH, Kind.PARTY_GROUP, Kind.PARTY_HOUSEHOLD}

    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100)
    place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="organisations",
                              verbose_name=_("place"))
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               verbose_name=_("parent organisation"))

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["place__path", "kind"]

    def __str__(self):
        return self.name

    @property
    def tree(self) -> str:
        return "party" if self.kind in self.PARTY_KINDS else "self_governance"


class Household(models.Model):
    class Tenure(models.TextChoices):
        OWNER = "owner", _("Owner-occupied")
        TENANT = "tenant", _("Rented")
        OTHER = "other", _("Other")

    place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="households",
                              verbose_name=_("place"))
    door_no = models.CharField(_("room/door number"), max_length=30)
    area_m2 = models.DecimalField(_("floor area (m²)"), max_digits=8, decimal_places=2, null=True, blank=True)
    tenure = models.CharField(_("tenure"), max_length=10, choices=Tenure.choices, default=Tenure.OWNER)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["place__path", "door_no"]
        constraints = [models.UniqueConstraint(fields=["place", "door_no"], name="household_unique_door")]

    def __str__(self):
        return f"{self.place.name} {self.door_no}"

    @property
    def head(self):
        return next((p for p in self.members.all() if p.relation == Person.Relation.HEAD), None)


class Person(models.Model):
    class Gender(models.TextChoices):
        MALE = "M", _("Male")
        FEMALE = "F", _("Female")

    class Relation(models.TextChoices):
        HEAD = "head", _("Head of household")
        SPOUSE = "spouse", _("Spouse")
        CHILD = "child", _("Child")
        PARENT = "parent", _("Parent")
        GRANDCHILD = "grandchild", _("Grandchild")
        OTHER = "other", _("Other relative")
        TENANT = "tenant", _("Tenant")

    class Political(models.TextChoices):
        MASSES = "masses", _("Masses")
        PARTY_MEMBER = "party_member", _("Party member")
        LEAGUE_MEMBER = "league_member", _("League member")
        OTHER = "other", _("Other")

    class Departure(models.TextChoices):
        MOVED_AWAY = "moved_away", _("Moved away")
        DECEASED = "deceased", _("Deceased")

    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="members", verbose_name=_("household"))
    name = models.CharField(_("name"), max_length=50)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    id_number = EncryptedCharField(_("ID number"), null=True, blank=True)
    # Indexed in Meta, not with unique=/db_index=: on PostgreSQL those add a second, LIKE-only index per column,
    # and at city scale each such index is another ~1 GiB of random-key inserts for every new person.
    id_number_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)
    phone = EncryptedCharField(_("phone"), null=True, blank=True)
    phone_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)
    relation = models.CharField(_("relation to head"), max_length=12, choices=Relation.choices,
                                default=Relation.HEAD)
    ethnicity = models.CharField(_("ethnicity"), max_length=20, blank=True, default="汉族")
    political = models.CharField(_("political status"), max_length=15, choices=Political.choices,
                                 default=Political.MASSES)
    tags = models.CharField(_("special groups"), max_length=200, blank=True,
                            help_text=_("e.g. elderly living alone, disabled, low income; separated by commas"))
    notes = models.TextField(_("notes"), blank=True)
    # The purpose of holding the record ends when the person moves away or dies; after the retention period
    # the record may be anonymised (services.anonymise_person), keeping the row so statistics stay whole.
    departed = models.CharField(_("left the register"), max_length=12, choices=Departure.choices, blank=True)
    departed_on = models.DateField(_("left on"), null=True, blank=True)
    anonymised_at = models.DateTimeField(_("anonymised at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("persons")
        ordering = ["household_id", "id"]
        constraints = [models.UniqueConstraint(fields=["id_number_hash"], name="person_unique_id_number_hash")]
        indexes = [models.Index(fields=["phone_hash"], name="person_phone_hash")]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.id_number_hash = lookup_hash(self.id_number)
        self.phone_hash = lookup_hash(self.phone)
        super().save(*args, **kwargs)

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def age(self) -> int | None:
        from datetime import date
        if not self.birth_date:
            return None
        today = date.today()
        return today.year - self.birth_date.year - ((today.month, today.day) < (self.birth_date.month, self.birth_date.day))


class Visit(models.Model):
    """A door-knocking visit (敲门行动) to a household."""

    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="visits",
                                  verbose_name=_("household"))
    visitor = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="visits",
                                verbose_name=_("visitor"))
    visited_at = models.DateTimeField(_("visited at"))
    met = models.CharField(_("who was met"), max_length=100, blank=True)
    findings = models.TextField(_("findings"), blank=True)
    needs = models.TextField(_("needs raised"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["-visited_at"]
        indexes = [models.Index(fields=["household", "-visited_at"])]
