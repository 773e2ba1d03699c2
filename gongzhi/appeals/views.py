"""Appeal pages: submit on a phone, my appeals, the staff inbox, one appeal with its actions, metrics."""

import secrets
from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gongzhi.accounts.models import User
from gongzhi.core.forms import show_errors
from gongzhi.core.http import xlsx_response
from gongzhi.places.models import Place

from . import metrics as appeal_metrics
from . import services
from .forms import IntakeForm, SubmitForm
from .models import Appeal


def _appeal(user, pk) -> Appeal:
    appeal = get_object_or_404(Appeal.objects.select_related("category", "place", "handler_place"), pk=pk)
    services.require(user, "appeals.view_appeal", appeal)
    return appeal


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
    return render(request, "appeals/submit.html", {"form": form})


@login_required
def mine(request):
    appeals = Appeal.objects.filter(reporter=request.user).select_related("category")[:200]
    notes = request.user.appeal_notifications.filter(read_at__isnull=True)[:20]
    return render(request, "appeals/mine.html", {"appeals": appeals, "notifications": notes})


@login_required
def inbox(request):
    rows = services.inbox(request.user)
    tier = request.GET.get("tier")
    if tier:
        rows = rows.filter(tier=tier)
    if not request.user.scope.paths() and not request.user.is_superuser and not rows.exists():
        if not request.user.roles.filter(role="department_liaison").exists():
            raise PermissionDenied
    return render(request, "appeals/inbox.html", {"rows": rows[:300], "tier": tier,
                                                  "tiers": Appeal._meta.get_field("tier").choices})


@login_required
def detail(request, pk):
    appeal = _appeal(request.user, pk)
    actions = services.allowed_actions(request.user, appeal)
    assignees = []
    if "assign" in actions:
        assignees = [u for u in services.handlers_of(appeal)]
    request.user.appeal_notifications.filter(appeal=appeal, read_at__isnull=True).update(read_at=timezone.now())
    return render(request, "appeals/detail.html", {
        "appeal": appeal, "events": appeal.events.select_related("actor", "place"), "actions": actions,
        "subtasks": appeal.subtasks.select_related("place"), "assignees": assignees,
        "ratings": Appeal.Rating.choices,
        "can_see_contact": request.user.has_perm("appeals.handle_appeal", appeal) or appeal.reporter_id == request.user.pk,
    })


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
            into = post.get("into", "")
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
        else:
            raise PermissionDenied
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Done."))
    return redirect("appeals:detail", appeal.pk)


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
    chart = {"by_kind": m.by_kind, "by_category": m.by_category,
             "rates": {str(label): value for label, value in appeal_metrics.summary_rows(m)[7:12]}}
    return render(request, "appeals/metrics.html", {
        "m": m, "place": place, "places": places, "start": start, "end": end,
        "rows": appeal_metrics.summary_rows(m), "chart": chart,
    })
