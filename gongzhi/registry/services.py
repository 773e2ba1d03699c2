"""Domain operations on the register: every change to households, persons and visits goes through here."""

from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gongzhi.core import audit
from gongzhi.core.models import AuditEvent
from gongzhi.core.validators import (normalise_id_number, normalise_phone,
                                     validate_id_number, validate_phone)
from gongzhi.places.models import GRID_KINDS, HOUSEHOLD_PARENT_KINDS, Place

from .models import Household, Person, Visit

PERSON_FIELDS = ("name", "gender", "id_number", "phone", "relation", "ethnicity", "political", "tags", "notes")
HOUSEHOLD_FIELDS = ("door_no", "area_m2", "tenure", "notes")


# Computed once: TextChoices.values builds a new list on every access, and imports check every row.
_CHOICES = [(key, frozenset(choices.values)) for key, choices in
            (("gender", Person.Gender), ("relation", Person.Relation), ("political", Person.Political))]
_MALE, _FEMALE = Person.Gender.MALE.value, Person.Gender.FEMALE.value


def require(user, perm, obj=None):
    """Raise PermissionDenied unless the user holds the rule; one place for the check and its log."""
    if not user.has_perm(perm, obj):
        exc = PermissionDenied(_("You do not have permission to do this here."))
        exc.audit_obj, exc.audit_detail = obj, perm
        if audit.current_request() is None:  # in a request the audit hook records it, after any rollback
            audit.denied(None, exc)
        raise exc


def clean_person_data(data: dict) -> dict:
    """Validate and normalise person fields; raises ValidationError with per-field Chinese messages.
    Imports call this for every row, so it avoids repeated work."""
    errors = {}
    cleaned = dict(data)
    born = None
    if not (cleaned.get("name") or "").strip():
        errors["name"] = _("Name is required.")
    if cleaned.get("id_number"):
        cleaned["id_number"] = normalise_id_number(cleaned["id_number"])
        try:
            born = validate_id_number(cleaned["id_number"])
        except ValidationError as exc:
            errors["id_number"] = exc.messages[0]
    if cleaned.get("phone"):
        cleaned["phone"] = normalise_phone(cleaned["phone"])
        try:
            validate_phone(cleaned["phone"])
        except ValidationError as exc:
            errors["phone"] = exc.messages[0]
    for key, choices in _CHOICES:
        if cleaned.get(key) and cleaned[key] not in choices:
            errors[key] = _("Unknown value: %(value)s") % {"value": cleaned[key]}
    if errors:
        raise ValidationError(errors)
    if born:
        # The ID number is authoritative for birth date and gender.
        cleaned["birth_date"] = born
        cleaned["gender"] = _MALE if int(cleaned["id_number"][16]) % 2 else _FEMALE
    if not cleaned.get("gender"):
        raise ValidationError({"gender": _("Gender is required when there is no ID number.")})
    cleaned["name"] = cleaned["name"].strip()
    return cleaned


def _check_duplicate_id(id_number, exclude_pk=None):
    from gongzhi.core.crypto import lookup_hash
    if id_number and Person.objects.filter(id_number_hash=lookup_hash(id_number)).exclude(pk=exclude_pk).exists():
        raise ValidationError({"id_number": _("A person with this ID number is already registered.")})


@transaction.atomic
def create_household(user, *, place: Place, door_no: str, area_m2=None, tenure=Household.Tenure.OWNER, notes="") -> Household:
    require(user, "registry.change_place_register", place)
    if place.kind not in HOUSEHOLD_PARENT_KINDS:
        raise ValidationError(_("Households are registered in a unit, building or grid, not in a %(kind)s.")
                              % {"kind": place.get_kind_display()})
    door_no = (door_no or "").strip()
    if not door_no:
        raise ValidationError({"door_no": _("Room/door number is required.")})
    if Household.objects.filter(place=place, door_no=door_no).exists():
        raise ValidationError({"door_no": _("Household %(door)s already exists here.") % {"door": door_no}})
    if tenure not in Household.Tenure.values:
        raise ValidationError({"tenure": _("Unknown value: %(value)s") % {"value": tenure}})
    return Household.objects.create(place=place, door_no=door_no, area_m2=area_m2, tenure=tenure, notes=notes)


@transaction.atomic
def update_household(user, household: Household, **fields) -> Household:
    require(user, "registry.change_household", household)
    for key, value in fields.items():
        if key in HOUSEHOLD_FIELDS:
            setattr(household, key, value)
    household.full_clean(exclude=["place"])
    household.save()
    return household


@transaction.atomic
def add_person(user, household: Household, **data) -> Person:
    require(user, "registry.change_household", household)
    cleaned = clean_person_data(data)
    _check_duplicate_id(cleaned.get("id_number"))
    person = Person(household=household, **{k: v for k, v in cleaned.items() if k in PERSON_FIELDS + ("birth_date",)})
    person.save()
    return person


@transaction.atomic
def update_person(user, person: Person, **data) -> Person:
    require(user, "registry.change_person", person)
    _not_anonymised(person)
    current = {f: getattr(person, f) for f in PERSON_FIELDS}
    cleaned = clean_person_data({**current, **{k: v for k, v in data.items() if k in PERSON_FIELDS}})
    _check_duplicate_id(cleaned.get("id_number"), exclude_pk=person.pk)
    for key, value in cleaned.items():
        if key in PERSON_FIELDS + ("birth_date",):
            setattr(person, key, value)
    person.save()
    return person


