"""Appeal pages: submit on a phone (map of grid boundaries), my appeals, the staff inbox, the community dispatch
board, one appeal with its actions, possible duplicates and sub-tasks, metrics."""

import secrets
from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gongzhi.accounts.models import User
from gongzhi.core.forms import show_errors
from gongzhi.core.http import xlsx_response
from gongzhi.places.models import COMMUNITY_KINDS, GRID_KINDS, Kind, Place

from . import metrics as appeal_metrics
from . import services, similar
from .forms import IntakeForm, SubmitForm
from .models import Appeal, AppealEvent, SubTask, Tier

MAX_MAP_GRIDS = 400


def _appeal(user, pk) -> Appeal:
    appeal = get_object_or_404(Appeal.objects.select_related("category", "place", "handler_place"), pk=pk)
    services.require(user, "appeals.view_appeal", appeal)
    return appeal


def _grid_map(user) -> dict | None:
    """GeoJSON of the grids around the user (the places they staff, or their home district), to pick a point."""
    grids = Place.objects.filter(kind__in=GRID_KINDS, boundary__isnull=False)
    if user.scope.paths() or user.is_superuser:
        grids = user.scope.filter(grids, path_field="path")
    elif user.person_id and user.person.household_id:
        home = user.person.household.place
        grids = grids.filter(path__startswith=(home.ancestor_of_kind({Kind.DISTRICT}) or home).path)
    features = [{"type": "Feature", "geometry": g.boundary, "properties": {"id": g.pk, "name": g.name}}
                for g in grids.order_by("path")[:MAX_MAP_GRIDS]]
    return {"type": "FeatureCollection", "features": features} if features else None


@login_required
def submit(request):
    is_staff = bool(request.user.scope.paths()) or request.user.is_superuser
    form_class = IntakeForm if is_staff else SubmitForm
    form = form_class(request.POST or None, request.FILES or None,
                      initial={"idempotency_key": secrets.token_urlsafe(24)})
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data.setdefault("source", Appeal.Source.WEB)
        try:
            appeal = services.submit(request.user, **data)
        except ValidationError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Appeal #%(id)s submitted.") % {"id": appeal.pk})
            return redirect("appeals:detail", appeal.pk)
    return render(request, "appeals/submit.html", {"form": form, "grids": _grid_map(request.user)})


@login_required
def mine(request):
    """The resident's appeals, each with its latest steps; a merged one shows the appeal it follows."""
    appeals = list(Appeal.objects.filter(reporter=request.user)
                   .select_related("category", "merged_into", "merged_into__handler_place")
                   .prefetch_related(Prefetch("events", AppealEvent.objects.order_by("-at", "-pk")))[:100])
    for appeal in appeals:
        appeal.recent = list(appeal.events.all())[:4]
        appeal.can_rate = services.can_rate(request.user, appeal)
    notes = request.user.appeal_notifications.filter(read_at__isnull=True)[:20]
    return render(request, "appeals/mine.html", {"appeals": appeals, "notifications": notes})


@login_required
def inbox(request):
    rows = services.inbox(request.user)
    tier = request.GET.get("tier")
    if tier:
        rows = rows.filter(tier=tier)
    subtasks = list(services.open_subtasks(request.user)[:100])
    if not request.user.scope.paths() and not request.user.is_superuser and not rows.exists() and not subtasks:
        if not request.user.roles.filter(role="department_liaison").exists():
            raise PermissionDenied
    return render(request, "appeals/inbox.html", {"rows": rows[:300], "tier": tier, "subtasks": subtasks,
                                                  "tiers": Appeal._meta.get_field("tier").choices})


@login_required
def board(request):
    """The community dispatch board; subdistrict staff pick one of their communities."""
    communities = list(request.user.scope.filter(Place.objects.filter(kind__in=COMMUNITY_KINDS), path_field="path")
                       .order_by("path")[:200])
    if not communities:
        raise PermissionDenied
    place_id = request.GET.get("place")
    community = get_object_or_404(Place, pk=place_id, kind__in=COMMUNITY_KINDS) \
        if place_id and place_id.isdigit() else communities[0]
    groups = [(tier, Tier(tier).label, rows) for tier, rows in services.board(request.user, community)]
    return render(request, "appeals/board.html", {
        "community": community, "communities": communities, "groups": groups,
        "departments": services.departments_for(community),
        "late": sum(a.late for _, _, rows in groups for a in rows),
        "total": sum(len(rows) for _, _, rows in groups),
    })


