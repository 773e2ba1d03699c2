"""Every change to an appeal goes through here: one function per transition, the acting user first.

Each checks the rule (`registry.services.require`), checks that the transition is possible from the
current status, changes the appeal under a row lock, appends one AppealEvent and notifies who needs to know.
"""

import json
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gongzhi.accounts.models import RoleAssignment, User
from gongzhi.accounts.roles import STAFF_ROLES, Role
from gongzhi.core.bulk import Table
from gongzhi.core.uploads import clean_image
from gongzhi.core.crypto import lookup_hash
from gongzhi.core.validators import normalise_phone, validate_phone
from gongzhi.places import geo
from gongzhi.places.models import COMMUNITY_KINDS, DIVISION_KINDS, GRID_KINDS, SUBDISTRICT_KINDS, Kind, Place
from gongzhi.registry.services import require

from . import metrics
from .models import (TIER_ORDER, Appeal, AppealEvent, Category, DailyRollup, Notification, RollupState, SubTask,
                     Tier)

S = Appeal.Status
ACCEPT_HOURS = 2          # online submissions are accepted within 2 hours
DANGER_RESPONSE_HOURS = 2  # danger to life or property: feedback within 2 hours
DANGER_RESOLVE_HOURS = 24

# The statuses each transition may start from.
ALLOWED_FROM = {
    "accept": {S.SUBMITTED},
    "assign": {S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS},
    "start": {S.ACCEPTED, S.ASSIGNED},
    "resolve": {S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS},
    "close": {S.RESOLVED},
    "return": {S.SUBMITTED, S.ACCEPTED, S.ASSIGNED},
    "escalate": {S.SUBMITTED, S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS},
    "dispatch": {S.SUBMITTED, S.ACCEPTED, S.ASSIGNED},
    "merge": {S.SUBMITTED, S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS},
    "reject": {S.SUBMITTED, S.ACCEPTED},
    "hold": {S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS},
    "resume": {S.ON_HOLD},
    "extend": {S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS},
    # A merged appeal's reporter rates the outcome of the appeal it was merged into.
    "rate": {S.RESOLVED, S.MERGED},
}
PERM_OF = {action: "appeals.handle_appeal" for action in ALLOWED_FROM}
PERM_OF.update({"rate": "appeals.rate_appeal", "dispatch": "appeals.dispatch_appeal"})
ACTION_LABELS = {
    "submit": gettext_lazy("submit"), "accept": gettext_lazy("accept"), "assign": gettext_lazy("assign"),
    "start": gettext_lazy("start"), "resolve": gettext_lazy("resolve"), "close": gettext_lazy("close"),
    "return": gettext_lazy("return"), "escalate": gettext_lazy("escalate"), "dispatch": gettext_lazy("dispatch"),
    "merge": gettext_lazy("merge"), "reject": gettext_lazy("reject"), "hold": gettext_lazy("put on hold"),
    "resume": gettext_lazy("resume"), "rate": gettext_lazy("rate"), "reopen": gettext_lazy("reopen"),
    "overdue": gettext_lazy("overdue"), "autoclose": gettext_lazy("close as unrated"),
    "subtask": gettext_lazy("finish a sub-task"),
    "extend": gettext_lazy("extend the time limit"),
}
# 12345 practice: a complex case may get more time, with a reason, a bounded number of times.
MAX_EXTENSION_DAYS = 15
MAX_EXTENSIONS = 2


# ---- notifications: always in-app (one INSERT for all recipients); other channels (SMS, WeChat) append a
# callable `(user, appeal, message)` here.

CHANNELS = []


def notify(users, appeal, message):
    users = list({u.pk: u for u in users if u is not None}.values())
    Notification.objects.bulk_create([Notification(user=u, appeal=appeal, message=message[:300], channel="inapp")
                                      for u in users])
    for user in users:
        for channel in CHANNELS:
            channel(user, appeal, message)


def notify_reporters(appeal, message, **params):
    """Tell the reporter, and the reporter of every appeal merged into this one, each about their own appeal."""
    for own in [appeal, *appeal.merged.select_related("reporter")]:
        notify([own.reporter], own, str(message) % {"id": own.pk, **params})


def handlers_of(appeal) -> list[User]:
    """Who holds the appeal now: liaisons of the department, or staff with a role at the handling place."""
    if appeal.tier == Tier.DEPARTMENT:
        ras = RoleAssignment.objects.filter(role=Role.DEPARTMENT_LIAISON, department=appeal.department, active=True)
        return [ra.user for ra in ras.select_related("user", "place") if appeal.place.path.startswith(ra.place.path)]
    return list(User.objects.filter(roles__place=appeal.handler_place, roles__role__in=STAFF_ROLES,
                                    roles__active=True, is_active=True).distinct())


# ---- helpers

def _event(appeal, user, action, from_status, note=""):
    return AppealEvent.objects.create(appeal=appeal, actor=user if user and user.is_authenticated else None,
                                      action=action, from_status=from_status, to_status=appeal.status,
                                      tier=appeal.tier, place=appeal.handler_place, note=note)


def _locked(appeal) -> Appeal:
    return Appeal.objects.select_for_update().select_related("place", "handler_place", "category").get(pk=appeal.pk)


