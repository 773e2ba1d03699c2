"""Every state change in deliberation goes through here: one function each, acting user first."""

import math
import secrets
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gongzhi.accounts.models import RoleAssignment, User
from gongzhi.accounts.roles import Role
from gongzhi.accounts.scope import home_place
from gongzhi.core.uploads import clean_image
from gongzhi.places.models import Place
from gongzhi.registry.models import Household, Person
from gongzhi.registry.services import require

from . import counting
from .models import (Attendance, Ballot, Choice, Comment, CoSignature, Convention, ConventionVersion, Meeting,
                     MeetingDocument, Notice, Progress, Rating, Resolution, SignatureSheet, Task, Topic, Vote)
from .rules import DELIBERATION_STAFF_ROLES

DEFAULT_MOTION_PERCENT = Decimal("5")
ADULT_AGE = 18
MAX_SCAN_BYTES = 10 * 1024 * 1024
CLOSED_TOPIC = (Topic.Status.MERGED, Topic.Status.DECLINED)


# ---------------------------------------------------------------- helpers

def households_under(place: Place):
    return Household.objects.filter(place__path__startswith=place.path)


def is_under(place: Place, ancestor: Place) -> bool:
    return place.path.startswith(ancestor.path)


def adopted_version(place: Place) -> ConventionVersion | None:
    """The adopted convention nearest to the place (the place itself first, then upwards)."""
    ids = ancestor_ids(place)
    versions = (ConventionVersion.objects.select_related("convention__place")
                .filter(status=ConventionVersion.Status.ADOPTED, convention__place_id__in=ids))
    return max(versions, key=lambda v: v.convention.place.depth, default=None)


def on_one_line(a: Place, b: Place) -> bool:
    """One place lies under the other: a building meeting may take up its estate's topic, and an estate vote a
    building's."""
    return is_under(a, b) or is_under(b, a)


def ancestor_ids(place: Place) -> list[int]:
    """The place and every place above it, as primary keys (paths are "/1/5/9/")."""
    return [int(p) for p in place.path.strip("/").split("/") if p]


def motion_percent(place: Place) -> Decimal:
    version = adopted_version(place)
    return version.motion_percent if version else DEFAULT_MOTION_PERCENT


def notify(users, text, url=""):
    Notice.objects.bulk_create([Notice(recipient=u, text=text[:300], url=url) for u in {u.pk: u for u in users}.values()])


def staff_over(place: Place):
    return [ra.user for ra in RoleAssignment.objects.select_related("user")
            .filter(active=True, role__in=DELIBERATION_STAFF_ROLES, place_id__in=ancestor_ids(place))]


def _person_of(user) -> Person:
    person = getattr(user, "person", None)
    if person is None or not person.household_id:
        raise ValidationError(_("Your account is not linked to a registered household."))
    return person


def clean_scan(upload, field):
    """A scanned paper document (signature sheet, proxy authorisation, meeting paper): a PDF, or a photo that
    goes through clean_image (checked, metadata stripped)."""
    if not upload:
        return upload
    if upload.size > MAX_SCAN_BYTES:
        raise ValidationError({field: _("The file is larger than 10 MB.")})
    upload.seek(0)
    head = upload.read(5)
    upload.seek(0)
    if head == b"%PDF-":
        return upload
    try:
        return clean_image(upload, field)
    except ValidationError:
        raise ValidationError({field: _("Attach a PDF or a photo (JPEG, PNG, GIF or WebP).")}) from None


def _clean_text(value, field, message):
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: message})
    return value


# ---------------------------------------------------------------- topics (民事民提)

@transaction.atomic
def raise_topic(user, *, place: Place, title: str, body: str, signature_unit=Topic.Unit.HOUSEHOLD) -> Topic:
    require(user, "deliberation.raise_topic", place)
    title = _clean_text(title, "title", _("Please give the topic a title."))
    body = _clean_text(body, "body", _("Please describe the topic."))
    if signature_unit not in Topic.Unit.values:
        raise ValidationError({"signature_unit": _("Unknown value: %(value)s") % {"value": signature_unit}})
    percent = motion_percent(place)
    n = households_under(place).count()
    threshold = max(1, math.ceil(percent * n / 100))
    return Topic.objects.create(place=place, title=title[:100], body=body, proposer=user,
                                signature_unit=signature_unit, threshold=threshold, threshold_percent=percent,
                                households_at_opening=n)


