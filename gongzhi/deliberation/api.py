"""API for deliberation: topics, co-signing and comments, meetings and check-in, votes and ballots, resolutions and
tasks, conventions, notices, the public results."""

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from gongzhi.accounts.models import User
from gongzhi.places.models import Place
from gongzhi.registry.models import Household
from gongzhi.registry.services import require

from . import services
from .models import Convention, ConventionVersion, Meeting, Notice, Resolution, Task, Topic, Vote

router = Router(tags=["deliberation"])


class TopicOut(Schema):
    id: int
    place_id: int
    title: str
    body: str
    status: str
    threshold: int
    signatures: int

    @staticmethod
    def resolve_signatures(obj):
        return obj.signatures.count()


class TopicIn(Schema):
    place_id: int
    title: str
    body: str


class MeetingFields(Schema):
    """What a meeting is: kind, title, time, place or link, agenda (topic ids)."""
    kind: str
    title: str
    starts_at: datetime
    location: str = ""
    online_url: str = ""
    agenda: list[int] = []


class MeetingIn(MeetingFields):
    place_id: int


class MeetingOut(Schema):
    id: int
    place_id: int
    kind: str
    title: str
    starts_at: datetime
    location: str
    online_url: str
    minutes: str
    invitee_note: str
    agenda: list[int]
    invitees: int

    @staticmethod
    def resolve_agenda(obj):
        return list(obj.agenda.values_list("pk", flat=True))

    @staticmethod
    def resolve_invitees(obj):
        return obj.invitees.count()


class InviteIn(Schema):
    rule: str
    place_id: int


class Invited(Schema):
    invited: int


class CheckInIn(Schema):
    code: str | None = None
    name: str = ""


class CommentIn(Schema):
    text: str


class CommentOut(Schema):
    id: int
    author: str
    text: str
    created_at: datetime

    @staticmethod
    def resolve_author(obj):
        return str(obj.author)


class MergeIn(Schema):
    into_id: int
    reason: str = ""


class DeclineIn(Schema):
    reason: str


class VoteIn(Schema):
    place_id: int
    title: str
    rules: dict
    topic_id: int | None = None
    meeting_id: int | None = None
    secret: bool = False


class VoteOut(Schema):
    id: int
    place_id: int
    title: str
    status: str
    rules: dict
    secret: bool
    passed: bool | None
    result: dict | None


class BallotIn(Schema):
    option: str
    channel: str = "online"
    household_id: int | None = None
    proxy_name: str = ""


class Text(Schema):
    text: str


class ResolutionIn(Schema):
    vote_id: int
    title: str
    text: str


class TaskIn(Schema):
    title: str
    owner_name: str = ""
    owner_id: int | None = None
    due: date


class ProgressIn(Schema):
    text: str
    task_id: int | None = None
    done: bool = False


class NotVotedOut(Schema):
    voter_key: str
    label: str


class MyVoteOut(Schema):
    id: int
    title: str
    status: str
    voted: bool


class ConventionIn(Schema):
    place_id: int
    kind: str
    title: str


class VersionIn(Schema):
    text: str
    motion_percent: str = "5"
    motion_clause: str = ""
    silent_majority: bool = False
    silent_majority_clause: str = ""


class VersionOut(Schema):
    id: int
    convention_id: int
    number: int
    status: str
    text: str
    motion_percent: str
    motion_clause: str
    silent_majority: bool
    silent_majority_clause: str
    legal_opinion: str
    adopted_at: datetime | None

    @staticmethod
    def resolve_motion_percent(obj):
        return str(obj.motion_percent)


class ReviewIn(Schema):
    opinion: str


class ConventionVoteIn(Schema):
    title: str
    rules: dict
    secret: bool = False


class NoticeOut(Schema):
    id: int
    text: str
    url: str
    created_at: datetime
    read: bool


class RatingIn(Schema):
    score: int
    comment: str = ""


class Ok(Schema):
    id: int


@router.get("/topics", response=list[TopicOut])
def my_topics(request):
    """Topics at the places above the caller's household."""
    return list(services.topics_near(request.user)[:100])


@router.post("/topics", response={201: TopicOut})
def raise_topic(request, data: TopicIn):
    place = get_object_or_404(Place, pk=data.place_id)
    return Status(201, services.raise_topic(request.user, place=place, title=data.title, body=data.body))


@router.get("/topics/{topic_id}", response=TopicOut)
def topic(request, topic_id: int):
    obj = get_object_or_404(Topic, pk=topic_id)
    require(request.user, "deliberation.view", obj)
    return obj


@router.post("/topics/{topic_id}/cosign", response={201: TopicOut})
def cosign(request, topic_id: int):
    obj = get_object_or_404(Topic, pk=topic_id)
    services.cosign(request.user, obj)
    obj.refresh_from_db()
    return Status(201, obj)


@router.get("/topics/{topic_id}/comments", response=list[CommentOut])
def comments(request, topic_id: int):
    obj = get_object_or_404(Topic, pk=topic_id)
    require(request.user, "deliberation.view", obj)
    return list(obj.comments.select_related("author"))