def _begin(user, appeal, action) -> Appeal:
    """Lock the row, check the rule and that the transition is possible now."""
    appeal = _locked(appeal)
    require(user, PERM_OF[action], appeal)
    if appeal.status not in ALLOWED_FROM[action]:
        raise ValidationError(_("An appeal that is %(status)s cannot be given the action “%(action)s”.")
                              % {"status": appeal.get_status_display(), "action": ACTION_LABELS[action]})
    return appeal


def _need(text, field="note"):
    text = (text or "").strip()
    if not text:
        raise ValidationError({field: _("Please give a reason or note.")})
    return text


def place_for_tier(place, tier):
    kinds = {Tier.GRID: GRID_KINDS, Tier.COMMUNITY: COMMUNITY_KINDS, Tier.SUBDISTRICT: SUBDISTRICT_KINDS}[tier]
    return place if place.kind in kinds else place.ancestor_of_kind(kinds)  # a grid needs no ancestor query


def _first_tier_from(place, tier):
    """The tier at or above `tier` that exists above the place (a community without grids starts at the community)."""
    for t in TIER_ORDER[TIER_ORDER.index(tier):TIER_ORDER.index(Tier.SUBDISTRICT) + 1]:
        found = place_for_tier(place, t)
        if found is not None:
            return t, found
    raise ValidationError({"place": _("This place is not inside a subdistrict or town.")})


def _hours(appeal):
    cat = appeal.category
    if appeal.urgency == Appeal.Urgency.DANGER:
        return DANGER_RESPONSE_HOURS, min(cat.resolve_hours, DANGER_RESOLVE_HOURS)
    return cat.response_hours, cat.resolve_hours


def _liaisons_exist(place, department) -> bool:
    ras = RoleAssignment.objects.filter(role=Role.DEPARTMENT_LIAISON, department=department, active=True)
    return any(place.path.startswith(p) for p in ras.values_list("place__path", flat=True))


# ---- transitions

def submit(user, *, kind, category, description, title="", place=None, latitude=None, longitude=None,
           address="", source=Appeal.Source.WEB, urgency=Appeal.Urgency.NORMAL, contact_name="",
           contact_phone="", photo=None, idempotency_key=None, reporter_person=None) -> Appeal:
    """Record an appeal. The same idempotency key returns the appeal it first created, with `replayed` set."""
    require(user, "appeals.submit_appeal")
    key = (idempotency_key or "").strip() or None
    if key and len(key) > 80:
        raise ValidationError({"idempotency_key": _("The idempotency key is too long.")})
    try:
        return _record(user, key, kind=kind, category=category, description=description, title=title, place=place,
                       latitude=latitude, longitude=longitude, address=address, source=source, urgency=urgency,
                       contact_name=contact_name, contact_phone=contact_phone, photo=photo,
                       reporter_person=reporter_person)
    except (ValidationError, IntegrityError):
        # A retry: the unique key refused the second row (or what was valid then is not now). Looked up only
        # here, so a first submission costs no extra query.
        if key and (existing := Appeal.objects.filter(idempotency_key=key).first()):
            return _same_submitter(user, existing)
        raise


def _record(user, key, *, kind, category, description, title, place, latitude, longitude, address, source, urgency,
            contact_name, contact_phone, photo, reporter_person) -> Appeal:
    errors = {}
    if kind not in Appeal.Kind.values:
        errors["kind"] = _("Unknown kind of appeal.")
    if not isinstance(category, Category) or not category.active:
        errors["category"] = _("Choose a category.")
    description = (description or "").strip()
    if not description:
        errors["description"] = _("Please describe the problem.")
    if source not in Appeal.Source.values:
        errors["source"] = _("Unknown source.")
    if urgency not in Appeal.Urgency.values:
        errors["urgency"] = _("Unknown urgency.")
    contact_phone = normalise_phone(contact_phone or "")
    if contact_phone:
        try:
            validate_phone(contact_phone)
        except ValidationError as exc:
            errors["contact_phone"] = exc.messages[0]
    if (latitude is None) != (longitude is None):
        errors["latitude"] = _("Give both latitude and longitude, or neither.")
    if errors:
        raise ValidationError(errors)
    photo = clean_image(photo)
    if latitude is not None:
        located = geo.locate(latitude, longitude)
        if located is None and place is None:
            raise ValidationError({"place": _("No grid contains this location; please choose the place.")})
        place = located or place
    if place is None and user.person_id and user.person.household_id:
        place = user.person.household.place
    if place is None:
        raise ValidationError({"place": _("Choose a place or give a location.")})
    if place.kind in {Kind.PROVINCE, Kind.CITY, Kind.DISTRICT}:
        raise ValidationError({"place": _("Choose a community, grid or building, not a whole district.")})
    reporter = user
    if source not in (Appeal.Source.WEB, Appeal.Source.API):
        # Taken by staff for someone else: link the resident's login by phone when there is one.
        require(user, "appeals.intake_appeal", place)
        reporter = User.objects.filter(phone_hash=lookup_hash(contact_phone)).first() if contact_phone else None
    tier, handler_place = _first_tier_from(place, category.default_tier
                                           if category.default_tier != Tier.DEPARTMENT else Tier.SUBDISTRICT)
    now = timezone.now()
    appeal = Appeal(kind=kind, category=category, title=(title or "").strip()[:100] or description[:30],
                    description=description, place=place, tier=tier, handler_place=handler_place,
                    latitude=latitude, longitude=longitude, address=(address or "").strip()[:200], source=source,
                    reporter=reporter, reporter_person_id=(reporter_person.pk if reporter_person else
                                                           reporter.person_id if reporter else None),
                    contact_name=(contact_name or "").strip()[:50] or (reporter.full_name if reporter else ""),
                    contact_phone=contact_phone or (reporter.phone if reporter else "") or None,
                    urgency=urgency, idempotency_key=key, created_at=now)
    response_h, resolve_h = _hours(appeal)
    appeal.accept_due = now + timedelta(hours=ACCEPT_HOURS)
    appeal.response_due = now + timedelta(hours=response_h)
    appeal.resolve_due = now + timedelta(hours=resolve_h)
    handlers = handlers_of(appeal)
    with transaction.atomic():  # appeal, history and notifications: one commit
        appeal.save()
        if photo is not None:
            appeal.photo.save(photo.name or "photo", photo, save=True)
        event = _event(appeal, user, "submit", "", "")
        notify(handlers, appeal, _("New appeal #%(id)s: %(title)s") % {"id": appeal.pk, "title": appeal.title})
    # The response shows the history and sub-tasks: hand over what was just written instead of reading it back.
    _known(appeal, events=[event], subtasks=[])
    appeal.replayed = False
    return appeal