def _lock_open_topic(topic: Topic) -> Topic:
    topic = Topic.objects.select_for_update().get(pk=topic.pk)
    if topic.status != Topic.Status.OPEN:
        raise ValidationError(_("This topic is no longer collecting signatures."))
    return topic


def _followers(topic: Topic) -> list:
    """The proposer and the online co-signers of a topic."""
    return [topic.proposer] + [sig.user for sig in topic.signatures.select_related("user") if sig.user_id]


def _reach_agenda(topic: Topic):
    if topic.status == Topic.Status.OPEN and topic.signatures.count() >= topic.threshold:
        topic.status = Topic.Status.ON_AGENDA
        topic.on_agenda_at = timezone.now()
        topic.save(update_fields=["status", "on_agenda_at"])
        text = _("Topic “%(title)s” has enough co-signatures and must be put on the agenda.") % {"title": topic.title}
        notify(_followers(topic) + staff_over(topic.place), text, f"/deliberation/topics/{topic.pk}/")


@transaction.atomic
def cosign(user, topic: Topic) -> CoSignature:
    require(user, "deliberation.cosign", topic)
    person = _person_of(user)
    topic = _lock_open_topic(topic)
    by_person = topic.signature_unit == Topic.Unit.PERSON
    already = (topic.signatures.filter(person=person) if by_person
               else topic.signatures.filter(household_id=person.household_id, person__isnull=True))
    duplicate = (_("You have already co-signed this topic.") if by_person
                 else _("Your household has already co-signed this topic."))
    if already.exists():
        raise ValidationError(duplicate)
    try:
        with transaction.atomic():
            signature = CoSignature.objects.create(topic=topic, household_id=person.household_id,
                                                   person=person if by_person else None, user=user)
    except IntegrityError:
        raise ValidationError(duplicate) from None
    _reach_agenda(topic)
    return signature


@transaction.atomic
def add_paper_signatures(user, topic: Topic, *, households=(), persons=(), scan) -> tuple[SignatureSheet, int, int]:
    """Enter a paper sheet: the households (or persons) who signed, with the scan. Returns (sheet, added, skipped
    as already signed)."""
    require(user, "deliberation.manage", topic)
    if not scan:
        raise ValidationError({"scan": _("Attach the scanned signature sheet.")})
    scan = clean_scan(scan, "scan")
    topic = _lock_open_topic(topic)
    by_person = topic.signature_unit == Topic.Unit.PERSON
    signers = list(persons if by_person else households)
    if not signers:
        raise ValidationError(_("List at least one signer from the sheet."))
    for signer in signers:
        home = (signer.household.place if signer.household_id else None) if by_person else signer.place
        if home is None or not is_under(home, topic.place):
            raise ValidationError(_("%(who)s does not live in %(place)s.") % {"who": signer, "place": topic.place})
    sheet = SignatureSheet.objects.create(topic=topic, scan=scan, entered_by=user)
    added = skipped = 0
    for signer in signers:
        exists = (topic.signatures.filter(person=signer) if by_person
                  else topic.signatures.filter(household=signer, person__isnull=True)).exists()
        if exists:
            skipped += 1
            continue
        CoSignature.objects.create(topic=topic, household=signer.household if by_person else signer,
                                   person=signer if by_person else None, user=None,
                                   channel=CoSignature.Channel.PAPER, sheet=sheet)
        added += 1
    _reach_agenda(topic)
    return sheet, added, skipped


def _tell_followers(topic: Topic, text: str):
    notify(_followers(topic), text, f"/deliberation/topics/{topic.pk}/")