@router.post("/topics/{topic_id}/comments", response={201: CommentOut})
def comment(request, topic_id: int, data: CommentIn):
    return Status(201, services.comment(request.user, get_object_or_404(Topic, pk=topic_id), text=data.text))


@router.post("/topics/{topic_id}/paper-signatures", response={201: TopicOut})
def paper_signatures(request, topic_id: int, household_ids: Form[str], scan: File[UploadedFile]):
    """A scanned paper sheet (multipart): `household_ids` comma-separated, `scan` a PDF or photo."""
    obj = get_object_or_404(Topic, pk=topic_id)
    try:
        ids = {int(i) for i in household_ids.replace("，", ",").split(",") if i.strip()}
    except ValueError:
        raise ValidationError({"household_ids": _("List household numbers separated by commas.")}) from None
    households = list(Household.objects.filter(pk__in=ids))
    unknown = ids - {h.pk for h in households}
    if unknown:
        raise ValidationError({"household_ids": _("Unknown households: %(ids)s")
                               % {"ids": ", ".join(map(str, sorted(unknown)))}})
    services.add_paper_signatures(request.user, obj, households=households, scan=scan)
    obj.refresh_from_db()
    return Status(201, obj)


@router.post("/topics/{topic_id}/merge", response=TopicOut)
def merge(request, topic_id: int, data: MergeIn):
    return services.merge_topic(request.user, get_object_or_404(Topic, pk=topic_id),
                                get_object_or_404(Topic, pk=data.into_id), reason=data.reason)


@router.post("/topics/{topic_id}/decline", response=TopicOut)
def decline(request, topic_id: int, data: DeclineIn):
    return services.decline_topic(request.user, get_object_or_404(Topic, pk=topic_id), reason=data.reason)


@router.post("/meetings", response={201: MeetingOut})
def convene(request, data: MeetingIn):
    place = get_object_or_404(Place, pk=data.place_id)
    agenda = list(Topic.objects.filter(pk__in=data.agenda))
    return Status(201, services.convene_meeting(request.user, place=place, kind=data.kind, title=data.title,
                                                starts_at=data.starts_at, location=data.location,
                                                online_url=data.online_url, agenda=agenda))


@router.get("/meetings/{meeting_id}", response=MeetingOut)
def meeting(request, meeting_id: int):
    obj = get_object_or_404(Meeting, pk=meeting_id)
    if not obj.invitees.filter(pk=request.user.pk).exists():
        require(request.user, "deliberation.view", obj)
    return obj


@router.put("/meetings/{meeting_id}", response=MeetingOut)
def update_meeting(request, meeting_id: int, data: MeetingFields):
    obj = get_object_or_404(Meeting, pk=meeting_id)
    agenda = list(Topic.objects.filter(pk__in=data.agenda))
    return services.update_meeting(request.user, obj, kind=data.kind, title=data.title, starts_at=data.starts_at,
                                   location=data.location, online_url=data.online_url, agenda=agenda)


@router.post("/meetings/{meeting_id}/invitations", response={201: Invited})
def invite(request, meeting_id: int, data: InviteIn):
    """Invite by rule (`representatives`, `households`, `owners`, `staff`) everyone under a place; notices are sent."""
    n = services.invite_by_rule(request.user, get_object_or_404(Meeting, pk=meeting_id), rule=data.rule,
                                place=get_object_or_404(Place, pk=data.place_id))
    return Status(201, {"invited": n})


@router.post("/meetings/{meeting_id}/documents", response={201: Ok})
def attach_document(request, meeting_id: int, title: Form[str], file: File[UploadedFile]):
    return Status(201, services.attach_document(request.user, get_object_or_404(Meeting, pk=meeting_id), title=title,
                                                file=file))


@router.post("/meetings/{meeting_id}/check-in", response={201: Ok})
def check_in(request, meeting_id: int, data: CheckInIn | None = None):
    """Self check-in (with the QR `code` when scanned at the venue), or staff recording `name`."""
    data = data or CheckInIn()
    return Status(201, services.check_in(request.user, get_object_or_404(Meeting, pk=meeting_id), name=data.name,
                                         code=data.code))


@router.post("/meetings/{meeting_id}/minutes", response=MeetingOut)
def minutes(request, meeting_id: int, data: Text):
    return services.record_minutes(request.user, get_object_or_404(Meeting, pk=meeting_id), minutes=data.text)


@router.post("/votes", response={201: VoteOut})
def open_vote(request, data: VoteIn):
    place = get_object_or_404(Place, pk=data.place_id)
    topic = get_object_or_404(Topic, pk=data.topic_id) if data.topic_id else None
    meeting = get_object_or_404(Meeting, pk=data.meeting_id) if data.meeting_id else None
    return Status(201, services.open_vote(request.user, place=place, title=data.title, rules=data.rules, topic=topic,
                                          meeting=meeting, secret=data.secret))


@router.get("/votes/{vote_id}", response=VoteOut)
def vote(request, vote_id: int):
    obj = get_object_or_404(Vote, pk=vote_id)
    require(request.user, "deliberation.view", obj)
    return obj