def _known(obj, **related):
    """Mark related rows as prefetched (the way Django's prefetch_related stores them)."""
    cache = obj.__dict__.setdefault("_prefetched_objects_cache", {})
    for name, rows in related.items():
        qs = getattr(obj, name).get_queryset()
        qs._result_cache, qs._prefetch_done = list(rows), True
        cache[name] = qs


def _same_submitter(user, appeal):
    first = appeal.events.filter(action="submit").first()
    if first is None or first.actor_id != user.pk:
        raise ValidationError({"idempotency_key": _("This idempotency key was already used for another request.")})
    appeal.replayed = True
    return appeal


@transaction.atomic
def accept(user, appeal, note="") -> Appeal:
    appeal = _begin(user, appeal, "accept")
    appeal.status = S.ACCEPTED
    appeal.accepted_at = appeal.accepted_at or timezone.now()
    appeal.save()
    _event(appeal, user, "accept", S.SUBMITTED, note)
    notify([appeal.reporter], appeal, _("Your appeal #%(id)s was accepted.") % {"id": appeal.pk})
    return appeal


@transaction.atomic
def assign(user, appeal, *, assignee=None, assisting_places=(), assisting_departments=(), note="") -> Appeal:
    """Give the appeal to a worker of the handling unit; assisting units get joint-handling sub-tasks."""
    appeal = _begin(user, appeal, "assign")
    if assignee is None and not assisting_places and not assisting_departments:
        raise ValidationError({"assignee": _("Choose who handles it, or the assisting units.")})
    if assignee is not None and not (assignee.has_perm("appeals.handle_appeal", appeal)):
        raise ValidationError({"assignee": _("%(name)s does not work at the handling unit.") % {"name": assignee}})
    before = appeal.status
    if assignee is not None:
        appeal.assignee = assignee
    if not appeal.subtasks.filter(role=SubTask.Role.LEAD).exists():
        SubTask.objects.create(appeal=appeal, role=SubTask.Role.LEAD, place=appeal.handler_place,
                               department=appeal.department)
    for place in assisting_places:
        SubTask.objects.create(appeal=appeal, role=SubTask.Role.ASSIST, place=place)
    for department in {d.strip() for d in assisting_departments} - {""}:
        if not appeal.subtasks.filter(department=department, done_at__isnull=True).exists():
            SubTask.objects.create(appeal=appeal, role=SubTask.Role.ASSIST, department=department)
    if appeal.status == S.ACCEPTED:
        appeal.status = S.ASSIGNED
    appeal.save()
    names = [str(assignee)] if assignee else []
    names += [str(p) for p in assisting_places] + [d for d in assisting_departments if d.strip()]
    _event(appeal, user, "assign", before, "; ".join(filter(None, [", ".join(names), note])))
    notify([assignee], appeal, _("Appeal #%(id)s was assigned to you.") % {"id": appeal.pk})
    return appeal


@transaction.atomic
def start(user, appeal, note="") -> Appeal:
    appeal = _begin(user, appeal, "start")
    before = appeal.status
    appeal.status = S.IN_PROGRESS
    appeal.responded_at = appeal.responded_at or timezone.now()
    appeal.save()
    _event(appeal, user, "start", before, note)
    notify([appeal.reporter], appeal, _("Work on your appeal #%(id)s has started.") % {"id": appeal.pk})
    return appeal


@transaction.atomic
def resolve(user, appeal, resolution) -> Appeal:
    appeal = _begin(user, appeal, "resolve")
    resolution = _need(resolution, "resolution")
    before, now = appeal.status, timezone.now()
    appeal.status = S.RESOLVED
    appeal.resolution = resolution
    appeal.resolved_at = now
    appeal.responded_at = appeal.responded_at or now
    appeal.subtasks.filter(done_at__isnull=True).update(done_at=now)
    appeal.save()
    _event(appeal, user, "resolve", before, resolution)
    notify_reporters(appeal, gettext_lazy("Your appeal #%(id)s was resolved; please rate it."))
    return appeal