@transaction.atomic
def merge_topic(user, topic: Topic, into: Topic, *, reason: str = "") -> Topic:
    """Close a duplicate topic in favour of another of the same place; the note is published with it."""
    require(user, "deliberation.manage", topic)
    topic = Topic.objects.select_for_update().get(pk=topic.pk)
    if into is None or into.pk == topic.pk or into.place_id != topic.place_id:
        raise ValidationError({"into": _("A topic can only be merged into another topic of the same place.")})
    if topic.status in CLOSED_TOPIC:
        raise ValidationError(_("This topic is already closed."))
    if into.status in CLOSED_TOPIC:
        raise ValidationError({"into": _("Topic “%(title)s” is closed.") % {"title": into.title}})
    topic.status, topic.merged_into = Topic.Status.MERGED, into
    topic.decline_reason = (reason or "").strip()
    topic.save(update_fields=["status", "merged_into", "decline_reason"])
    _tell_followers(topic, _("Topic “%(title)s” was merged into “%(into)s”.") % {"title": topic.title,
                                                                                "into": into.title})
    return topic


@transaction.atomic
def decline_topic(user, topic: Topic, *, reason: str) -> Topic:
    require(user, "deliberation.manage", topic)
    topic = Topic.objects.select_for_update().get(pk=topic.pk)
    reason = _clean_text(reason, "reason", _("Give the reason for declining, it is published."))
    if topic.status == Topic.Status.ON_AGENDA:
        raise ValidationError(_("A topic that reached its threshold must be taken up; it cannot be declined."))
    if topic.status != Topic.Status.OPEN:
        raise ValidationError(_("This topic is already closed."))
    topic.status, topic.decline_reason = Topic.Status.DECLINED, reason
    topic.save(update_fields=["status", "decline_reason"])
    _tell_followers(topic, _("Topic “%(title)s” was declined: %(reason)s") % {"title": topic.title,
                                                                              "reason": reason})
    return topic


def topics_near(user):
    home = home_place(user)
    if home is None:
        return Topic.objects.none()
    return Topic.objects.filter(place_id__in=ancestor_ids(home)).select_related("place")


@transaction.atomic
def comment(user, topic: Topic, *, text: str) -> Comment:
    """Online deliberation (网上议事): anyone who may see the topic writes in its thread until it is closed."""
    require(user, "deliberation.view", topic)
    text = _clean_text(text, "text", _("The comment is empty."))
    if len(text) > 2000:
        raise ValidationError({"text": _("Keep the comment under 2000 characters.")})
    if topic.status in CLOSED_TOPIC:
        raise ValidationError(_("This topic is already closed."))
    return Comment.objects.create(topic=topic, author=user, text=text)


# ---------------------------------------------------------------- meetings (民议)

def _meeting_fields(place, kind, title, starts_at, location, online_url, agenda) -> dict:
    if kind not in Meeting.Kind.values:
        raise ValidationError({"kind": _("Unknown value: %(value)s") % {"value": kind}})
    title = _clean_text(title, "title", _("Please give the meeting a title."))
    if not starts_at:
        raise ValidationError({"starts_at": _("Say when the meeting starts.")})
    if not (location or "").strip() and not (online_url or "").strip():
        raise ValidationError({"location": _("Give a location or an online link.")})
    for topic in agenda:
        if not on_one_line(topic.place, place):
            raise ValidationError({"agenda": _("Topic “%(title)s” belongs to another place.") % {"title": topic.title}})
        if topic.status in CLOSED_TOPIC:
            raise ValidationError({"agenda": _("Topic “%(title)s” is closed.") % {"title": topic.title}})
    return {"kind": kind, "title": title[:100], "starts_at": starts_at, "location": (location or "").strip(),
            "online_url": (online_url or "").strip()}


def _take_up(agenda):
    for topic in agenda:
        if topic.status == Topic.Status.OPEN:  # staff may take up a topic before it reaches the threshold
            Topic.objects.filter(pk=topic.pk).update(status=Topic.Status.ON_AGENDA, on_agenda_at=timezone.now())


@transaction.atomic
def convene_meeting(user, *, place: Place, kind: str, title: str, starts_at, location="", online_url="",
                    agenda=(), invitees=(), invitee_note="") -> Meeting:
    require(user, "deliberation.manage", place)
    fields = _meeting_fields(place, kind, title, starts_at, location, online_url, agenda)
    meeting = Meeting.objects.create(place=place, invitee_note=invitee_note, convened_by=user, **fields)
    meeting.agenda.set(agenda)
    meeting.invitees.set(invitees)
    _take_up(agenda)
    if invitees:
        notify(invitees, _("You are invited to %(title)s.") % {"title": meeting.title},
               f"/deliberation/meetings/{meeting.pk}/")
    return meeting