def view_person_full(user, person: Person, request=None) -> Person:
    """Open a person's full record (unmasked); each opening is logged."""
    require(user, "registry.view_person_full", person)
    audit.record(AuditEvent.Action.VIEW_PERSONAL, request=request, user=user, obj=person)
    return person


@transaction.atomic
def record_visit(user, household: Household, *, visited_at=None, met="", findings="", needs="") -> Visit:
    require(user, "registry.visit_household", household)
    visited_at = visited_at or timezone.now()
    if visited_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"visited_at": _("A visit cannot be in the future.")})
    if not (met or findings or needs).strip():
        raise ValidationError({"findings": _("Write down who was met or what was found.")})
    return Visit.objects.create(household=household, visitor=user, visited_at=visited_at, met=met.strip(),
                                findings=findings.strip(), needs=needs.strip())


def households_in(user, place: Place):
    """Households under a place that the user may see."""
    return user.scope.filter(Household.objects.filter(place__path__startswith=place.path))


def unvisited_households(user, place: Place, days: int | None = None):
    days = days or settings.GONGZHI_VISIT_ROUND_DAYS
    since = timezone.now() - timedelta(days=days)
    return (households_in(user, place).select_related("place")
            .annotate(last_visit=Max("visits__visited_at"))
            .filter(Q(last_visit__isnull=True) | Q(last_visit__lt=since))
            .order_by("place__path", "door_no"))


def grid_of(place: Place) -> Place | None:
    return place.ancestor_of_kind(GRID_KINDS)


# --- the end of a record's purpose (PIPL art. 47): departure, then anonymisation after the retention period -------

def _not_anonymised(person: Person):
    if person.anonymised_at:
        raise ValidationError(_("This record has been anonymised and can no longer change."))


def anonymisable_from(person: Person) -> date | None:
    """The first day the record may be anonymised: the retention period after the person left, or None."""
    if not person.departed or person.departed_on is None:
        return None
    return person.departed_on + timedelta(days=settings.GONGZHI_PERSON_RETENTION_DAYS)


@transaction.atomic
def record_departure(user, person: Person, *, departed: str, departed_on: date | None = None) -> Person:
    """Record that a person moved away or died; the record is kept for the retention period from that day."""
    require(user, "registry.change_person", person)
    _not_anonymised(person)
    if departed not in Person.Departure.values:
        raise ValidationError({"departed": _("Unknown value: %(value)s") % {"value": departed}})
    departed_on = departed_on or timezone.localdate()
    if departed_on > timezone.localdate():
        raise ValidationError({"departed_on": _("The date cannot be in the future.")})
    person.departed, person.departed_on = departed, departed_on
    person.save(update_fields=["departed", "departed_on", "updated_at"])
    return person


@transaction.atomic
def anonymise_person(user, person: Person, *, reason: str = "", confirmed: bool = False) -> Person:
    """Irreversibly remove what identifies a person whose purpose has ended. The row stays, so appeals, ballots,
    signatures and points entries keep pointing to it and every count and statistic is unchanged."""
    from gongzhi.accounts.models import ApiToken, User
    from gongzhi.appeals.models import Appeal

    require(user, "registry.anonymise_person", person)
    if not confirmed:
        raise ValidationError({"confirm": _("Confirm that this cannot be undone.")})
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Write down why the record is anonymised.")})
    person = Person.objects.select_for_update().get(pk=person.pk)
    if person.anonymised_at:
        raise ValidationError(_("This record has already been anonymised."))
    due = anonymisable_from(person)
    if due is None:
        raise ValidationError(_("Only the record of a person who has moved away or died can be anonymised."))
    if due > timezone.localdate():
        raise ValidationError(_("This record must be kept until %(date)s (the retention period after leaving).")
                              % {"date": due.isoformat()})
    with translation.override(settings.LANGUAGE_CODE):  # stored data is in the register's language
        placeholder = _("Anonymised resident %(number)s") % {"number": person.pk}
    person.name = placeholder[:50]
    person.id_number = person.phone = None  # save() clears both lookup hashes with them
    person.birth_date = date(person.birth_date.year, 1, 1) if person.birth_date else None
    person.tags = person.notes = ""
    person.anonymised_at = timezone.now()
    person.save()
    logins = list(User.objects.filter(person=person))
    for login in logins:
        login.username = f"anonymised-{login.pk}"
        login.full_name, login.first_name, login.last_name, login.email = placeholder[:50], "", "", ""
        login.phone, login.person, login.is_active = None, None, False
        login.set_unusable_password()  # also ends its sessions: their auth hash no longer matches
        login.save()
    ApiToken.objects.filter(user__in=logins).delete()
    Appeal.objects.filter(Q(reporter_person=person) | Q(reporter__in=logins)).update(contact_name="", contact_phone=None)
    audit.record(AuditEvent.Action.ANONYMISE, user=user, obj=person, detail=reason.strip())
    return person