def _awaits_rating(appeal, main) -> bool:
    """A merged appeal may be rated once per resolution of the appeal it was merged into."""
    return (main.resolved_at is not None and main.status in (S.RESOLVED, S.CLOSED)
            and (appeal.rated_at is None or appeal.rated_at < main.resolved_at))


@transaction.atomic
def rate(user, appeal, rating, note="") -> Appeal:
    """The reporter rates: satisfied closes; unsatisfied reopens once to the same unit, then escalates.

    The reporter of a merged appeal rates the outcome of the appeal it was merged into: the rating is kept on
    their own appeal, and unsatisfied reopens the main appeal under the same rule while it awaits its rating."""
    appeal = _begin(user, appeal, "rate")
    if rating not in Appeal.Rating.values:
        raise ValidationError({"rating": _("Choose satisfied, basically satisfied or unsatisfied.")})
    note = (note or "").strip()[:300]
    now = timezone.now()
    label = Appeal.Rating(rating).label + (f": {note}" if note else "")
    main = _locked(appeal.root) if appeal.status == S.MERGED else appeal
    if appeal.status == S.MERGED and not _awaits_rating(appeal, main):
        raise ValidationError(_("Appeal #%(id)s, which yours was merged into, has no new outcome to rate yet.")
                              % {"id": main.pk})
    appeal.rating, appeal.rating_note, appeal.rated_at = rating, note, now
    if appeal.status == S.MERGED:
        appeal.save()
        _event(appeal, user, "rate", S.MERGED, label)
        co_note = _("Reporter of #%(id)s: %(rating)s") % {"id": appeal.pk, "rating": label}
        if rating == Appeal.Rating.UNSATISFIED and main.status == S.RESOLVED:
            _reopen(user, main, co_note, now)
        else:
            _event(main, user, "rate", main.status, co_note)
        return appeal
    if rating != Appeal.Rating.UNSATISFIED:
        appeal.status, appeal.closed_at = S.CLOSED, now
        appeal.save()
        _event(appeal, user, "rate", S.RESOLVED, label)
        return appeal
    return _reopen(user, appeal, note, now)


def _reopen(user, appeal, note, now) -> Appeal:
    """Unsatisfied: back to the same unit the first time; afterwards to the next tier when there is one."""
    appeal.resolved_at = None
    appeal.resolve_due = now + timedelta(hours=_hours(appeal)[1])
    appeal.reopen_count += 1
    appeal.status = S.ACCEPTED
    appeal.save()
    _event(appeal, user, "reopen", S.RESOLVED, note)
    if appeal.reopen_count > 1:
        try:
            return _move_up(user, appeal, _("Rated unsatisfied again."), auto=True)
        except ValidationError:
            pass  # nowhere higher (or no liaison there): the same unit works on it again
    notify(handlers_of(appeal), appeal, _("Appeal #%(id)s was rated unsatisfied and is reopened.") % {"id": appeal.pk})
    return appeal


@transaction.atomic
def close(user, appeal, note="") -> Appeal:
    """Staff close a resolved appeal the reporter has not rated (e.g. taken by phone)."""
    appeal = _begin(user, appeal, "close")
    appeal.status, appeal.closed_at = S.CLOSED, timezone.now()
    appeal.save()
    _event(appeal, user, "close", S.RESOLVED, note)
    return appeal


def _next_tier(appeal):
    index = TIER_ORDER.index(appeal.tier)
    for tier in TIER_ORDER[index + 1:]:
        if tier == Tier.DEPARTMENT:
            return tier, place_for_tier(appeal.place, Tier.SUBDISTRICT) or appeal.handler_place
        place = place_for_tier(appeal.place, tier)
        if place is not None:
            return tier, place
    return None, None


def _move_up(user, appeal, reason, department="", auto=False, action="escalate"):
    """Hand the appeal to the next tier; it must be accepted again there."""
    tier, place = _next_tier(appeal)
    if tier is None:
        raise ValidationError(_("The appeal is already with a department; it cannot go higher."))
    if tier == Tier.DEPARTMENT:
        department = (department or "").strip() or appeal.category.department
        if not department:
            raise ValidationError({"department": _("Name the department to hand this appeal to.")})
        if not _liaisons_exist(appeal.place, department):
            raise ValidationError({"department": _("No liaison of %(department)s covers this place.")
                                   % {"department": department}})
        appeal.department = department
    before = appeal.status
    appeal.tier, appeal.handler_place, appeal.status, appeal.assignee = tier, place, S.SUBMITTED, None
    appeal.accept_due = timezone.now() + timedelta(hours=ACCEPT_HOURS)
    if action == "escalate":
        appeal.escalation_count += 1
    appeal.save()
    _event(appeal, user, action, before, reason)
    notify(handlers_of(appeal), appeal, _("Appeal #%(id)s was escalated to you: %(reason)s")
           % {"id": appeal.pk, "reason": reason})
    return appeal


@transaction.atomic
def escalate(user, appeal, reason, department="") -> Appeal:
    """Grid → community → subdistrict → department, with a reason."""
    appeal = _begin(user, appeal, "escalate")
    return _move_up(user, appeal, _need(reason), department)


