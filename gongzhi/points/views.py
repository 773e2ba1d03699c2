"""Points pages: phone pages for residents (balance, history, store, activities, claims) and staff pages
(rulebook, approvals, activities, counter, report). Thin: every change goes through services."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gongzhi.core.forms import attempt, show_errors
from gongzhi.core.http import xlsx_response
from gongzhi.core.qr import qr_svg
from gongzhi.places.models import COMMUNITY_KINDS, Place
from gongzhi.registry.models import Household
from gongzhi.registry.services import require

from . import services
from .forms import (ActivityForm, AwardForm, ClaimForm, CounterForm, HoursForm, ItemForm, PeriodForm, PolicyForm,
                    RedeemForm, RejectForm, ReverseForm, RuleForm, StockForm, VolunteerForm)
from .models import Account, Activity, Claim, Entry, Item, Participation, PointsRule, Redemption
from .rules import ORGANISE_ROLES, VIEW_ROLES


def _pk(value) -> int:
    """A posted id; anything that is not a number finds nothing (a 404), never a crash."""
    return int(value) if str(value or "").isdigit() else 0


def _error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _resident_account(user):
    person = getattr(user, "person", None)
    if person is None or not person.household_id:
        return None
    return services.my_account(user)


@login_required
def home(request):
    account = _resident_account(request.user)
    return render(request, "points/home.html", {
        "account": account,
        "household": services.household_points(request.user, account.person.household) if account else None,
        "policy": services.policy_for(account.place) if account else None,
        "entries": account.entries.select_related("rule")[:50] if account else [],
        "redemptions": account.redemptions.select_related("item").filter(status=Redemption.Status.PENDING)
        if account else [],
        "staff_places": request.user.scope.top_places(VIEW_ROLES),
        "merchant": Item.objects.filter(merchant_user_id=request.user.pk).exists(),
    })


# Residents ------------------------------------------------------------------------------------------------

@login_required
def store(request):
    account = _resident_account(request.user)
    if account is None:
        messages.error(request, _("You are not in the household register yet; ask your community to register you."))
        return redirect("points:home")
    return render(request, "points/store.html", {
        "account": account, "accounts": services.my_accounts(request.user), "items": services.items_for(request.user),
        "form": RedeemForm(initial={"key": services.new_key()}),
    })


@login_required
@require_POST
def redeem(request, item_pk):
    item = get_object_or_404(Item.objects.select_related("place"), pk=item_pk)
    form = RedeemForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a quantity between 1 and 100."))
        return redirect("points:store")
    try:
        redemption = services.redeem(request.user, item, key=form.cleaned_data["key"],
                                     quantity=form.cleaned_data["quantity"], account=form.cleaned_data["account"])
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect("points:store")
    return redirect("points:redemption", redemption.pk)


@login_required
def redemption_detail(request, pk):
    redemption = get_object_or_404(Redemption.objects.select_related("item__place", "account"), pk=pk)
    require(request.user, "points.view_redemption", redemption)
    if request.method == "POST":
        try:
            services.cancel_redemption(request.user, redemption, reason=request.POST.get("reason", ""))
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, _("Cancelled; the points are back in the account."))
        return redirect("points:redemption", redemption.pk)
    return render(request, "points/redemption.html", {"redemption": redemption})


@login_required
def activities(request):
    account = _resident_account(request.user)
    mine = {p.activity_id: p for p in account.participations.all()} if account else {}
    rows = [(a, mine.get(a.pk)) for a in services.activities_for(request.user)]
    return render(request, "points/activities.html", {"rows": rows, "account": account})


@login_required
def activity_detail(request, pk):
    activity = get_object_or_404(Activity.objects.select_related("place", "organiser"), pk=pk)
    user = request.user
    runs = user.has_perm("points.run_activity", activity)
    may_join = user.has_perm("points.sign_up", activity)
    if not (runs or may_join):
        raise PermissionDenied
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "sign_up":
                services.sign_up(user, activity)
                messages.success(request, _("You are signed up."))
            elif action == "cancel":
                services.cancel_sign_up(user, get_object_or_404(Participation, pk=_pk(request.POST.get("participation")),
                                                                activity=activity))
                messages.success(request, _("Sign-up cancelled."))
            elif action in ("check_in", "check_out", "hours"):
                participation = get_object_or_404(Participation, pk=_pk(request.POST.get("participation")),
                                                  activity=activity)
                if action == "check_in":
                    services.check_in(user, participation)
                elif action == "check_out":
                    services.check_out(user, participation)
                else:
                    form = HoursForm(request.POST)
                    if not form.is_valid():
                        raise ValidationError({"hours": _("Hours must be between 0 and 24.")})
                    services.set_hours(user, participation, form.cleaned_data["hours"])
                messages.success(request, _("Saved."))
            elif action == "add_volunteer":
                form = VolunteerForm(request.POST)
                if not form.is_valid():
                    raise ValidationError({"number": _("Enter the volunteer's phone or ID number.")})
                person = services.find_volunteer(user, activity, form.cleaned_data["number"])
                services.add_volunteer(user, activity, person)
                messages.success(request, _("%(name)s is on the list.") % {"name": person.name})
            elif action == "cancel_activity":
                services.cancel_activity(user, activity, reason=request.POST.get("reason", ""))
                messages.success(request, _("Activity cancelled."))
            elif action == "confirm":
                entries = services.confirm_activity(user, activity)
                messages.success(request, _("Hours confirmed; %(n)d volunteers received points.") % {"n": len(entries)})
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        return redirect("points:activity", activity.pk)
    account = _resident_account(user) if may_join else None
    context = {
        "activity": activity, "runs": runs, "may_join": may_join,
        "mine": activity.participations.filter(account=account).first() if account else None,
        "taken": activity.participations.exclude(status=Participation.Status.CANCELLED).count(),
    }
    if runs:
        context["participants"] = activity.participations.select_related(
            "account__person", "account__household", "entry").exclude(status=Participation.Status.CANCELLED)
        checkin_url = request.build_absolute_uri(f"/points/check-in/{activity.checkin_token}/")
        context["checkin_url"], context["qr"] = checkin_url, qr_svg(checkin_url)
    return render(request, "points/activity.html", context)


@login_required
def self_check_in(request, token):
    activity = get_object_or_404(Activity, checkin_token=token)
    if request.method == "POST":
        try:
            services.self_check_in(request.user, token)
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, _("You are checked in. Thank you for volunteering!"))
        return redirect("points:activity", activity.pk)
    return render(request, "points/check_in.html", {"activity": activity})


@login_required
def claim(request):
    account = _resident_account(request.user)
    if account is None:
        messages.error(request, _("You are not in the household register yet; ask your community to register you."))
        return redirect("points:home")
    form = ClaimForm(request.POST or None, request.FILES or None, rules=services.rules_for(account.place))
    if request.method == "POST" and form.is_valid():
        try:
            services.submit_claim(request.user, form.cleaned_data["rule"], description=form.cleaned_data["description"],
                                  evidence=form.cleaned_data["evidence"])
        except ValidationError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Claim submitted; you will get the points when it is approved."))
            return redirect("points:home")
    return render(request, "points/claim.html", {"form": form, "claims": account.claims.select_related("rule")[:20]})


# Staff ----------------------------------------------------------------------------------------------------

def _staff_place(user, pk, perm="points.report") -> Place:
    place = get_object_or_404(Place, pk=pk)
    if not (user.has_perm(perm, place) or user.scope.covers(place, ORGANISE_ROLES)):
        raise PermissionDenied
    return place


@login_required
def place_dashboard(request, place_pk):
    place = _staff_place(request.user, place_pk)
    user = request.user
    policy = services.policy_for(place)
    return render(request, "points/place.html", {
        "place": place,
        "can_manage": user.has_perm("points.manage", place),
        "can_organise": user.has_perm("points.create_activity", place),
        "rules": services.rules_for(place) | PointsRule.objects.filter(place__path__startswith=place.path,
                                                                       active=True),
        "items": Item.objects.filter(place__path__startswith=place.path).select_related("place"),
        "activities": Activity.objects.filter(place__path__startswith=place.path).select_related("place")[:30],
        "n_claims": len(services.pending_claims(user, place)),
        "policy": policy,
        "policy_form": PolicyForm(initial={k: getattr(policy, k) for k in services.POLICY_FIELDS})
        if user.has_perm("points.manage", place) and place.kind in COMMUNITY_KINDS else None,
    })


def _handle(request, form, func, success, target):
    """A valid POST of `form` → one service call with its data → redirect to `target`; else None (render)."""
    if request.method == "POST" and form.is_valid():
        _r, ok = attempt(request, form, lambda: func(**form.cleaned_data), success)
        if ok:
            return redirect(*target)
    return None


@login_required
def rules_page(request, place_pk):
    place = _staff_place(request.user, place_pk)
    can_manage = request.user.has_perm("points.manage", place)
    form = RuleForm(request.POST or None) if can_manage else None
    if request.method == "POST" and not can_manage:
        raise PermissionDenied
    done = form and _handle(request, form, lambda **d: services.create_rule(request.user, place, **d),
                            _("Rule added."), ("points:rules", place.pk))
    if done:
        return done
    return render(request, "points/rules.html", {
        "place": place, "form": form,
        "rules": PointsRule.objects.filter(place__path__startswith=place.path) | services.rules_for(place),
    })


@login_required
@require_POST
def rule_toggle(request, pk):
    rule = get_object_or_404(PointsRule.objects.select_related("place"), pk=pk)
    services.update_rule(request.user, rule, active=not rule.active)
    messages.success(request, _("Saved."))
    return redirect("points:rules", rule.place_id)


@login_required
def claims_page(request, place_pk):
    place = _staff_place(request.user, place_pk)
    if request.method == "POST":
        claim = get_object_or_404(Claim.objects.select_related("rule__place", "account__place"),
                                  pk=_pk(request.POST.get("claim")))
        try:
            if request.POST.get("action") == "approve":
                services.approve_claim(request.user, claim)
                messages.success(request, _("Approved; the points are in the account."))
            else:
                form = RejectForm(request.POST)
                services.reject_claim(request.user, claim,
                                      reason=form.cleaned_data["reason"] if form.is_valid() else "")
                messages.success(request, _("Rejected."))
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        return redirect("points:claims", place.pk)
    return render(request, "points/claims.html", {"place": place,
                                                  "claims": services.pending_claims(request.user, place)})


@login_required
def claim_evidence(request, pk):
    from django.http import FileResponse
    claim = get_object_or_404(Claim.objects.select_related("rule__place", "account__place"), pk=pk)
    if not (request.user.has_perm("points.decide_claim", claim) or claim.claimant_id == request.user.pk):
        raise PermissionDenied
    if not claim.evidence:
        raise PermissionDenied
    return FileResponse(claim.evidence.open("rb"))


@login_required
def activity_new(request, place_pk):
    place = get_object_or_404(Place, pk=place_pk)
    require(request.user, "points.create_activity", place)
    form = ActivityForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            activity = services.create_activity(request.user, place, **form.cleaned_data)
        except ValidationError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Activity published."))
            return redirect("points:activity", activity.pk)
    return render(request, "points/activity_form.html", {"place": place, "form": form})


@login_required
def items_page(request, place_pk):
    place = get_object_or_404(Place, pk=place_pk)
    require(request.user, "points.manage", place)
    form = ItemForm(request.POST if request.method == "POST" and request.POST.get("action") != "stock" else None)
    if request.method == "POST" and request.POST.get("action") == "stock":
        item = get_object_or_404(Item, pk=_pk(request.POST.get("item")), place__path__startswith=place.path)
        stock_form = StockForm(request.POST)
        try:
            if not stock_form.is_valid():
                raise ValidationError({"stock": _("Stock cannot be negative.")})
            services.update_item(request.user, item, stock=stock_form.cleaned_data["stock"])
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, _("Saved."))
        return redirect("points:items", place.pk)
    done = _handle(request, form, lambda **d: services.create_item(request.user, place, **d), _("Item added."),
                   ("points:items", place.pk))
    if done:
        return done
    return render(request, "points/items.html", {
        "place": place, "form": form, "items": Item.objects.filter(place__path__startswith=place.path)})


@login_required
def counter(request):
    pending = services.counter_queue(request.user)
    form = CounterForm(request.POST or None)
    done = None
    if request.method == "POST" and form.is_valid():
        try:
            done = services.confirm_redemption(request.user, form.cleaned_data["code"])
        except ValidationError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Handed over: %(item)s × %(n)d to %(who)s.")
                             % {"item": done.item.name, "n": done.quantity, "who": done.account})
            form = CounterForm()
    return render(request, "points/counter.html", {"form": form, "done": done, "pending": pending[:50]})


@login_required
def account_detail(request, pk):
    account = get_object_or_404(Account.objects.select_related("place", "person", "household"), pk=pk)
    require(request.user, "points.view_account", account)
    can_award = request.user.has_perm("points.award", account)
    award_form = AwardForm(request.POST if request.POST.get("action") == "award" else None,
                           initial={"key": services.new_key()}, rules=services.rules_for(account.place))
    reverse_form = ReverseForm(request.POST or None)
    if request.POST.get("action") == "award":
        done = _handle(request, award_form, lambda **d: services.award(request.user, account, **d), _("Saved."),
                       ("points:account", account.pk))
        if done:
            return done
    elif request.method == "POST":
        entry = get_object_or_404(Entry, pk=_pk(request.POST.get("entry")), account=account)
        try:
            if not reverse_form.is_valid():
                raise ValidationError({"reason": _("Write down why the entry is reversed.")})
            services.reverse_entry(request.user, entry, reason=reverse_form.cleaned_data["reason"])
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, _("Entry reversed."))
        return redirect("points:account", account.pk)
    household = account.household or (account.person.household if account.person_id else None)
    return render(request, "points/account.html", {
        "account": account, "entries": account.entries.select_related("actor", "rule", "reverses")[:200],
        "household": household if household and request.user.has_perm("points.view_household", household) else None,
        "can_reverse": request.user.has_perm("points.reverse_entry", account),
        "award_form": award_form if can_award else None})


@login_required
def volunteer_record(request, pk):
    account = get_object_or_404(Account.objects.select_related("place", "person", "household"), pk=pk)
    return xlsx_response(services.volunteer_record_workbook(request.user, account), f"volunteer-{account.pk}.xlsx")


@login_required
def household_detail(request, pk):
    household = get_object_or_404(Household.objects.select_related("place"), pk=pk)
    points = services.household_points(request.user, household)
    if request.method == "POST":
        services.open_household_account(request.user, household)
        messages.success(request, _("Household account opened."))
        return redirect("points:household", household.pk)
    return render(request, "points/household.html", {
        "points": points, "household": household, "entries": points.entries()[:200],
        "can_open": points.account is None and request.user.has_perm("points.award", household)})


@login_required
def households_page(request, place_pk):
    place = get_object_or_404(Place, pk=place_pk)
    query = request.GET.get("q", "")
    households = services.households_in(request.user, place, query)
    return render(request, "points/households.html", {"place": place, "q": query, "households": households[:100],
                                                      "more": households[100:101].exists()})


@login_required
@require_POST
def policy(request, place_pk):
    place = get_object_or_404(Place, pk=place_pk)
    form = PolicyForm(request.POST)
    form.is_valid()  # two check boxes: anything unticked is False
    services.set_policy(request.user, place, **form.cleaned_data)
    messages.success(request, _("Saved."))
    return redirect("points:place", place.pk)


def leaderboard(request, place_pk):
    """Public where the community switched it on; no login needed then."""
    place = get_object_or_404(Place, pk=place_pk)
    return render(request, "points/leaderboard.html", {
        "place": place, "rows": services.leaderboard(request.user, place),
        "policy": services.policy_for(place)})


@login_required
def report_page(request, place_pk):
    place = get_object_or_404(Place, pk=place_pk)
    require(request.user, "points.report", place)
    form = PeriodForm(request.GET or None)
    period = form.cleaned_data if form.is_valid() else {}
    since, until = services.day_start(period.get("since")), services.day_start(period.get("until"))
    if request.GET.get("format") == "xlsx":
        return xlsx_response(services.report_workbook(request.user, place, since, until), f"points-{place.pk}.xlsx")
    return render(request, "points/report.html", {"form": form, "query": request.GET.urlencode(),
                                                  **services.report(request.user, place, since, until)})