@transaction.atomic
def update_meeting(user, meeting: Meeting, *, kind: str, title: str, starts_at, location="", online_url="",
                   agenda=()) -> Meeting:
    """Change time, place or agenda; the invitees are told."""
    require(user, "deliberation.manage", meeting)
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    if meeting.minutes:
        raise ValidationError(_("The meeting has minutes; it can no longer be changed."))
    fields = _meeting_fields(meeting.place, kind, title, starts_at, location, online_url, agenda)
    for name, value in fields.items():
        setattr(meeting, name, value)
    meeting.save(update_fields=list(fields))
    meeting.agenda.set(agenda)
    _take_up(agenda)
    notify(meeting.invitees.all(), _("%(title)s has changed: please check the time and place.")
           % {"title": meeting.title}, f"/deliberation/meetings/{meeting.pk}/")
    return meeting


# Who a meeting can invite by rule: the label and how to find the logins under a place.
INVITE_RULES = {
    "representatives": gettext_lazy("All representatives and building heads"),
    "households": gettext_lazy("All households (their resident logins)"),
    "owners": gettext_lazy("All owner households (their resident logins)"),
    "staff": gettext_lazy("Community staff over the place"),
}


def invitees_by_rule(rule: str, place: Place):
    """The logins a rule names under a place (e.g. all representatives of the community, all households of
    building 3). Households without a login are reached on paper, not here."""
    under = {"place__path__startswith": place.path}
    if rule == "representatives":
        ids = RoleAssignment.objects.filter(active=True, role__in=[Role.REPRESENTATIVE, Role.BUILDING_HEAD], **under
                                            ).values("user_id")
        return User.objects.filter(pk__in=ids, is_active=True)
    if rule in ("households", "owners"):
        # Plain joins, not `household__in=<subquery>`: PostgreSQL picked a quadratic plan for the subquery on
        # freshly loaded tables (no statistics yet inside the loading transaction).
        users = User.objects.filter(person__household__place__path__startswith=place.path, is_active=True)
        return users.filter(person__household__tenure=Household.Tenure.OWNER) if rule == "owners" else users
    if rule == "staff":
        return User.objects.filter(pk__in=[u.pk for u in staff_over(place)], is_active=True)
    raise ValidationError({"rule": _("Unknown value: %(value)s") % {"value": rule}})


@transaction.atomic
def invite_by_rule(user, meeting: Meeting, *, rule: str, place: Place) -> int:
    """Add everyone a rule names under `place` (at or under the meeting's place) and send them the notice.
    Returns how many were newly invited."""
    require(user, "deliberation.manage", meeting)
    if place is None or not is_under(place, meeting.place):
        raise ValidationError({"place": _("Choose a place at or under %(place)s.") % {"place": meeting.place}})
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    already = set(meeting.invitees.values_list("pk", flat=True))
    new = [u for u in invitees_by_rule(rule, place) if u.pk not in already]
    if not new:
        raise ValidationError(_("Nobody new to invite under this rule."))
    meeting.invitees.add(*new)
    note = f"{INVITE_RULES[rule]} · {place.name}"
    meeting.invitee_note = "；".join(filter(None, [meeting.invitee_note, note]))[:300]
    meeting.save(update_fields=["invitee_note"])
    notify(new, _("You are invited to %(title)s.") % {"title": meeting.title}, f"/deliberation/meetings/{meeting.pk}/")
    return len(new)


@transaction.atomic
def attach_document(user, meeting: Meeting, *, title: str, file) -> MeetingDocument:
    require(user, "deliberation.manage", meeting)
    title = _clean_text(title, "title", _("Give the document a title."))
    if not file:
        raise ValidationError({"file": _("Choose a file.")})
    return MeetingDocument.objects.create(meeting=meeting, title=title[:100], file=clean_scan(file, "file"),
                                          uploaded_by=user)