@login_required
def detail(request, pk):
    appeal = _appeal(request.user, pk)
    actions = services.allowed_actions(request.user, appeal)
    subtasks = list(appeal.subtasks.select_related("place", "done_by"))
    for task in subtasks:
        task.can_complete = not task.done_at and appeal.is_open and \
            request.user.has_perm("appeals.complete_subtask", task)
    outcome = appeal.root if appeal.merged_into_id else None
    request.user.appeal_notifications.filter(appeal=appeal, read_at__isnull=True).update(read_at=timezone.now())
    return render(request, "appeals/detail.html", {
        "appeal": appeal, "events": appeal.events.select_related("actor", "place"), "actions": actions,
        "subtasks": subtasks, "ratings": Appeal.Rating.choices,
        "assignees": services.handlers_of(appeal) if "assign" in actions else [],
        "departments": services.departments_for(appeal.place) if {"dispatch", "escalate", "assign"} & set(actions)
        else [],
        "candidates": similar.candidates(request.user, appeal) if "merge" in actions else [],
        "outcome": outcome,
        "outcome_link": outcome is not None and request.user.has_perm("appeals.view_appeal", outcome),
        "can_see_contact": request.user.has_perm("appeals.handle_appeal", appeal) or appeal.reporter_id == request.user.pk,
    })


def _back(request, appeal):
    """Back where the form was (the board, the inbox) when it says so, else to the appeal."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return redirect(target)
    return redirect("appeals:detail", appeal.pk)


@login_required
@require_POST
def act(request, pk, action):
    appeal = _appeal(request.user, pk)
    post = request.POST
    note = post.get("note", "")
    try:
        if action == "accept":
            services.accept(request.user, appeal, note)
        elif action == "assign":
            assignee = User.objects.filter(pk=post.get("assignee") or 0).first()
            departments = [d for d in post.get("assisting_departments", "").replace("，", ",").split(",") if d.strip()]
            services.assign(request.user, appeal, assignee=assignee, assisting_departments=departments, note=note)
        elif action == "start":
            services.start(request.user, appeal, note)
        elif action == "resolve":
            services.resolve(request.user, appeal, note)
        elif action == "rate":
            services.rate(request.user, appeal, post.get("rating", ""), note)
        elif action == "close":
            services.close(request.user, appeal, note)
        elif action == "return":
            services.return_appeal(request.user, appeal, note)
        elif action == "escalate":
            services.escalate(request.user, appeal, note, post.get("department", ""))
        elif action == "dispatch":
            services.dispatch(request.user, appeal, post.get("department", ""), note)
        elif action == "merge":
            into = post.get("into", "").strip().lstrip("#")
            target = get_object_or_404(Appeal, pk=int(into)) if into.isdigit() else None
            if target is None:
                raise ValidationError(_("Give the number of the appeal to merge into."))
            services.merge(request.user, appeal, target, note)
        elif action == "reject":
            services.reject(request.user, appeal, note)
        elif action == "hold":
            services.hold(request.user, appeal, note)
        elif action == "resume":
            services.resume(request.user, appeal, note)
        elif action == "extend":
            services.extend(request.user, appeal, post.get("days", ""), note)
        else:
            raise PermissionDenied
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Done."))
    return _back(request, appeal)


@login_required
@require_POST
def subtask_done(request, pk):
    subtask = get_object_or_404(SubTask.objects.select_related("appeal__place"), pk=pk)
    services.require(request.user, "appeals.view_appeal", subtask.appeal)
    try:
        services.complete_subtask(request.user, subtask, request.POST.get("note", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Sub-task marked done."))
    return _back(request, subtask.appeal)


def _period(request):
    today = timezone.localdate()
    try:
        start = datetime.fromisoformat(request.GET["start"]).date()
    except (KeyError, ValueError):
        start = today - timedelta(days=29)
    try:
        end = datetime.fromisoformat(request.GET["end"]).date()
    except (KeyError, ValueError):
        end = today
    tz = timezone.get_current_timezone()
    return start, end, datetime.combine(start, time.min, tz), datetime.combine(end + timedelta(days=1), time.min, tz)


@login_required
def metrics(request):
    places = list(request.user.scope.top_places())
    if not places:
        raise PermissionDenied
    place_id = request.GET.get("place")
    place = get_object_or_404(Place, pk=place_id) if place_id and place_id.isdigit() else places[0]
    start, end, start_dt, end_dt = _period(request)
    m = appeal_metrics.compute(request.user, place, start_dt, end_dt)
    if request.GET.get("format") == "xlsx":
        return xlsx_response(appeal_metrics.workbook(m), f"appeals-{place.pk}-{start}-{end}.xlsx")
    rows = appeal_metrics.summary_rows(m)
    chart = {"by_kind": m.by_kind, "by_category": m.by_category,
             "rates": {str(label): value for key, label, value in rows if key in appeal_metrics.RATE_KEYS}}
    return render(request, "appeals/metrics.html", {
        "m": m, "place": place, "places": places, "start": start, "end": end, "chart": chart,
        "rows": [(key, label, value, key in appeal_metrics.RATE_KEYS) for key, label, value in rows],
    })