@transaction.atomic
def dispatch(user, appeal, department, note="") -> Appeal:
    """A community or subdistrict sends the appeal straight to a department's liaison."""
    appeal = _begin(user, appeal, "dispatch")
    department = (department or "").strip()
    if not department:
        raise ValidationError({"department": _("Name the department to hand this appeal to.")})
    if not _liaisons_exist(appeal.place, department):
        raise ValidationError({"department": _("No liaison of %(department)s covers this place.")
                               % {"department": department}})
    before = appeal.status
    appeal.tier, appeal.department, appeal.status, appeal.assignee = Tier.DEPARTMENT, department, S.SUBMITTED, None
    appeal.accept_due = timezone.now() + timedelta(hours=ACCEPT_HOURS)
    appeal.save()
    _event(appeal, user, "dispatch", before, f"{department}: {note}" if note else department)
    notify(handlers_of(appeal), appeal, _("Appeal #%(id)s was dispatched to %(department)s.")
           % {"id": appeal.pk, "department": department})
    return appeal


@transaction.atomic
def return_appeal(user, appeal, reason) -> Appeal:
    """退回: the unit says the appeal is not theirs; it goes back to the tier that dispatches."""
    appeal = _begin(user, appeal, "return")
    reason = _need(reason)
    if appeal.tier == Tier.DEPARTMENT:
        before = appeal.status
        appeal.tier, appeal.department, appeal.status, appeal.assignee = Tier.SUBDISTRICT, "", S.SUBMITTED, None
        appeal.accept_due = timezone.now() + timedelta(hours=ACCEPT_HOURS)
        appeal.save()
        _event(appeal, user, "return", before, reason)
        notify(handlers_of(appeal), appeal, _("Appeal #%(id)s was returned: %(reason)s")
               % {"id": appeal.pk, "reason": reason})
        return appeal
    if appeal.tier == Tier.SUBDISTRICT:
        raise ValidationError(_("The subdistrict cannot return an appeal; dispatch or reject it instead."))
    return _move_up(user, appeal, reason, action="return")


@transaction.atomic
def merge(user, appeal, into, note="") -> Appeal:
    """A duplicate joins the appeal it repeats; its reporter follows that one."""
    appeal = _begin(user, appeal, "merge")
    require(user, "appeals.view_appeal", into)
    if into.pk == appeal.pk or into.status not in Appeal.OPEN + (S.RESOLVED,) or into.merged_into_id:
        raise ValidationError({"into": _("Choose another open appeal to merge into.")})
    before = appeal.status
    appeal.status, appeal.merged_into, appeal.closed_at = S.MERGED, into, timezone.now()
    appeal.save()
    _event(appeal, user, "merge", before, _("Merged into #%(id)s. %(note)s") % {"id": into.pk, "note": note})
    # Duplicates merged into this one earlier follow the new main appeal too (one level, one outcome).
    for earlier in Appeal.objects.select_for_update().filter(merged_into=appeal):
        earlier.merged_into = into
        earlier.save(update_fields=["merged_into", "updated_at"])
        _event(earlier, user, "merge", S.MERGED, _("Merged into #%(id)s. %(note)s") % {"id": into.pk, "note": note})
    AppealEvent.objects.create(appeal=into, actor=user, action="merge", from_status=into.status,
                               to_status=into.status, tier=into.tier, place=into.handler_place,
                               note=_("#%(id)s merged into this appeal.") % {"id": appeal.pk})
    notify([appeal.reporter], appeal, _("Your appeal #%(id)s is handled together with #%(into)s.")
           % {"id": appeal.pk, "into": into.pk})
    return appeal


@transaction.atomic
def reject(user, appeal, reason) -> Appeal:
    appeal = _begin(user, appeal, "reject")
    reason = _need(reason)
    before = appeal.status
    appeal.status, appeal.closed_at = S.REJECTED, timezone.now()
    appeal.save()
    _event(appeal, user, "reject", before, reason)
    notify_reporters(appeal, gettext_lazy("Your appeal #%(id)s was not accepted: %(reason)s"), reason=reason)
    return appeal


@transaction.atomic
def hold(user, appeal, note) -> Appeal:
    """Pause the clock (waiting for the resident, a third party, the weather); a note is required."""
    appeal = _begin(user, appeal, "hold")
    note = _need(note)
    before = appeal.status
    appeal.status_before_hold, appeal.status, appeal.hold_started_at = before, S.ON_HOLD, timezone.now()
    appeal.save()
    _event(appeal, user, "hold", before, note)
    return appeal


@transaction.atomic
def resume(user, appeal, note) -> Appeal:
    """Restart the clock: every due time moves back by the time held."""
    appeal = _begin(user, appeal, "resume")
    note = _need(note)
    paused = timezone.now() - appeal.hold_started_at
    for field in ("accept_due", "response_due", "resolve_due"):
        if getattr(appeal, field):
            setattr(appeal, field, getattr(appeal, field) + paused)
    appeal.paused_seconds += int(paused.total_seconds())
    appeal.status, appeal.status_before_hold, appeal.hold_started_at = appeal.status_before_hold or S.ACCEPTED, "", None
    appeal.save()
    _event(appeal, user, "resume", S.ON_HOLD, note)
    return appeal


