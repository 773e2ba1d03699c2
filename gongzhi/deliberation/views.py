"""Deliberation pages: phone (topics near me, sign, vote, check in), desk (convene, minutes, votes), public page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gongzhi.accounts.scope import home_place
from gongzhi.core.forms import show_errors
from gongzhi.places.models import Place
from gongzhi.registry.services import require

from . import services
from .forms import (MeetingForm, MinutesForm, PaperBallotForm, PaperSignaturesForm, RatingForm, ResolutionForm,
                    TopicForm, VoteForm)
from .models import Meeting, Resolution, Topic, Vote
from .rules import DELIBERATION_STAFF_ROLES

OPTION_LABELS = {"yes": gettext_lazy("Agree"), "no": gettext_lazy("Disagree"), "abstain": gettext_lazy("Abstain")}


def option_label(option):
    return OPTION_LABELS.get(option, option)


def _attempt(request, form, action, success):
    """Run a service call; show its ValidationError on the form (or as a message) instead of a crash page."""
    try:
        result = action()
    except ValidationError as exc:
        if form is not None:
            show_errors(form, exc)
        else:
            messages.error(request, " ".join(exc.messages))
        return None, False
    messages.success(request, success)
    return result, True


@login_required
def index(request):
    user = request.user
    home = home_place(user)
    near = services.topics_near(user)
    ids = [int(p) for p in home.path.strip("/").split("/") if p] if home else []
    return render(request, "deliberation/index.html", {
        "topics": near.exclude(status__in=[Topic.Status.MERGED, Topic.Status.DECLINED])[:50],
        "votes": Vote.objects.filter(place_id__in=ids, status=Vote.Status.OPEN),
        "meetings": Meeting.objects.filter(place_id__in=ids)[:10],
        "desk_places": user.scope.top_places(DELIBERATION_STAFF_ROLES),
        "home": home,
    })


@login_required
def topic_new(request):
    home = home_place(request.user)
    ids = [int(p) for p in home.path.strip("/").split("/") if p] if home else []
    places = Place.objects.filter(pk__in=ids)
    form = TopicForm(request.POST or None, places=places)
    if request.method == "POST" and form.is_valid():
        topic, ok = _attempt(request, form, lambda: services.raise_topic(request.user, **form.cleaned_data),
                             _("Topic raised; invite your neighbours to co-sign."))
        if ok:
            return redirect("deliberation:topic", topic.pk)
    return render(request, "deliberation/topic_new.html", {"form": form})


@login_required
def topic_detail(request, pk):
    topic = get_object_or_404(Topic.objects.select_related("place"), pk=pk)
    require(request.user, "deliberation.view", topic)
    staff = request.user.has_perm("deliberation.manage", topic)
    paper_form = PaperSignaturesForm(request.POST or None, request.FILES or None) if staff else None
    if request.method == "POST":
        if request.POST.get("action") == "cosign":
            _attempt(request, None, lambda: services.cosign(request.user, topic), _("Thank you for co-signing."))
            return redirect("deliberation:topic", topic.pk)
        if request.POST.get("action") == "paper" and paper_form is not None and paper_form.is_valid():
            doors = [d.strip() for d in paper_form.cleaned_data["households"].replace("，", ",").split(",") if d.strip()]
            found = list(services.households_under(topic.place).filter(door_no__in=doors))
            if len(found) != len(set(doors)):
                paper_form.add_error("households", _("Some door numbers are not registered here: %(doors)s") % {
                    "doors": ", ".join(sorted(set(doors) - {h.door_no for h in found}))})
            else:
                _r, ok = _attempt(request, paper_form, lambda: services.add_paper_signatures(
                    request.user, topic, households=found, scan=paper_form.cleaned_data["scan"]),
                    _("Paper signatures entered."))
                if ok:
                    return redirect("deliberation:topic", topic.pk)
    person = getattr(request.user, "person", None)
    signed = person is not None and topic.signatures.filter(household_id=person.household_id).exists()
    topic.refresh_from_db()
    return render(request, "deliberation/topic.html", {
        "topic": topic, "count": topic.signatures.count(), "signed": signed, "staff": staff,
        "can_sign": request.user.has_perm("deliberation.cosign", topic), "paper_form": paper_form})


@login_required
def desk(request, place_pk):
    place = get_object_or_404(Place, pk=place_pk)
    require(request.user, "deliberation.manage", place)
    topics = Topic.objects.filter(place__path__startswith=place.path).exclude(
        status__in=[Topic.Status.MERGED, Topic.Status.DECLINED])
    action = request.POST.get("action") if request.method == "POST" else None
    meeting_form = MeetingForm(request.POST if action == "meeting" else None, topics=topics, prefix="m")
    vote_form = VoteForm(request.POST if action == "vote" else None, topics=topics, prefix="v")
    if action == "meeting" and meeting_form.is_valid():
        meeting, ok = _attempt(request, meeting_form, lambda: services.convene_meeting(
            request.user, place=place, **meeting_form.cleaned_data), _("Meeting convened."))
        if ok:
            return redirect("deliberation:meeting", meeting.pk)
    if action == "vote" and vote_form.is_valid():
        d = vote_form.cleaned_data
        vote, ok = _attempt(request, vote_form, lambda: services.open_vote(
            request.user, place=place, title=d["title"], rules=vote_form.rules(), topic=d["topic"],
            secret=d["secret"]), _("Vote opened."))
        if ok:
            return redirect("deliberation:vote", vote.pk)
    return render(request, "deliberation/desk.html", {
        "place": place, "topics": topics, "meeting_form": meeting_form, "vote_form": vote_form,
        "meetings": Meeting.objects.filter(place__path__startswith=place.path)[:20],
        "votes": Vote.objects.filter(place__path__startswith=place.path)[:20]})


@login_required
def meeting_detail(request, pk):
    meeting = get_object_or_404(Meeting.objects.select_related("place"), pk=pk)
    invited = meeting.invitees.filter(pk=request.user.pk).exists()
    if not invited:
        require(request.user, "deliberation.view", meeting)
    staff = request.user.has_perm("deliberation.manage", meeting)
    minutes_form = MinutesForm(request.POST if request.POST.get("action") == "minutes" else None,
                               initial={"minutes": meeting.minutes}) if staff else None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "check_in":
            _attempt(request, None, lambda: services.check_in(request.user, meeting), _("Checked in."))
            return redirect("deliberation:meeting", meeting.pk)
        if action == "check_in_name":
            _attempt(request, None, lambda: services.check_in(request.user, meeting,
                                                              name=request.POST.get("name", "")), _("Checked in."))
            return redirect("deliberation:meeting", meeting.pk)
        if action == "minutes" and minutes_form is not None and minutes_form.is_valid():
            _r, ok = _attempt(request, minutes_form, lambda: services.record_minutes(
                request.user, meeting, **minutes_form.cleaned_data), _("Minutes saved."))
            if ok:
                return redirect("deliberation:meeting", meeting.pk)
    checked_in = meeting.attendance.filter(user=request.user).exists()
    return render(request, "deliberation/meeting.html", {
        "meeting": meeting, "staff": staff, "minutes_form": minutes_form, "checked_in": checked_in,
        "attendance": meeting.attendance.all()})


def _result_rows(vote):
    if not vote.result:
        return []
    return [{"option": o, "label": option_label(o), "raw": vote.result["raw"]["heads"][o],
             "counted": vote.result["counted"]["heads"][o], "raw_area": vote.result["raw"]["areas"][o],
             "counted_area": vote.result["counted"]["areas"][o]} for o in vote.rules["options"]]


@login_required
def vote_detail(request, pk):
    vote = get_object_or_404(Vote.objects.select_related("place"), pk=pk)
    require(request.user, "deliberation.view", vote)
    staff = request.user.has_perm("deliberation.manage", vote)
    options = vote.rules["options"]
    action = request.POST.get("action") if request.method == "POST" else None
    paper_form = PaperBallotForm(request.POST if action == "paper" else None, options=options) if staff else None
    resolution_form = ResolutionForm(request.POST if action == "resolution" else None) if staff else None
    if action == "cast":
        _attempt(request, None, lambda: services.cast_ballot(request.user, vote, request.POST.get("option", "")),
                 _("Your vote has been recorded."))
        return redirect("deliberation:vote", vote.pk)
    if action == "paper" and paper_form is not None and paper_form.is_valid():
        d = paper_form.cleaned_data
        household = services.households_under(vote.place).filter(door_no=d["door_no"].strip()).first()
        if household is None:
            paper_form.add_error("door_no", _("No household with this door number here."))
        else:
            _r, ok = _attempt(request, paper_form, lambda: services.cast_ballot(
                request.user, vote, d["option"], channel=d["channel"], household=household,
                proxy_name=d["proxy_name"]), _("Ballot entered."))
            if ok:
                return redirect("deliberation:vote", vote.pk)
    if action == "close" and staff:
        _attempt(request, None, lambda: services.close_vote(request.user, vote), _("Vote closed and counted."))
        return redirect("deliberation:vote", vote.pk)
    if action == "resolution" and resolution_form is not None and resolution_form.is_valid():
        res, ok = _attempt(request, resolution_form, lambda: services.create_resolution(
            request.user, place=vote.place, vote=vote, **resolution_form.cleaned_data), _("Resolution recorded."))
        if ok:
            return redirect("deliberation:public", vote.place_id)
    person = getattr(request.user, "person", None)
    voted = person is not None and vote.ballots.filter(household_id=person.household_id).exists()
    return render(request, "deliberation/vote.html", {
        "vote": vote, "staff": staff, "options": [(o, option_label(o)) for o in options], "voted": voted,
        "paper_form": paper_form, "resolution_form": resolution_form, "rows": _result_rows(vote),
        "n_ballots": vote.ballots.count(), "n_electorate": len(vote.electorate),
        "has_resolution": Resolution.objects.filter(vote=vote).exists()})


@login_required
def resolution_detail(request, pk):
    resolution = get_object_or_404(Resolution, pk=pk)
    form = RatingForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            _r, ok = _attempt(request, form, lambda: services.rate(request.user, resolution, **form.cleaned_data),
                              _("Thank you for your rating."))
            if ok:
                return redirect("deliberation:public", resolution.place_id)
    return render(request, "deliberation/resolution.html", {"resolution": resolution, "form": form})


def public(request, place_pk):
    """No login: resolutions, vote tallies, minutes and the adopted convention of a place."""
    place = get_object_or_404(Place, pk=place_pk)
    under = {"place__path__startswith": place.path}
    votes = list(Vote.objects.filter(status=Vote.Status.CLOSED, **under)[:50])
    return render(request, "deliberation/public.html", {
        "place": place,
        "resolutions": Resolution.objects.filter(**under).prefetch_related("tasks", "progress")[:50],
        "votes": [(v, _result_rows(v)) for v in votes],
        "meetings": Meeting.objects.filter(**under).exclude(minutes="")[:50],
        "topics": Topic.objects.filter(**under)[:50],
        "convention": services.adopted_version(place),
    })