@router.post("/votes/{vote_id}/ballots", response={201: Ok})
def cast(request, vote_id: int, data: BallotIn):
    obj = get_object_or_404(Vote, pk=vote_id)
    household = get_object_or_404(Household, pk=data.household_id) if data.household_id else None
    return Status(201, services.cast_ballot(request.user, obj, data.option, channel=data.channel, household=household,
                                            proxy_name=data.proxy_name))


@router.post("/votes/{vote_id}/proxy-ballots", response={201: Ok})
def proxy_ballot(request, vote_id: int, option: Form[str], household_id: Form[int], proxy_name: Form[str],
                 authorisation: File[UploadedFile]):
    """Staff enter a proxy's ballot (multipart) with the scanned written authorisation."""
    obj = get_object_or_404(Vote, pk=vote_id)
    household = get_object_or_404(Household, pk=household_id)
    return Status(201, services.cast_ballot(request.user, obj, option, channel="proxy", household=household,
                                            proxy_name=proxy_name, authorisation=authorisation))


@router.get("/votes/{vote_id}/not-voted", response=list[NotVotedOut])
def not_voted(request, vote_id: int):
    """Staff: who in the frozen electorate has not voted yet."""
    rows = services.not_voted(request.user, get_object_or_404(Vote, pk=vote_id))
    return [{"voter_key": services.voter_key(person=r) if not isinstance(r, Household) else
             services.voter_key(household=r), "label": f"{r.household} {r.name}" if not isinstance(r, Household)
             else str(r)} for r in rows]


@router.get("/my-votes", response=list[MyVoteOut])
def my_votes(request):
    return [{"id": v.pk, "title": v.title, "status": v.status, "voted": voted}
            for v, voted in services.my_votes(request.user)]


@router.post("/votes/{vote_id}/close", response=VoteOut)
def close(request, vote_id: int):
    return services.close_vote(request.user, get_object_or_404(Vote, pk=vote_id))


@router.post("/resolutions", response={201: Ok})
def create_resolution(request, data: ResolutionIn):
    obj = get_object_or_404(Vote, pk=data.vote_id)
    return Status(201, services.create_resolution(request.user, place=obj.place, title=data.title, text=data.text,
                                                  vote=obj))


@router.post("/resolutions/{resolution_id}/tasks", response={201: Ok})
def add_task(request, resolution_id: int, data: TaskIn):
    owner = get_object_or_404(User, pk=data.owner_id) if data.owner_id else None
    resolution = get_object_or_404(Resolution, pk=resolution_id)
    return Status(201, services.add_task(request.user, resolution, title=data.title, owner_name=data.owner_name,
                                         owner=owner, due=data.due))


@router.post("/resolutions/{resolution_id}/progress", response={201: Ok})
def progress(request, resolution_id: int, data: ProgressIn):
    """Progress on the resolution or one task; `done` marks the task done."""
    resolution = get_object_or_404(Resolution, pk=resolution_id)
    task = get_object_or_404(Task, pk=data.task_id, resolution=resolution) if data.task_id else None
    return Status(201, services.report_progress(request.user, resolution, text=data.text, task=task, done=data.done))


@router.post("/resolutions/{resolution_id}/ratings", response={201: Ok})
def rate(request, resolution_id: int, data: RatingIn):
    return Status(201, services.rate(request.user, get_object_or_404(Resolution, pk=resolution_id), score=data.score,
                                     comment=data.comment))


@router.post("/conventions", response={201: Ok})
def create_convention(request, data: ConventionIn):
    return Status(201, services.create_convention(request.user, place=get_object_or_404(Place, pk=data.place_id),
                                                  kind=data.kind, title=data.title))


@router.post("/conventions/{convention_id}/versions", response={201: VersionOut})
def draft_version(request, convention_id: int, data: VersionIn):
    convention = get_object_or_404(Convention, pk=convention_id)
    return Status(201, services.draft_version(request.user, convention, **data.dict()))


@router.post("/versions/{version_id}/review", response=VersionOut)
def legal_review(request, version_id: int, data: ReviewIn):
    return services.legal_review(request.user, get_object_or_404(ConventionVersion, pk=version_id),
                                 opinion=data.opinion)


@router.post("/versions/{version_id}/vote", response={201: VoteOut})
def put_to_vote(request, version_id: int, data: ConventionVoteIn):
    """Open the adoption vote on a reviewed version; closing it adopts or rejects the version."""
    version = get_object_or_404(ConventionVersion.objects.select_related("convention__place"), pk=version_id)
    return Status(201, services.open_vote(request.user, place=version.convention.place, title=data.title,
                                          rules=data.rules, convention_version=version, secret=data.secret))


@router.get("/notices", response=list[NoticeOut])
def notices(request):
    return list(Notice.objects.filter(recipient=request.user)[:100])


@router.get("/public/{place_id}", response=list[VoteOut], auth=None)
def public_results(request, place_id: int):
    """No login: the closed votes under a place, with their tallies."""
    place = get_object_or_404(Place, pk=place_id)
    return list(Vote.objects.filter(place__path__startswith=place.path, status=Vote.Status.CLOSED)[:100])