@transaction.atomic
def extend(user, appeal, days, reason) -> Appeal:
    """Give the handling unit more time to resolve (延期): the resolution deadline moves by 1–15 days, with a
    reason, at most twice; an appeal already overdue keeps that flag. Counted in the extension rate."""
    appeal = _begin(user, appeal, "extend")
    reason = _need(reason)
    try:
        days = int(days)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        raise ValidationError({"days": _("Extend by 1 to %(max)s days.") % {"max": MAX_EXTENSION_DAYS}})
    if appeal.events.filter(action="extend").count() >= MAX_EXTENSIONS:
        raise ValidationError(_("This appeal has already been extended %(n)s times; escalate it instead.")
                              % {"n": MAX_EXTENSIONS})
    appeal.resolve_due = max(appeal.resolve_due or timezone.now(), timezone.now()) + timedelta(days=days)
    appeal.save(update_fields=["resolve_due", "updated_at"])  # updated_at: the rollup refresh finds the change
    _event(appeal, user, "extend", appeal.status,
           _("%(days)s more days: %(reason)s") % {"days": days, "reason": reason})
    return appeal


@transaction.atomic
def complete_subtask(user, subtask, note) -> SubTask:
    """Joint handling: the lead or an assisting unit reports its part done, saying what it did."""
    appeal = _locked(subtask.appeal)
    subtask = SubTask.objects.select_for_update().get(pk=subtask.pk)
    subtask.appeal = appeal
    require(user, "appeals.complete_subtask", subtask)
    note = _need(note)[:300]
    if subtask.done_at:
        raise ValidationError(_("This sub-task is already done."))
    if not appeal.is_open:
        raise ValidationError(_("Appeal #%(id)s is no longer being handled.") % {"id": appeal.pk})
    subtask.done_at, subtask.done_by, subtask.note = timezone.now(), user, note
    subtask.save()
    _event(appeal, user, "subtask", appeal.status, f"{subtask}: {note}")
    if subtask.role == SubTask.Role.ASSIST:
        notify(handlers_of(appeal), appeal, _("%(unit)s finished its part of appeal #%(id)s.")
               % {"unit": subtask.department or subtask.place, "id": appeal.pk})
    return subtask


def close_unrated(now=None) -> int:
    """Resolved appeals nobody rated within GONGZHI_APPEAL_RATING_DAYS days are closed as unrated."""
    now = now or timezone.now()
    days = settings.GONGZHI_APPEAL_RATING_DAYS
    limit = now - timedelta(days=days)
    closed = 0
    for pk in Appeal.objects.filter(status=S.RESOLVED, resolved_at__lt=limit).values_list("pk", flat=True):
        with transaction.atomic():
            appeal = Appeal.objects.select_for_update().select_related("handler_place").get(pk=pk)
            if appeal.status != S.RESOLVED or appeal.resolved_at >= limit:
                continue  # rated (or reopened) while we looked
            appeal.status, appeal.closed_at = S.CLOSED, now
            appeal.save()
            _event(appeal, None, "autoclose", S.RESOLVED,
                   _("No rating within %(days)s days: closed as unrated.") % {"days": days})
            notify_reporters(appeal, gettext_lazy("Your appeal #%(id)s was closed without a rating after %(days)s "
                                                  "days."), days=days)
            closed += 1
    return closed


def can_rate(user, appeal) -> bool:
    """Is a rating by this user due: their resolved appeal, or a new outcome of the one theirs was merged into?"""
    return (appeal.status in ALLOWED_FROM["rate"] and user.has_perm(PERM_OF["rate"], appeal)
            and (appeal.status != S.MERGED or _awaits_rating(appeal, appeal.root)))


def allowed_actions(user, appeal) -> list[str]:
    """The transitions this user may take on the appeal now (for buttons and the API); each rule checked once."""
    granted = {}

    def may(perm):
        if perm not in granted:
            granted[perm] = user.has_perm(perm, appeal)
        return granted[perm]

    return [a for a, statuses in ALLOWED_FROM.items()
            if (can_rate(user, appeal) if a == "rate" else appeal.status in statuses and may(PERM_OF[a]))]


def _liaison_grants(user):
    return RoleAssignment.objects.filter(user=user, role=Role.DEPARTMENT_LIAISON, active=True) \
        .values_list("department", "place__path")


def visible_appeals(user):
    """Appeals the user may see: under their staff places, their department's, joint handling their unit
    assists with, and their own."""
    qs = Appeal.objects.select_related("category", "place", "handler_place")
    if user.is_superuser:
        return qs
    staff = user.scope.filter(qs, STAFF_ROLES).values("pk")
    q = Q(pk__in=staff) | Q(reporter=user) | Q(pk__in=_my_subtasks(user).values("appeal_id"))
    for department, path in _liaison_grants(user):
        q |= Q(department=department, place__path__startswith=path)
    return qs.filter(q)


def _my_subtasks(user):
    """Sub-tasks held by the user's units: their department (covering the place) or a place they staff."""
    qs = SubTask.objects.all()
    if user.is_superuser:
        return qs
    q = Q(pk__in=user.scope.filter(qs.filter(place__isnull=False, department=""), STAFF_ROLES,
                                   path_field="place__path").values("pk"))
    for department, path in _liaison_grants(user):
        q |= Q(department=department, appeal__place__path__startswith=path)
    return qs.filter(q)


