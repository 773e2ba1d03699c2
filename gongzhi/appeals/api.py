"""API for appeals: submit (Idempotency-Key header), list, inbox, dispatch board, one appeal with its history,
possible duplicates, every transition, joint-handling sub-tasks, categories, notifications and metrics."""

from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from gongzhi.accounts.models import User
from gongzhi.core.http import xlsx_response
from gongzhi.places.api import visible_place
from gongzhi.places.models import Place

from . import metrics, services, similar
from .models import Appeal, Category, SubTask

router = Router(tags=["appeals"])


class CategoryOut(Schema):
    id: int
    code: str
    name: str
    parent_id: int | None
    default_tier: str
    department: str
    response_hours: int
    resolve_hours: int


class EventOut(Schema):
    at: datetime
    action: str
    from_status: str
    to_status: str
    tier: str
    place_id: int | None
    actor: str | None
    note: str

    @staticmethod
    def resolve_actor(obj):
        return str(obj.actor) if obj.actor_id else None


class AppealRow(Schema):
    id: int
    kind: str
    category_id: int
    title: str
    status: str
    tier: str
    place_id: int
    handler_place_id: int
    department: str
    urgency: str
    created_at: datetime
    due: datetime | None
    overdue: bool


class SubTaskOut(Schema):
    id: int
    appeal_id: int
    role: str
    unit: str
    place_id: int | None
    department: str
    note: str = Field(description="What the unit did, once done")
    done_at: datetime | None
    done_by: str | None

    @staticmethod
    def resolve_unit(obj):
        return obj.department or str(obj.place)

    @staticmethod
    def resolve_done_by(obj):
        return str(obj.done_by) if obj.done_by_id else None


class OutcomeOut(Schema):
    """For a merged appeal: the appeal it was merged into, whose outcome its reporter follows and rates."""
    id: int
    status: str
    tier: str
    resolution: str
    resolved_at: datetime | None
    closed_at: datetime | None


class AppealOut(AppealRow):
    description: str
    latitude: float | None
    longitude: float | None
    address: str
    source: str
    reporter_id: int | None
    contact_phone: str
    assignee_id: int | None
    accept_due: datetime | None
    response_due: datetime | None
    resolve_due: datetime | None
    accepted_at: datetime | None
    responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    resolution: str
    rating: str
    rating_note: str
    rated_at: datetime | None
    reopen_count: int
    escalation_count: int
    paused_seconds: int
    merged_into_id: int | None
    outcome: OutcomeOut | None = None
    events: list[EventOut]
    subtasks: list[SubTaskOut] = []
    allowed_actions: list[str] = []

    @staticmethod
    def resolve_outcome(obj):
        return obj.root if obj.merged_into_id else None

    @staticmethod
    def resolve_subtasks(obj):
        return _related(obj, "subtasks", "place", "done_by")

    @staticmethod
    def resolve_contact_phone(obj):
        return obj.masked_contact_phone

    @staticmethod
    def resolve_events(obj):
        return _related(obj, "events", "actor")

    @staticmethod
    def resolve_allowed_actions(obj, context):
        return services.allowed_actions(context["request"].user, obj)


def _related(obj, name, *joined):
    """Rows already at hand (a fresh submit hands over what it wrote), else one query with their relations."""
    if name in getattr(obj, "_prefetched_objects_cache", {}):
        return list(getattr(obj, name).all())
    return list(getattr(obj, name).select_related(*joined))


class AppealIn(Schema):
    kind: str
    category_id: int
    description: str
    title: str = ""
    place_id: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    address: str = ""
    source: str = Appeal.Source.API
    urgency: str = Appeal.Urgency.NORMAL
    contact_name: str = ""
    contact_phone: str = ""


class ActionIn(Schema):
    note: str = Field("", description="Reason or note; required for resolve (what was done), escalate, return, "
                                      "reject, hold, resume and extend")
    rating: str = Field("", description="rate: satisfied, basically or unsatisfied")
    department: str = Field("", description="dispatch/escalate: the department")
    assignee_id: int | None = None
    assisting_departments: list[str] = []
    into_id: int | None = Field(None, description="merge: the appeal this one duplicates")
    days: int | None = Field(None, description="extend: how many more days to resolve (1–15)")


class SimilarOut(Schema):
    appeal: AppealRow
    score: float = Field(description="0..1: 0.7 × text similarity + 0.3 × closeness (see docs/appeals.md)")
    text_score: float
    distance_m: int | None


class BoardRow(AppealRow):
    late: bool
    allowed_actions: list[str] = Field([], alias="actions")


class BoardGroup(Schema):
    tier: str
    appeals: list[BoardRow]


class NoteIn(Schema):
    note: str = ""


class MetricsOut(Schema):
    place: str
    start: str
    end: str
    total: int
    valid: int
    by_kind: dict[str, int]
    by_category: dict[str, int]
    responded: int
    resolved: int
    rated: int
    satisfied: int
    on_time: int
    reworked: int
    extended: int
    overdue: int
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    on_time_rate: float | None
    rework_rate: float | None
    extension_rate: float | None
    median_response_hours: float | None
    median_resolve_hours: float | None
    as_of: datetime | None = None  # the figures describe the appeals as they stood then (the rollup's watermark)


class NotificationOut(Schema):
    id: int
    appeal_id: int | None
    message: str
    created_at: datetime
    read_at: datetime | None


def visible_appeal(user, appeal_id) -> Appeal:
    appeal = get_object_or_404(Appeal.objects.select_related("category", "place", "handler_place"), pk=appeal_id)
    services.require(user, "appeals.view_appeal", appeal)
    return appeal


@router.get("/categories", response=list[CategoryOut])
def categories(request):
    return list(Category.objects.filter(active=True))