@transaction.atomic
def check_in(user, meeting: Meeting, *, name: str = "", code: str | None = None) -> Attendance:
    """Self check-in (no name) by a resident or invitee, from the page or by scanning the venue's QR code (`code`);
    staff record someone else by name."""
    if code is not None and not secrets.compare_digest(code, meeting.checkin_code):
        raise ValidationError(_("This check-in code is not valid for this meeting."))
    if name:
        require(user, "deliberation.manage", meeting)
        name = name.strip()
        exists = meeting.attendance.filter(name=name, user__isnull=True).exists()
        who = None
    else:
        if not (user.has_perm("deliberation.view", meeting) or meeting.invitees.filter(pk=user.pk).exists()):
            require(user, "deliberation.view", meeting)
        who, name = user, (str(user.person) if getattr(user, "person", None) else str(user))
        exists = meeting.attendance.filter(user=user).exists()
    if exists:
        raise ValidationError(_("%(name)s has already checked in.") % {"name": name})
    try:
        with transaction.atomic():
            return Attendance.objects.create(meeting=meeting, user=who, name=name[:50],
                                             method=Attendance.Method.STAFF if who is None else Attendance.Method.SELF,
                                             recorded_by=user)
    except IntegrityError:
        raise ValidationError(_("%(name)s has already checked in.") % {"name": name}) from None


@transaction.atomic
def record_minutes(user, meeting: Meeting, *, minutes: str) -> Meeting:
    require(user, "deliberation.manage", meeting)
    meeting.minutes = _clean_text(minutes, "minutes", _("The minutes are empty."))
    meeting.minutes_by, meeting.minutes_at = user, timezone.now()
    meeting.save(update_fields=["minutes", "minutes_by", "minutes_at"])
    return meeting


# ---------------------------------------------------------------- votes (民决)

def voter_key(household: Household | None = None, person: Person | None = None) -> str:
    return f"p:{person.pk}" if person is not None else f"h:{household.pk}"


def electorate_for(place: Place, unit: str) -> dict[str, str]:
    """Snapshot of who may vote: voter key → floor area (as a string, exact)."""
    def area(h):
        return str(h.area_m2) if h.area_m2 is not None else "0"
    if unit == counting.PERSON:
        today = date.today()
        cutoff = today.replace(year=today.year - ADULT_AGE) if not (today.month == 2 and today.day == 29) \
            else date(today.year - ADULT_AGE, 2, 28)
        persons = Person.objects.filter(household__place__path__startswith=place.path).exclude(birth_date__gt=cutoff)
        # Persons with no recorded birth date are included; minors (known birth date) are not.
        return {voter_key(person=p): "0" for p in persons.only("pk")}
    households = households_under(place)
    if unit == counting.OWNER:
        households = households.filter(tenure=Household.Tenure.OWNER)
    return {voter_key(household=h): area(h) for h in households}


@transaction.atomic
def open_vote(user, *, place: Place, title: str, rules, topic: Topic | None = None, meeting: Meeting | None = None,
              convention_version: ConventionVersion | None = None, secret: bool = False) -> Vote:
    require(user, "deliberation.manage", place)
    title = _clean_text(title, "title", _("Please give the vote a title."))
    try:
        vote_rules = rules if isinstance(rules, counting.VoteRules) else counting.VoteRules.from_json(rules)
    except (counting.RulesError, TypeError, ValueError) as exc:
        raise ValidationError({"rules": _("The vote rules are not valid: %(error)s") % {"error": exc}}) from None
    if vote_rules.silent_majority:
        version = adopted_version(place)
        if version is None or not version.silent_majority:
            raise ValidationError({"rules": _("“Silent majority follows” may only be used where the adopted "
                                              "convention of this place provides for it.")})
    for obj in (topic, meeting):
        if obj is not None and not on_one_line(obj.place, place):
            raise ValidationError(_("“%(title)s” belongs to another place.") % {"title": obj.title})
    if convention_version is not None:
        convention_version = ConventionVersion.objects.select_for_update().get(pk=convention_version.pk)
        if not convention_version.legal_opinion.strip() or convention_version.status != ConventionVersion.Status.REVIEWED:
            raise ValidationError(_("A convention can only be put to the vote after its legal review."))
        if not is_under(place, convention_version.convention.place):
            raise ValidationError(_("“%(title)s” belongs to another place.") % {"title": convention_version})
        convention_version.status = ConventionVersion.Status.VOTING
        convention_version.save(update_fields=["status"])
    electorate = electorate_for(place, vote_rules.voter_unit)
    if not electorate:
        raise ValidationError(_("Nobody registered under %(place)s may vote in this vote.") % {"place": place})
    if vote_rules.weighting == counting.AREA or vote_rules.owners_assembly:
        if any(Decimal(a) <= 0 for a in electorate.values()):
            raise ValidationError(_("Some households have no floor area in the register; complete it before an "
                                    "area-weighted vote."))
    vote = Vote.objects.create(place=place, title=title[:100], topic=topic, meeting=meeting,
                               convention_version=convention_version, rules=vote_rules.to_json(),
                               electorate=electorate, secret=secret, opened_by=user)
    return vote