def open_subtasks(user):
    """Unfinished joint-handling sub-tasks of the user's units on appeals still being handled."""
    return _my_subtasks(user).filter(done_at__isnull=True, appeal__status__in=Appeal.OPEN) \
        .select_related("appeal", "place").order_by("appeal__resolve_due")


def departments_for(place) -> list[str]:
    """Departments with an active liaison whose area covers the place (for dispatch choices)."""
    rows = RoleAssignment.objects.filter(role=Role.DEPARTMENT_LIAISON, active=True).exclude(department="") \
        .values_list("department", "place__path")
    return sorted({department for department, path in rows if place.path.startswith(path)})


def board(user, community):
    """The community dispatch board: open appeals under the community, grouped by tier, overdue first,
    each with the actions this user may take and whom it could be assigned to."""
    require(user, "appeals.view_board", community)
    rows = list(Appeal.objects.filter(place__path__startswith=community.path, status__in=Appeal.OPEN)
                .select_related("category", "place", "handler_place", "assignee")[:500])
    handlers = {}
    for appeal in rows:
        appeal.late = appeal.due_state == "late"  # past its current deadline (the clock of a held one is paused)
        appeal.actions = allowed_actions(user, appeal)
        if "assign" in appeal.actions:
            unit = (appeal.tier, appeal.handler_place_id, appeal.department)
            if unit not in handlers:
                handlers[unit] = handlers_of(appeal)
            appeal.assignees = handlers[unit]
    far = timezone.now() + timedelta(days=3650)
    rows.sort(key=lambda a: (not a.late, a.due or far))
    return [(tier, [a for a in rows if a.tier == tier]) for tier in TIER_ORDER]


def inbox(user):
    """Open appeals the user's units hold now, most urgent deadline first."""
    qs = Appeal.objects.filter(status__in=Appeal.OPEN).select_related("category", "place", "handler_place")
    if user.is_superuser:
        return qs.order_by("resolve_due")
    q = Q(pk__in=user.scope.filter(qs.exclude(tier=Tier.DEPARTMENT), STAFF_ROLES,
                                   path_field="handler_place__path").values("pk"))
    for department, path in _liaison_grants(user):
        q |= Q(tier=Tier.DEPARTMENT, department=department, place__path__startswith=path)
    return qs.filter(q).order_by("resolve_due")


# ---- the overdue rule, run by jobs.escalate_overdue

def flag_overdue(now=None) -> int:
    """Every open appeal past its current deadline is flagged overdue and handed to the next tier
    (with fresh time limits there); at the top it is flagged once and its handlers are reminded."""
    now = now or timezone.now()
    moved = 0
    for appeal in Appeal.objects.filter(status__in=[S.SUBMITTED, S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS]) \
            .select_related("category", "place", "handler_place"):
        due = appeal.due
        if due is None or due > now:
            continue
        with transaction.atomic():
            appeal = _locked(appeal)
            appeal.overdue = True
            reason = _("Overdue: the time limit passed at %(due)s.") % {
                "due": timezone.localtime(due).strftime("%Y-%m-%d %H:%M")}
            tier = _next_tier(appeal)[0]
            department_ok = tier != Tier.DEPARTMENT or _liaisons_exist(appeal.place, appeal.category.department)
            if tier is not None and department_ok:
                appeal.resolve_due = now + timedelta(hours=_hours(appeal)[1])
                if not appeal.responded_at:
                    appeal.response_due = now + timedelta(hours=_hours(appeal)[0])
                _move_up(None, appeal, reason, auto=True)
                moved += 1
            else:
                # Nowhere higher: push the deadline a day so the reminder is daily, not every run.
                appeal.resolve_due = max(appeal.resolve_due or now, now) + timedelta(days=1)
                if appeal.status == S.SUBMITTED:
                    appeal.accept_due = now + timedelta(days=1)
                elif not appeal.responded_at:
                    appeal.response_due = now + timedelta(days=1)
                appeal.save()
                _event(appeal, None, "overdue", appeal.status, reason)
                notify(handlers_of(appeal), appeal, _("Appeal #%(id)s is overdue.") % {"id": appeal.pk})
    return moved


# ---- the daily rollup behind the metrics (docs/appeals.md, "The daily rollup"), run by jobs.refresh_rollups

# A change committed late (its transaction was still open when the last refresh read) is found by looking back.
ROLLUP_OVERLAP = timedelta(minutes=10)
ROLLUP_CHUNK_DAYS = 8  # days rewritten together (bounds memory on a rebuild)