@router.post("/", response={200: AppealOut, 201: AppealOut})
def submit(request, payload: AppealIn):
    """Submit an appeal. Send an `Idempotency-Key` header: a retry with the same key returns the same appeal
    (200) instead of creating another (201)."""
    key = request.headers.get("Idempotency-Key") or None
    data = payload.dict()
    category = Category.objects.filter(pk=data.pop("category_id"), active=True).first()
    place_id = data.pop("place_id")
    place = get_object_or_404(Place, pk=place_id) if place_id else None
    appeal = services.submit(request.user, category=category, place=place, idempotency_key=key, **data)
    return Status(200 if appeal.replayed else 201, appeal)


@router.get("/", response=list[AppealRow])
@paginate
def list_appeals(request, status: str | None = None, mine: bool = False):
    """Appeals the caller may see (their own, and those under their places)."""
    qs = services.visible_appeals(request.user)
    if mine:
        qs = qs.filter(reporter=request.user)
    if status:
        qs = qs.filter(status=status)
    return qs


@router.get("/inbox", response=list[AppealRow])
@paginate
def inbox(request, tier: str | None = None):
    """Open appeals the caller's unit holds now, earliest resolution deadline first."""
    qs = services.inbox(request.user)
    return qs.filter(tier=tier) if tier else qs


@router.get("/board", response=list[BoardGroup])
def dispatch_board(request, place_id: int):
    """The community dispatch board: open appeals under the place, by tier, overdue first, with the caller's
    allowed actions on each."""
    place = visible_place(request.user, place_id)
    return [{"tier": tier, "appeals": rows} for tier, rows in services.board(request.user, place)]


@router.get("/subtasks", response=list[SubTaskOut])
def my_subtasks(request):
    """Unfinished joint-handling sub-tasks of the caller's units."""
    return list(services.open_subtasks(request.user)[:200])


@router.post("/subtasks/{subtask_id}/done", response=SubTaskOut)
def subtask_done(request, subtask_id: int, payload: NoteIn):
    """The lead or an assisting unit reports its sub-task done; `note` (what was done) is required."""
    subtask = get_object_or_404(SubTask.objects.select_related("appeal__place"), pk=subtask_id)
    return services.complete_subtask(request.user, subtask, payload.note)


@router.get("/notifications", response=list[NotificationOut])
def notifications(request, unread: bool = True):
    qs = request.user.appeal_notifications.all()
    return list((qs.filter(read_at__isnull=True) if unread else qs)[:100])


def _period(start, end):
    tz = timezone.get_current_timezone()
    end = end or timezone.localdate()
    start = start or end - timedelta(days=29)
    return datetime.combine(start, time.min, tz), datetime.combine(end + timedelta(days=1), time.min, tz)


@router.get("/metrics", response=MetricsOut)
def appeal_metrics(request, place_id: int, start: date | None = None, end: date | None = None):
    """Metrics for appeals under a place submitted between `start` and `end` (inclusive dates)."""
    place = visible_place(request.user, place_id)
    return metrics.compute(request.user, place, *_period(start, end)).as_dict()


@router.get("/metrics.xlsx")
def appeal_metrics_xlsx(request, place_id: int, start: date | None = None, end: date | None = None):
    place = visible_place(request.user, place_id)
    m = metrics.compute(request.user, place, *_period(start, end))
    return xlsx_response(metrics.workbook(m), f"appeals-{place.pk}.xlsx")


@router.get("/{appeal_id}", response=AppealOut)
def detail(request, appeal_id: int):
    return visible_appeal(request.user, appeal_id)


@router.get("/{appeal_id}/similar", response=list[SimilarOut])
def similar_appeals(request, appeal_id: int):
    """Possible duplicates: same category, same grid or within 300 m, submitted within 30 days, similar words."""
    appeal = visible_appeal(request.user, appeal_id)
    services.require(request.user, "appeals.handle_appeal", appeal)
    return similar.candidates(request.user, appeal)


@router.post("/{appeal_id}/{action}", response=AppealOut)
def act(request, appeal_id: int, action: str, payload: ActionIn):
    """Take one transition: accept, assign, start, resolve, rate, close, return, escalate, dispatch, merge,
    reject, hold, resume, extend. A replayed request finds the appeal already moved on and is refused (400),
    so nothing happens twice."""
    appeal = visible_appeal(request.user, appeal_id)
    user, note = request.user, payload.note
    if action == "accept":
        return services.accept(user, appeal, note)
    if action == "assign":
        assignee = get_object_or_404(User, pk=payload.assignee_id) if payload.assignee_id else None
        return services.assign(user, appeal, assignee=assignee, assisting_departments=payload.assisting_departments,
                               note=note)
    if action == "start":
        return services.start(user, appeal, note)
    if action == "resolve":
        return services.resolve(user, appeal, note)
    if action == "rate":
        return services.rate(user, appeal, payload.rating, note)
    if action == "close":
        return services.close(user, appeal, note)
    if action == "return":
        return services.return_appeal(user, appeal, note)
    if action == "escalate":
        return services.escalate(user, appeal, note, payload.department)
    if action == "dispatch":
        return services.dispatch(user, appeal, payload.department, note)
    if action == "merge":
        if not payload.into_id:
            raise ValidationError({"into_id": _("Give the number of the appeal to merge into.")})
        return services.merge(user, appeal, visible_appeal(user, payload.into_id), note)
    if action == "reject":
        return services.reject(user, appeal, note)
    if action == "hold":
        return services.hold(user, appeal, note)
    if action == "resume":
        return services.resume(user, appeal, note)
    if action == "extend":
        return services.extend(user, appeal, payload.days, note)
    raise ValidationError(_("Unknown action: %(action)s") % {"action": action})