@transaction.atomic
def cast_ballot(user, vote: Vote, option: str, *, channel=Ballot.Channel.ONLINE, household: Household | None = None,
                person: Person | None = None, proxy_name="", authorisation=None) -> Ballot:
    """One ballot per voter unit across all channels. Online: the user votes for their own household (or self);
    paper and proxy ballots are entered by staff naming the household or person; a proxy ballot needs the proxy's
    name and the scanned written authorisation (委托书)."""
    if channel == Ballot.Channel.ONLINE:
        require(user, "deliberation.vote", vote)
        me = _person_of(user)
        household, person = me.household, me
        authorisation = None
    elif channel in (Ballot.Channel.PAPER, Ballot.Channel.PROXY):
        require(user, "deliberation.manage", vote)
        if channel == Ballot.Channel.PROXY:
            if not (proxy_name or "").strip():
                raise ValidationError({"proxy_name": _("Name the proxy who voted.")})
            if not authorisation:
                raise ValidationError({"authorisation": _("Attach the signed written authorisation of the proxy.")})
            authorisation = clean_scan(authorisation, "authorisation")
        else:
            authorisation = None
        if person is not None:
            household = person.household
    else:
        raise ValidationError({"channel": _("Unknown value: %(value)s") % {"value": channel}})
    vote = Vote.objects.get(pk=vote.pk)
    if vote.status != Vote.Status.OPEN:
        raise ValidationError(_("This vote is closed."))
    rules = vote.vote_rules
    if option not in rules.options:
        raise ValidationError({"option": _("Unknown value: %(value)s") % {"value": option}})
    if rules.voter_unit == counting.PERSON:
        if person is None:
            raise ValidationError(_("This vote is by person; name the person who voted."))
        key = voter_key(person=person)
    else:
        if household is None:
            raise ValidationError(_("Name the household that voted."))
        key = voter_key(household=household)
    if key not in vote.electorate:
        raise ValidationError(_("%(who)s is not entitled to vote in this vote.")
                              % {"who": person if rules.voter_unit == counting.PERSON else household})
    duplicate = (_("This person has already voted; each person votes once.") if rules.voter_unit == counting.PERSON
                 else _("This household has already voted; each household votes once."))
    if Ballot.objects.filter(vote=vote, voter_key=key).exists():
        raise ValidationError(duplicate)
    try:
        with transaction.atomic():
            ballot = Ballot.objects.create(vote=vote, voter_key=key, household=household,
                                           person=person if rules.voter_unit == counting.PERSON else None,
                                           channel=channel, proxy_name=(proxy_name or "").strip()[:50],
                                           authorisation=authorisation or "", cast_by=user,
                                           choice="" if vote.secret else option)
            Choice.objects.create(vote=vote, option=option, area=Decimal(vote.electorate[key]))
    except IntegrityError:
        raise ValidationError(duplicate) from None
    return ballot


def not_voted(user, vote: Vote) -> list:
    """Staff only: the households (or persons) of the frozen electorate who have no ballot yet, to visit them.
    Who voted is public to staff even in a secret ballot; how they voted is not stored."""
    require(user, "deliberation.manage", vote)
    missing = set(vote.electorate) - set(vote.ballots.values_list("voter_key", flat=True))
    ids = {kind: [int(k[2:]) for k in missing if k.startswith(kind + ":")] for kind in ("h", "p")}
    if vote.vote_rules.voter_unit == counting.PERSON:
        return list(Person.objects.filter(pk__in=ids["p"]).select_related("household__place")
                    .order_by("household__place__path", "household__door_no", "pk"))
    return list(Household.objects.filter(pk__in=ids["h"]).select_related("place").prefetch_related("members")
                .order_by("place__path", "door_no"))