def refresh_rollups(now=None, rebuild=False) -> dict:
    """Bring the daily rollup up to `now`: recompute the (community, day) groups holding an appeal changed since
    the last refresh or whose deadline passed since, then every ancestor's row of those days from the rows below;
    `rebuild` recomputes everything (after a bulk load). One runner at a time (a row lock on RollupState);
    running it again changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        RollupState.objects.get_or_create(pk=1)
        state = RollupState.objects.select_for_update().get(pk=1)
        tree = metrics.Divisions()
        if rebuild or state.watermark is None:
            DailyRollup.objects.all().delete()
            span = Appeal.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
            groups, days = None, []
            if span["first"]:
                first, last = metrics.local_day(span["first"]), metrics.local_day(span["last"])
                days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
            state.rebuilt_at = now
        else:
            since = state.watermark - ROLLUP_OVERLAP
            changed = Appeal.objects.filter(Q(updated_at__gt=since) | (metrics.past_due(now) & ~metrics.past_due(since)))
            groups = {(tree.anchor(path), metrics.local_day(created))
                      for path, created in changed.order_by().values_list("place__path", "created_at")}
            days = sorted({day for _anchor, day in groups})
        rows = 0
        for n in range(0, len(days), ROLLUP_CHUNK_DAYS):
            rows += _rollup_days(tree, days[n:n + ROLLUP_CHUNK_DAYS], groups, now)
        state.watermark = now
        state.save()
        if groups is None and connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # the table was rewritten: fresh planner statistics
                cursor.execute(f"ANALYZE {DailyRollup._meta.db_table}")
    return {"groups": len(groups) if groups is not None else None, "days": len(days), "rows": rows}


def _rollup_days(tree, days, groups, now) -> int:
    """Rewrite the rows of these days: the groups' own rows (None: every place's) and their ancestors' rows,
    deepest level first, each the sum of the appeals counted at the place itself and its children's rows."""
    tops = metrics.category_tops()
    appeals = metrics.by_local_day(Appeal.objects.all())
    lo, hi = metrics.midnight(days[0]), metrics.midnight(days[-1] + timedelta(days=1))
    if groups is None:
        queries = [appeals.filter(created_at__gte=lo, created_at__lt=hi)]
    else:
        groups = {(anchor, day) for anchor, day in groups if anchor and lo <= metrics.midnight(day) < hi}
        # One query for the changed communities on the changed days of the chunk (some pairs more than needed:
        # cheaper than a query per community), one for appeals placed directly at a subdistrict or above (they
        # count there, and a parent's sum needs them too).
        under = Q()
        for anchor in sorted({anchor for anchor, _day in groups if anchor in tree.leaf}):
            under |= Q(path__startswith=tree.path[anchor])
        on_days = _on_days(sorted({day for _anchor, day in groups}))
        queries = [appeals.filter(on_days, place__in=Place.objects.filter(under))] if under else []
        queries.append(appeals.filter(on_days, place__kind__in=sorted(DIVISION_KINDS - COMMUNITY_KINDS)))
    own = {}
    for query in queries:
        for (path, day, category_id), tally in metrics.tallies(query, now, "place__path", "day", "category_id"):
            anchor = tree.anchor(path)
            if anchor is None:
                continue  # not under any division: no metrics node counts it
            metrics.add_to(own.setdefault((anchor, day), {}), tops[category_id][0], tally)
    pending = {}
    for key in (own if groups is None else groups):
        pending.setdefault(tree.depth[key[0]], set()).add(key)
    written, below = 0, {}
    for depth in range(max(pending, default=-1), -1, -1):
        level = pending.get(depth)
        if not level:
            continue
        children = below if groups is None else _rollup_rows(level)
        rows = {}
        for key in level:
            cell = rows[key] = {}
            for part in (own.get(key, {}), children.get(key, {})):
                for top, tally in part.items():
                    metrics.add_to(cell, top, tally)
            if tree.parent[key[0]]:
                pending.setdefault(depth - 1, set()).add((tree.parent[key[0]], key[1]))
        if groups is not None:
            DailyRollup.objects.filter(_by_day_and(level, "place_id")).delete()
        written += _write_rollup(tree, rows)
        below = {}
        for (pk, day), cell in rows.items():
            parent_cell = below.setdefault((tree.parent[pk], day), {})
            for top, tally in cell.items():
                metrics.add_to(parent_cell, top, tally)
    return written


def _on_days(days) -> Q:
    """Submitted on one of these local days."""
    q = Q()
    for day in days:
        q |= Q(created_at__gte=metrics.midnight(day), created_at__lt=metrics.midnight(day + timedelta(days=1)))
    return q


def _by_day_and(keys, field) -> Q:
    """(place, day) pairs as one condition: per day, `field` in that day's places."""
    by_day = {}
    for pk, day in keys:
        by_day.setdefault(day, []).append(pk)
    q = Q()
    for day, pks in by_day.items():
        q |= Q(day=day, **{f"{field}__in": sorted(pks)})
    return q


def _rollup_rows(keys) -> dict:
    """The stored rows whose (parent, day) is among `keys`, added up per (parent, day) and top category."""
    found = metrics.summed_rows(DailyRollup.objects.filter(_by_day_and(keys, "parent_id")), "parent_id", "day")
    for cell in found.values():
        if None in cell:
            cell[None].counts = {}  # the day totals: their histograms count, their counts are the categories' sum
    return found


def _write_rollup(tree, rows) -> int:
    table = Table(DailyRollup, ["place_id", "parent_id", "day", "category_id", *metrics.COUNTS, "by_kind",
                                "response_hist", "resolve_hist"])
    for (pk, day), cell in rows.items():
        total = metrics.Tally()
        for tally in cell.values():
            total.add(tally)
        # One row per top-level category, and the day's total (category null) with the histograms.
        for top, tally in [*((top, tally) for top, tally in cell.items() if top is not None), (None, total)]:
            values = tally.row(histograms=top is None)
            table.add((pk, tree.parent[pk], day, top, *(values[key] for key in metrics.COUNTS),
                       *(json.dumps(values[key]) if values[key] else "{}"
                         for key in ("by_kind", "response_hist", "resolve_hist"))))
    table.flush()
    return table.count
