"""A resident's right to see and take away what Gongzhi holds about them (PIPL arts. 44–45): gather, JSON, xlsx."""

import io
import json
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook

from gongzhi.accounts.roles import Role
from gongzhi.core import audit
from gongzhi.core.models import AuditEvent


@dataclass
class Section:
    key: str
    title: str
    columns: list[tuple[str, str]]  # (key, label)
    rows: list[dict] = field(default_factory=list)

    @property
    def cells(self):
        """Rows as (label, value) pairs, for the page."""
        return [[(label, row[key]) for key, label in self.columns] for row in self.rows]

    def add(self, **values):
        self.rows.append({key: _plain(values.get(key)) for key, _label in self.columns})


def _plain(value):
    """Values as a person reads them: local time, labels, text."""
    if value is None:
        return ""
    if hasattr(value, "tzinfo") and hasattr(value, "hour"):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return value if isinstance(value, (int, float)) else str(value)


def _cols(*pairs):
    return [(key, str(label)) for key, label in pairs]


L = gettext_lazy


def held_about(user) -> list[Section]:
    """Everything held about the user and their register record, read from each app's tables."""
    from gongzhi.appeals.models import Appeal
    from gongzhi.deliberation.models import Ballot, CoSignature, Topic
    from gongzhi.points.models import Entry

    person = user.person
    household = person.household if person is not None else None
    sections = []

    account = Section("account", _("Login"), _cols(("username", L("Username")), ("full_name", L("Name")),
                                                   ("phone", L("Phone")), ("date_joined", L("Registered at")),
                                                   ("last_login", L("Last login")), ("roles", L("Roles"))))
    roles = user.roles.filter(active=True).select_related("place")
    account.add(username=user.username, full_name=user.full_name, phone=user.phone, date_joined=user.date_joined,
                last_login=user.last_login,
                roles="; ".join(f"{Role(r.role).label} · {r.place.name}" for r in roles))
    sections.append(account)

    if person is not None:
        record = Section("person", _("Register record"), _cols(
            ("name", L("Name")), ("gender", L("Gender")), ("birth_date", L("Birth date")),
            ("id_number", L("ID number")), ("phone", L("Phone")), ("relation", L("Relation to head")),
            ("ethnicity", L("Ethnicity")), ("political", L("Political status")), ("tags", L("Special groups")),
            ("notes", L("Notes"))))
        record.add(name=person.name, gender=person.get_gender_display(), birth_date=person.birth_date,
                   id_number=person.id_number, phone=person.phone, relation=person.get_relation_display(),
                   ethnicity=person.ethnicity, political=person.get_political_display(), tags=person.tags,
                   notes=person.notes)
        sections.append(record)

    if household is not None:
        home = Section("household", _("Household"), _cols(
            ("address", L("Address")), ("door_no", L("Room/door number")), ("area_m2", L("Floor area (m²)")),
            ("tenure", L("Tenure")), ("members", L("Members"))))
        members = "; ".join(f"{m.name} ({m.get_relation_display()})" for m in household.members.all())
        home.add(address=household.place.full_name(), door_no=household.door_no,
                 area_m2=float(household.area_m2) if household.area_m2 is not None else None,
                 tenure=household.get_tenure_display(), members=members)
        sections.append(home)
        visits = Section("visits", _("Door-knocking visits to my household"), _cols(
            ("visited_at", L("Visited at")), ("met", L("Who was met")), ("findings", L("Findings")),
            ("needs", L("Needs raised"))))
        for v in household.visits.all():
            visits.add(visited_at=v.visited_at, met=v.met, findings=v.findings, needs=v.needs)
        sections.append(visits)

    appeals = Section("appeals", _("Appeals I raised"), _cols(
        ("number", L("Number")), ("submitted_at", L("Submitted at")), ("kind", L("Kind")), ("title", L("Title")),
        ("description", L("Description")), ("address", L("Address")), ("contact_name", L("Contact name")),
        ("contact_phone", L("Contact phone")), ("status", L("Status")), ("resolution", L("What was done")),
        ("rating", L("Rating"))))
    mine = Q(reporter=user) | (Q(reporter_person=person) if person is not None else Q(pk__in=[]))
    for a in Appeal.objects.filter(mine).order_by("created_at"):
        appeals.add(number=a.pk, submitted_at=a.created_at, kind=a.get_kind_display(), title=a.title,
                    description=a.description, address=a.address, contact_name=a.contact_name,
                    contact_phone=a.contact_phone, status=a.get_status_display(), resolution=a.resolution,
                    rating=a.get_rating_display())
    sections.append(appeals)

    points = Section("points", _("Points ledger"), _cols(
        ("at", L("Time")), ("account", L("Account")), ("amount", L("Points")), ("balance_after", L("Balance after")),
        ("reason", L("Reason"))))
    holders = Q(account__person=person) | Q(account__household=household) if person is not None else Q(pk__in=[])
    for e in Entry.objects.filter(holders).select_related("account").order_by("created_at", "id"):
        points.add(at=e.created_at, account=e.account.get_kind_display(), amount=e.amount,
                   balance_after=e.balance_after, reason=e.reason)
    sections.append(points)

    topics = Section("topics", _("Topics I raised"), _cols(
        ("raised_at", L("Raised at")), ("title", L("Title")), ("body", L("Description")), ("status", L("Status"))))
    for t in Topic.objects.filter(proposer=user).order_by("created_at"):
        topics.add(raised_at=t.created_at, title=t.title, body=t.body, status=t.get_status_display())
    sections.append(topics)

    signed = Section("signatures", _("Topics I co-signed"), _cols(
        ("signed_at", L("Signed at")), ("topic", L("Topic")), ("channel", L("Channel"))))
    by_me = Q(user=user) | (Q(person=person) if person is not None else Q(pk__in=[]))
    for s in CoSignature.objects.filter(by_me).select_related("topic").order_by("created_at"):
        signed.add(signed_at=s.created_at, topic=s.topic.title, channel=s.get_channel_display())
    sections.append(signed)

    ballots = Section("ballots", _("Votes cast"), _cols(
        ("cast_at", L("Cast at")), ("vote", L("Vote")), ("channel", L("Channel")), ("choice", L("Choice"))))
    voted = Q(cast_by=user, channel=Ballot.Channel.ONLINE) | (Q(person=person) if person is not None else Q(pk__in=[]))
    if household is not None:
        voted |= Q(household=household, person__isnull=True)
    for b in Ballot.objects.filter(voted).select_related("vote").order_by("cast_at"):
        ballots.add(cast_at=b.cast_at, vote=b.vote.title, channel=b.get_channel_display(),
                    choice="" if b.vote.secret else b.choice)  # a secret ballot's choice is not kept with the voter
    sections.append(ballots)

    views = Section("access_log", _("Who opened my full record"), _cols(
        ("at", L("Time")), ("by", L("By")), ("action", L("Action"))))
    if person is not None:
        seen = AuditEvent.objects.filter(object_type="registry.person", object_id=str(person.pk)).order_by("seq")
        for event in seen:
            views.add(at=event.at, by=event.username, action=event.get_action_display())
    sections.append(views)
    return sections


def as_json(sections: list[Section]) -> bytes:
    body = {"generated_at": _plain(timezone.now()), **{s.key: s.rows for s in sections}}
    return json.dumps(body, ensure_ascii=False, indent=2).encode()


def as_xlsx(sections: list[Section]) -> bytes:
    wb = Workbook(write_only=True)
    for s in sections:
        ws = wb.create_sheet(s.title[:31])
        ws.append([label for _key, label in s.columns])
        for row in s.rows:
            ws.append([row[key] for key, _label in s.columns])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


FORMATS = {"json": as_json, "xlsx": as_xlsx}


def download(user, fmt: str, request=None) -> bytes:
    """The user's own data as a file; each download is written to the audit trail."""
    if fmt not in FORMATS:
        raise ValueError(fmt)
    data = FORMATS[fmt](held_about(user))
    audit.record(AuditEvent.Action.EXPORT, request=request, user=user,
                 obj=user.person if user.person is not None else user, detail=f"own personal data ({fmt})")
    return data