def my_votes(user) -> list[tuple[Vote, bool]]:
    """The votes the user's household (or the user) is in the electorate of, newest first, with whether that
    voter unit has voted."""
    person = getattr(user, "person", None)
    home = home_place(user)
    if home is None:
        return []
    keys = {voter_key(person=person), voter_key(household=person.household)}
    votes = Vote.objects.filter(place_id__in=ancestor_ids(home)).select_related("place")
    mine = [v for v in votes if keys & set(v.electorate)]
    voted = set(Ballot.objects.filter(vote__in=mine, voter_key__in=keys).values_list("vote_id", flat=True))
    return [(v, v.pk in voted) for v in mine]


def recount(vote: Vote) -> counting.Result:
    """Recompute the result from the stored ballots and choices alone."""
    voted = list(vote.ballots.values_list("voter_key", flat=True))
    choices = [(c.option, c.area) for c in vote.choices.all()]
    return counting.tally(vote.vote_rules, vote.electorate, voted, choices)


@transaction.atomic
def close_vote(user, vote: Vote) -> Vote:
    require(user, "deliberation.manage", vote)
    vote = Vote.objects.select_for_update().get(pk=vote.pk)
    if vote.status != Vote.Status.OPEN:
        raise ValidationError(_("This vote is closed."))
    result = recount(vote)
    vote.result, vote.passed = result.to_json(), result.passed
    vote.status, vote.closed_by, vote.closed_at = Vote.Status.CLOSED, user, timezone.now()
    vote.save(update_fields=["result", "passed", "status", "closed_by", "closed_at"])
    if vote.convention_version_id:
        version = ConventionVersion.objects.select_for_update().get(pk=vote.convention_version_id)
        if result.passed:
            ConventionVersion.objects.filter(convention=version.convention, status=ConventionVersion.Status.ADOPTED
                                             ).update(status=ConventionVersion.Status.SUPERSEDED)
            version.status, version.adopted_at = ConventionVersion.Status.ADOPTED, timezone.now()
        else:
            version.status = ConventionVersion.Status.REJECTED
        version.save(update_fields=["status", "adopted_at"])
    return vote


# ---------------------------------------------------------------- resolutions (民办, 民评)

@transaction.atomic
def create_resolution(user, *, place: Place, title: str, text: str, vote: Vote | None = None) -> Resolution:
    require(user, "deliberation.manage", place)
    title = _clean_text(title, "title", _("Please give the resolution a title."))
    text = _clean_text(text, "text", _("Write down what was resolved."))
    if vote is not None:
        if vote.status != Vote.Status.CLOSED or not vote.passed:
            raise ValidationError(_("Only a vote that has closed and passed can become a resolution."))
        if Resolution.objects.filter(vote=vote).exists():
            raise ValidationError(_("This vote already has a resolution."))
    return Resolution.objects.create(place=place, vote=vote, title=title[:100], text=text, created_by=user)


@transaction.atomic
def add_task(user, resolution: Resolution, *, title: str, owner_name: str, due, owner=None) -> Task:
    require(user, "deliberation.manage", resolution)
    title = _clean_text(title, "title", _("Describe the task."))
    owner_name = _clean_text(owner_name or (str(owner) if owner else ""), "owner_name",
                             _("Say who is responsible."))
    if not due:
        raise ValidationError({"due": _("Set a due date.")})
    return Task.objects.create(resolution=resolution, title=title[:100], owner=owner, owner_name=owner_name[:50],
                               due=due)


