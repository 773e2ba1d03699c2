"""API for deliberation: topics and co-signing, meetings and check-in, votes and ballots, the public results."""

from datetime import date, datetime

from django.shortcuts import get_object_or_404
from ninja import Router, Schema

from gongzhi.places.models import Place
from gongzhi.registry.models import Household
from gongzhi.registry.services import require

from . import services
from .models import Meeting, Resolution, Topic, Vote

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


class MeetingIn(Schema):
    place_id: int
    kind: str
    title: str
    starts_at: datetime
    location: str = ""
    online_url: str = ""
    agenda: list[int] = []


class MeetingOut(Schema):
    id: int
    place_id: int
    kind: str
    title: str
    starts_at: datetime
    location: str
    minutes: str


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
    owner_name: str
    due: date


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
    return 201, services.raise_topic(request.user, place=place, title=data.title, body=data.body)


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
    return 201, obj


@router.post("/meetings", response={201: MeetingOut})
def convene(request, data: MeetingIn):
    place = get_object_or_404(Place, pk=data.place_id)
    agenda = list(Topic.objects.filter(pk__in=data.agenda))
    return 201, services.convene_meeting(request.user, place=place, kind=data.kind, title=data.title,
                                         starts_at=data.starts_at, location=data.location,
                                         online_url=data.online_url, agenda=agenda)


@router.post("/meetings/{meeting_id}/check-in", response={201: Ok})
def check_in(request, meeting_id: int):
    return 201, services.check_in(request.user, get_object_or_404(Meeting, pk=meeting_id))


@router.post("/meetings/{meeting_id}/minutes", response=MeetingOut)
def minutes(request, meeting_id: int, data: Text):
    return services.record_minutes(request.user, get_object_or_404(Meeting, pk=meeting_id), minutes=data.text)


@router.post("/votes", response={201: VoteOut})
def open_vote(request, data: VoteIn):
    place = get_object_or_404(Place, pk=data.place_id)
    topic = get_object_or_404(Topic, pk=data.topic_id) if data.topic_id else None
    meeting = get_object_or_404(Meeting, pk=data.meeting_id) if data.meeting_id else None
    return 201, services.open_vote(request.user, place=place, title=data.title, rules=data.rules, topic=topic,
                                   meeting=meeting, secret=data.secret)


@router.get("/votes/{vote_id}", response=VoteOut)
def vote(request, vote_id: int):
    obj = get_object_or_404(Vote, pk=vote_id)
    require(request.user, "deliberation.view", obj)
    return obj


@router.post("/votes/{vote_id}/ballots", response={201: Ok})
def cast(request, vote_id: int, data: BallotIn):
    obj = get_object_or_404(Vote, pk=vote_id)
    household = get_object_or_404(Household, pk=data.household_id) if data.household_id else None
    return 201, services.cast_ballot(request.user, obj, data.option, channel=data.channel, household=household,
                                     proxy_name=data.proxy_name)


@router.post("/votes/{vote_id}/close", response=VoteOut)
def close(request, vote_id: int):
    return services.close_vote(request.user, get_object_or_404(Vote, pk=vote_id))


@router.post("/resolutions", response={201: Ok})
def create_resolution(request, data: ResolutionIn):
    obj = get_object_or_404(Vote, pk=data.vote_id)
    return 201, services.create_resolution(request.user, place=obj.place, title=data.title, text=data.text, vote=obj)


@router.post("/resolutions/{resolution_id}/tasks", response={201: Ok})
def add_task(request, resolution_id: int, data: TaskIn):
    return 201, services.add_task(request.user, get_object_or_404(Resolution, pk=resolution_id), **data.dict())


@router.post("/resolutions/{resolution_id}/progress", response={201: Ok})
def progress(request, resolution_id: int, data: Text):
    return 201, services.report_progress(request.user, get_object_or_404(Resolution, pk=resolution_id),
                                         text=data.text)


@router.post("/resolutions/{resolution_id}/ratings", response={201: Ok})
def rate(request, resolution_id: int, data: RatingIn):
    return 201, services.rate(request.user, get_object_or_404(Resolution, pk=resolution_id), score=data.score,
                              comment=data.comment)


@router.get("/public/{place_id}", response=list[VoteOut], auth=None)
def public_results(request, place_id: int):
    """No login: the closed votes under a place, with their tallies."""
    place = get_object_or_404(Place, pk=place_id)
    return list(Vote.objects.filter(place__path__startswith=place.path, status=Vote.Status.CLOSED)[:100])