@transaction.atomic
def report_progress(user, resolution: Resolution, *, text: str, task: Task | None = None, done=False) -> Progress:
    if not (user.has_perm("deliberation.manage", resolution) or (task is not None and task.owner_id == user.pk)):
        require(user, "deliberation.manage", resolution)
    text = _clean_text(text, "text", _("Describe the progress."))
    if task is not None:
        if task.resolution_id != resolution.pk:
            raise ValidationError(_("That task belongs to another resolution."))
        task = Task.objects.select_for_update().get(pk=task.pk)
        just_done = done and task.done_at is None
        if just_done:
            task.done_at = timezone.now()
            task.save(update_fields=["done_at"])
    elif done:
        raise ValidationError({"task": _("Choose the task that is done.")})
    progress = Progress.objects.create(resolution=resolution, task=task, text=text, by=user)
    if task is not None and just_done and resolution_done(resolution):  # the last task, once
        affected = invitees_by_rule("households", resolution.place)
        notify(affected, _("“%(title)s” has been carried out: please rate the result.") % {"title": resolution.title},
               f"/deliberation/resolutions/{resolution.pk}/")
    return progress


def resolution_done(resolution: Resolution) -> bool:
    """Carried out (民办 done): it has tasks and every one is done."""
    tasks = list(resolution.tasks.values_list("done_at", flat=True))
    return bool(tasks) and all(tasks)


@transaction.atomic
def rate(user, resolution: Resolution, *, score: int, comment: str = "") -> Rating:
    require(user, "deliberation.rate", resolution)
    try:
        score = int(score)
    except (TypeError, ValueError):
        score = 0
    if not 1 <= score <= 5:
        raise ValidationError({"score": _("Choose a score from 1 to 5.")})
    if not resolution_done(resolution):
        raise ValidationError(_("The resolution can be rated once its tasks are done."))
    if Rating.objects.filter(resolution=resolution, user=user).exists():
        raise ValidationError(_("You have already rated this resolution."))
    try:
        with transaction.atomic():
            return Rating.objects.create(resolution=resolution, user=user, score=score, comment=(comment or "")[:300])
    except IntegrityError:
        raise ValidationError(_("You have already rated this resolution.")) from None


# ---------------------------------------------------------------- conventions (村规民约, 居民公约, 管理规约)

@transaction.atomic
def create_convention(user, *, place: Place, kind: str, title: str) -> Convention:
    require(user, "deliberation.manage", place)
    if kind not in Convention.Kind.values:
        raise ValidationError({"kind": _("Unknown value: %(value)s") % {"value": kind}})
    title = _clean_text(title, "title", _("Please give the convention a title."))
    return Convention.objects.create(place=place, kind=kind, title=title[:100])


@transaction.atomic
def draft_version(user, convention: Convention, *, text: str, silent_majority=False,
                  motion_percent=DEFAULT_MOTION_PERCENT, motion_clause="", silent_majority_clause=""
                  ) -> ConventionVersion:
    require(user, "deliberation.manage", convention)
    text = _clean_text(text, "text", _("The convention text is empty."))
    try:
        motion_percent = Decimal(str(motion_percent))
    except ArithmeticError:
        motion_percent = Decimal("-1")
    if not Decimal("0") < motion_percent <= Decimal("100"):
        raise ValidationError({"motion_percent": _("The motion threshold must be between 0 and 100 percent.")})
    if silent_majority and not (silent_majority_clause or "").strip():
        raise ValidationError({"silent_majority_clause": _("Name the clause that provides for the silent majority "
                                                           "rule, e.g. 第八条.")})
    convention = Convention.objects.select_for_update().get(pk=convention.pk)
    number = (convention.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    return ConventionVersion.objects.create(convention=convention, number=number, text=text,
                                            silent_majority=silent_majority, motion_percent=motion_percent,
                                            motion_clause=(motion_clause or "").strip()[:30],
                                            silent_majority_clause=(silent_majority_clause or "").strip()[:30],
                                            created_by=user)


@transaction.atomic
def legal_review(user, version: ConventionVersion, *, opinion: str) -> ConventionVersion:
    require(user, "deliberation.legal_review", version)
    opinion = _clean_text(opinion, "opinion", _("Write the legal review opinion."))
    version = ConventionVersion.objects.select_for_update().get(pk=version.pk)
    if version.status not in (ConventionVersion.Status.DRAFT, ConventionVersion.Status.REVIEWED):
        raise ValidationError(_("Only a draft can be reviewed."))
    version.legal_opinion, version.reviewed_by, version.reviewed_at = opinion, user, timezone.now()
    version.status = ConventionVersion.Status.REVIEWED
    version.save(update_fields=["legal_opinion", "reviewed_by", "reviewed_at", "status"])
    return version
