"""Deliberation pages: phone (topics near me, sign, comment, my votes, check in by QR), desk (convene, invite,
minutes, votes, paper and proxy ballots, tasks, conventions), and the public page."""

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gongzhi.accounts.models import RoleAssignment, User
from gongzhi.accounts.roles import Role
from gongzhi.accounts.scope import home_place
from gongzhi.core.forms import attempt
from gongzhi.core.qr import qr_svg
from gongzhi.places.models import Place
from gongzhi.registry.services import require

from . import services
from .forms import (CommentForm, ConventionForm, DeclineForm, DocumentForm, InviteForm, MeetingForm, MergeForm,
                    MinutesForm, PaperBallotForm, PaperSignaturesForm, ProgressForm, RatingForm, ResolutionForm,
                    ReviewForm, TaskForm, TopicForm, VersionForm, VoteForm)
from .models import Convention, ConventionVersion, Meeting, Notice, Resolution, Topic, Vote
from .rules import DELIBERATION_STAFF_ROLES

OPTION_LABELS = {"yes": gettext_lazy("Agree"), "no": gettext_lazy("Disagree"), "abstain": gettext_lazy("Abstain")}
VOTER_UNITS = {"person": gettext_lazy("one vote per adult"), "household": gettext_lazy("one vote per household"),
               "owner": gettext_lazy("owners")}
MAJORITIES = {"simple": gettext_lazy("more than half"), "two_thirds": gettext_lazy("at least two thirds"),
              "three_quarters": gettext_lazy("at least three quarters")}


def option_label(option):
    return OPTION_LABELS.get(option, option)


def _bound(form_class, request, action, prefix=None, **kwargs):
    """A form bound to the POST only when the POST is for this form's action."""
    mine = request.method == "POST" and request.POST.get("action") == action
    return form_class(request.POST if mine else None, request.FILES if mine else None, prefix=prefix, **kwargs)


def _home_places(user):
    home = home_place(user)
    return Place.objects.filter(pk__in=services.ancestor_ids(home)) if home else Place.objects.none()


def _settings_source(place):
    """The motion threshold and silent-majority setting in force at a place, with the adopted clause they come
    from (or the defaults)."""
    version = services.adopted_version(place)
    return {"version": version, "motion_percent": services.motion_percent(place),
            "silent_majority": bool(version and version.silent_majority)}


# ---------------------------------------------------------------- residents' phone pages

@login_required
def index(request):
    user = request.user
    home = home_place(user)
    ids = services.ancestor_ids(home) if home else []
    return render(request, "deliberation/index.html", {
        "topics": services.topics_near(user).exclude(status__in=services.CLOSED_TOPIC)[:50],
        "votes": Vote.objects.filter(place_id__in=ids, status=Vote.Status.OPEN),
        "meetings": Meeting.objects.filter(place_id__in=ids)[:10],
        "invited": user.meeting_invitations.order_by("-starts_at")[:10],
        "unread": Notice.objects.filter(recipient=user, read=False).count(),
        "desk_places": user.scope.top_places(DELIBERATION_STAFF_ROLES),
        "home": home,
    })


@login_required
def my_votes(request):
    return render(request, "deliberation/my_votes.html", {"rows": services.my_votes(request.user)})


@login_required
def notices(request):
    mine = Notice.objects.filter(recipient=request.user)
    rows = list(mine[:100])
    mine.filter(read=False).update(read=True)
    return render(request, "deliberation/notices.html", {"notices": rows})


@login_required
def topic_new(request):
    form = TopicForm(request.POST or None, places=_home_places(request.user))
    if request.method == "POST" and form.is_valid():
        topic, ok = attempt(request, form, lambda: services.raise_topic(request.user, **form.cleaned_data),
                             _("Topic raised; invite your neighbours to co-sign."))
        if ok:
            return redirect("deliberation:topic", topic.pk)
    return render(request, "deliberation/topic_new.html", {"form": form})


def _paper_signatures(request, topic, form):
    """Door numbers on the sheet → households of the topic's place, then the service."""
    doors = [d.strip() for d in form.cleaned_data["households"].replace("，", ",").split(",") if d.strip()]
    found = list(services.households_under(topic.place).filter(door_no__in=doors))
    if len({h.door_no for h in found}) != len(set(doors)) or len(found) != len(set(doors)):
        missing = set(doors) - {h.door_no for h in found}
        if missing:
            form.add_error("households", _("Some door numbers are not registered here: %(doors)s") % {
                "doors": ", ".join(sorted(missing))})
        else:
            form.add_error("households", _("A door number is used by several households here; enter the sheet "
                                           "at the building or unit level."))
        return False
    _r, ok = attempt(request, form, lambda: services.add_paper_signatures(
        request.user, topic, households=found, scan=form.cleaned_data["scan"]), _("Paper signatures entered."))
    return ok


@login_required
def topic_detail(request, pk):
    topic = get_object_or_404(Topic.objects.select_related("place", "merged_into"), pk=pk)
    require(request.user, "deliberation.view", topic)
    staff = request.user.has_perm("deliberation.manage", topic)
    action = request.POST.get("action") if request.method == "POST" else None
    others = Topic.objects.filter(place=topic.place).exclude(pk=topic.pk).exclude(status__in=services.CLOSED_TOPIC)
    comment_form = _bound(CommentForm, request, "comment")
    paper_form = _bound(PaperSignaturesForm, request, "paper") if staff else None
    merge_form = _bound(MergeForm, request, "merge", prefix="merge", topics=others) if staff else None
    decline_form = _bound(DeclineForm, request, "decline", prefix="decline") if staff else None
    done = False
    if action == "cosign":
        attempt(request, None, lambda: services.cosign(request.user, topic), _("Thank you for co-signing."))
        done = True
    elif action == "comment" and comment_form.is_valid():
        _r, done = attempt(request, comment_form, lambda: services.comment(
            request.user, topic, text=comment_form.cleaned_data["text"]), _("Comment posted."))
    elif action == "paper" and paper_form is not None and paper_form.is_valid():
        done = _paper_signatures(request, topic, paper_form)
    elif action == "merge" and merge_form is not None and merge_form.is_valid():
        _r, done = attempt(request, merge_form, lambda: services.merge_topic(
            request.user, topic, merge_form.cleaned_data["into"], reason=merge_form.cleaned_data["reason"]),
            _("Topic merged."))
    elif action == "decline" and decline_form is not None and decline_form.is_valid():
        _r, done = attempt(request, decline_form, lambda: services.decline_topic(
            request.user, topic, reason=decline_form.cleaned_data["reason"]), _("Topic declined; the reason is public."))
    if done:
        return redirect("deliberation:topic", topic.pk)
    person = getattr(request.user, "person", None)
    signed = person is not None and topic.signatures.filter(household_id=person.household_id).exists()
    topic.refresh_from_db()
    return render(request, "deliberation/topic.html", {
        "topic": topic, "count": topic.signatures.count(), "signed": signed, "staff": staff,
        "can_sign": request.user.has_perm("deliberation.cosign", topic), "paper_form": paper_form,
        "merge_form": merge_form if others.exists() else None, "decline_form": decline_form,
        "comment_form": comment_form, "comments": topic.comments.select_related("author"),
        "closed": topic.status in services.CLOSED_TOPIC, "source": services.adopted_version(topic.place)})


@login_required
def meeting_check_in(request, pk, code):
    """The page a phone opens after scanning the QR code at the venue."""
    meeting = get_object_or_404(Meeting.objects.select_related("place"), pk=pk)
    if request.method == "POST":
        _r, ok = attempt(request, None, lambda: services.check_in(request.user, meeting, code=code), _("Checked in."))
        if ok:
            return redirect("deliberation:meeting", meeting.pk)
    return render(request, "deliberation/check_in.html", {"meeting": meeting})


# ---------------------------------------------------------------- staff desk

def _line_topics(place):
    """Open topics a meeting or vote at `place` can take up: under it, or above it (a building meeting on its
    estate's topic)."""
    return Topic.objects.filter(Q(place__path__startswith=place.path) | Q(place_id__in=services.ancestor_ids(place))
                                ).exclude(status__in=services.CLOSED_TOPIC).select_related("place")


@login_required
def desk(request, place_pk):
    place = get_object_or_404(Place, pk=place_pk)
    require(request.user, "deliberation.manage", place)
    topics = _line_topics(place)
    action = request.POST.get("action") if request.method == "POST" else None
    meeting_form = MeetingForm(request.POST if action == "meeting" else None, topics=topics, prefix="m")
    vote_form = VoteForm(request.POST if action == "vote" else None, topics=topics, prefix="v")
    if action == "meeting" and meeting_form.is_valid():
        meeting, ok = attempt(request, meeting_form, lambda: services.convene_meeting(
            request.user, place=place, **meeting_form.cleaned_data), _("Meeting convened."))
        if ok:
            return redirect("deliberation:meeting", meeting.pk)
    if action == "vote" and vote_form.is_valid():
        d = vote_form.cleaned_data
        vote, ok = attempt(request, vote_form, lambda: services.open_vote(
            request.user, place=place, title=d["title"], rules=vote_form.rules(), topic=d["topic"],
            secret=d["secret"]), _("Vote opened."))
        if ok:
            return redirect("deliberation:vote", vote.pk)
    under = {"place__path__startswith": place.path}
    return render(request, "deliberation/desk.html", {
        "place": place, "topics": topics, "meeting_form": meeting_form, "vote_form": vote_form,
        "meetings": Meeting.objects.filter(**under)[:20], "votes": Vote.objects.filter(**under)[:20],
        "resolutions": Resolution.objects.filter(**under)[:20], "settings": _settings_source(place)})


def _invite_places(meeting):
    """The meeting's place and the places under it down to buildings (rules name a community, estate, building)."""
    return Place.objects.filter(path__startswith=meeting.place.path).exclude(
        kind__in=["unit"]).order_by("path")


@login_required
def meeting_detail(request, pk):
    meeting = get_object_or_404(Meeting.objects.select_related("place"), pk=pk)
    user = request.user
    if not meeting.invitees.filter(pk=user.pk).exists():
        require(user, "deliberation.view", meeting)
    staff = user.has_perm("deliberation.manage", meeting)
    action = request.POST.get("action") if request.method == "POST" else None
    topics = _line_topics(meeting.place)
    forms = {}
    if staff:
        edit_initial = {"kind": meeting.kind, "title": meeting.title, "starts_at": meeting.starts_at,
                        "location": meeting.location, "online_url": meeting.online_url,
                        "agenda": list(meeting.agenda.all())}
        forms = {
            "edit": MeetingForm(request.POST if action == "edit" else None, topics=topics, prefix="e",
                                initial=edit_initial),
            "invite": _bound(InviteForm, request, "invite", rules=services.INVITE_RULES,
                             places=_invite_places(meeting)),
            "document": _bound(DocumentForm, request, "document"),
            "minutes": MinutesForm(request.POST if action == "minutes" else None, initial={"minutes": meeting.minutes}),
        }
    done = False
    if action == "check_in":
        attempt(request, None, lambda: services.check_in(user, meeting), _("Checked in."))
        done = True
    elif action == "check_in_name":
        attempt(request, None, lambda: services.check_in(user, meeting, name=request.POST.get("name", "")),
                 _("Checked in."))
        done = True
    elif action in forms and forms[action].is_valid():
        form, d = forms[action], forms[action].cleaned_data
        calls = {
            "edit": (lambda: services.update_meeting(user, meeting, **d), _("Meeting updated; invitees notified.")),
            "invite": (lambda: services.invite_by_rule(user, meeting, **d), _("Invitations sent.")),
            "document": (lambda: services.attach_document(user, meeting, **d), _("Document attached.")),
            "minutes": (lambda: services.record_minutes(user, meeting, **d), _("Minutes saved.")),
        }
        _r, done = attempt(request, form, *calls[action])
    if done:
        return redirect("deliberation:meeting", meeting.pk)
    context = {"meeting": meeting, "staff": staff, "forms": forms,
               "checked_in": meeting.attendance.filter(user=user).exists(), "attendance": meeting.attendance.all(),
               "invitees": meeting.invitees.order_by("full_name")}
    if staff:
        url = request.build_absolute_uri(reverse("deliberation:check_in", args=[meeting.pk, meeting.checkin_code]))
        context.update(checkin_url=url, qr=qr_svg(url))
    return render(request, "deliberation/meeting.html", context)


def _result_rows(vote):
    if not vote.result:
        return []
    return [{"option": o, "label": option_label(o), "raw": vote.result["raw"]["heads"][o],
             "counted": vote.result["counted"]["heads"][o], "raw_area": vote.result["raw"]["areas"][o],
             "counted_area": vote.result["counted"]["areas"][o]} for o in vote.rules["options"]]


def _rules_summary(vote) -> list[str]:
    """The frozen rules of a vote, in words."""
    r = vote.vote_rules
    lines = [_("Who votes: %(unit)s") % {"unit": VOTER_UNITS[r.voter_unit]}]
    if r.owners_assembly:
        lines.append(_("Owners' assembly (Civil Code art. 278): owners of at least 2/3 of the area and 2/3 of the "
                       "owners take part; approval by %(share)s of the participating area and owners.")
                     % {"share": _("at least 3/4") if r.major_matter else _("more than half")})
    else:
        lines.append(_("Weight: %(w)s") % {"w": _("floor area") if r.weighting == "area" else _("one each")})
        lines.append(_("Quorum: %(q)s of the electorate") % {"q": f"{float(r.quorum) * 100:.0f}%"})
        lines.append(_("Passing: %(m)s of %(d)s") % {"m": MAJORITIES[r.majority], "d": _("votes cast") if
                     r.denominator == "cast" else _("the whole electorate")})
    if r.silent_majority:
        lines.append(_("Silent majority follows: those who do not vote are counted with the leading option."))
    lines.append(_("Secret ballot") if vote.secret else _("Named ballot"))
    return lines


def _paper_ballot(request, vote, form):
    d = form.cleaned_data
    households = list(services.households_under(vote.place).filter(door_no=d["door_no"].strip()))
    if len(households) != 1:
        form.add_error("door_no", _("No household with this door number here.") if not households else
                       _("Several households here have this door number; enter the ballot at the building level."))
        return False
    _r, ok = attempt(request, form, lambda: services.cast_ballot(
        request.user, vote, d["option"], channel=d["channel"], household=households[0], proxy_name=d["proxy_name"],
        authorisation=d["authorisation"]), _("Ballot entered."))
    return ok


@login_required
def vote_detail(request, pk):
    vote = get_object_or_404(Vote.objects.select_related("place", "convention_version__convention"), pk=pk)
    require(request.user, "deliberation.view", vote)
    staff = request.user.has_perm("deliberation.manage", vote)
    options = [(o, option_label(o)) for o in vote.rules["options"]]
    action = request.POST.get("action") if request.method == "POST" else None
    paper_form = _bound(PaperBallotForm, request, "paper", options=options) if staff else None
    resolution_form = _bound(ResolutionForm, request, "resolution") if staff else None
    done = False
    if action == "cast":
        attempt(request, None, lambda: services.cast_ballot(request.user, vote, request.POST.get("option", "")),
                 _("Your vote has been recorded."))
        done = True
    elif action == "paper" and paper_form is not None and paper_form.is_valid():
        done = _paper_ballot(request, vote, paper_form)
    elif action == "close" and staff:
        attempt(request, None, lambda: services.close_vote(request.user, vote), _("Vote closed and counted."))
        done = True
    elif action == "resolution" and resolution_form is not None and resolution_form.is_valid():
        res, ok = attempt(request, resolution_form, lambda: services.create_resolution(
            request.user, place=vote.place, vote=vote, **resolution_form.cleaned_data), _("Resolution recorded."))
        if ok:
            return redirect("deliberation:resolution", res.pk)
    if done:
        return redirect("deliberation:vote", vote.pk)
    person = getattr(request.user, "person", None)
    voted = person is not None and vote.ballots.filter(
        voter_key__in=[services.voter_key(person=person), services.voter_key(household=person.household)]).exists()
    return render(request, "deliberation/vote.html", {
        "vote": vote, "staff": staff, "options": options, "voted": voted, "rules": _rules_summary(vote),
        "paper_form": paper_form, "resolution_form": resolution_form, "rows": _result_rows(vote),
        "n_ballots": vote.ballots.count(), "n_electorate": len(vote.electorate),
        "not_voted": services.not_voted(request.user, vote) if staff and vote.status == Vote.Status.OPEN else None,
        "resolution": Resolution.objects.filter(vote=vote).first()})


def _task_owners(place):
    """Logins who can own a task: deliberation staff and post holders (building heads, representatives, party
    liaisons) at, above or under the resolution's place."""
    roles = DELIBERATION_STAFF_ROLES | {Role.BUILDING_HEAD, Role.REPRESENTATIVE, Role.PARTY_LIAISON}
    posts = RoleAssignment.objects.filter(active=True, role__in=roles).filter(
        Q(place_id__in=services.ancestor_ids(place)) | Q(place__path__startswith=place.path))
    return User.objects.filter(is_active=True, pk__in=posts.values("user_id")).order_by("full_name")


@login_required
def resolution_detail(request, pk):
    resolution = get_object_or_404(Resolution.objects.select_related("place", "vote"), pk=pk)
    user = request.user
    tasks = resolution.tasks.all()
    if not tasks.filter(owner=user).exists():  # a task owner may work from outside the place
        require(user, "deliberation.view", resolution)
    staff = user.has_perm("deliberation.manage", resolution)
    mine = tasks.filter(owner=user) if not staff else tasks
    action = request.POST.get("action") if request.method == "POST" else None
    task_form = _bound(TaskForm, request, "task", owners=_task_owners(resolution.place)) if staff else None
    progress_form = _bound(ProgressForm, request, "progress", tasks=mine.filter(done_at__isnull=True)) \
        if (staff or mine.exists()) else None
    rating_form = _bound(RatingForm, request, "rate")
    done = False
    if action == "task" and task_form is not None and task_form.is_valid():
        d = task_form.cleaned_data
        _r, done = attempt(request, task_form, lambda: services.add_task(
            user, resolution, title=d["title"], owner=d["owner"], owner_name=d["owner_name"], due=d["due"]),
            _("Task added."))
    elif action == "progress" and progress_form is not None and progress_form.is_valid():
        _r, done = attempt(request, progress_form, lambda: services.report_progress(
            user, resolution, **progress_form.cleaned_data), _("Progress recorded."))
    elif action == "rate" and rating_form.is_valid():
        _r, done = attempt(request, rating_form, lambda: services.rate(user, resolution, **rating_form.cleaned_data),
                            _("Thank you for your rating."))
    if done:
        return redirect("deliberation:resolution", resolution.pk)
    ratings = list(resolution.ratings.all())
    return render(request, "deliberation/resolution.html", {
        "resolution": resolution, "tasks": tasks, "staff": staff, "task_form": task_form,
        "progress_form": progress_form, "rating_form": rating_form, "progress": resolution.progress.select_related(
            "task"), "is_done": services.resolution_done(resolution),
        "can_rate": user.has_perm("deliberation.rate", resolution) and not any(r.user_id == user.pk for r in ratings),
        "ratings": ratings, "average": sum(r.score for r in ratings) / len(ratings) if ratings else None})


# ---------------------------------------------------------------- conventions

@login_required
def conventions(request, place_pk):
    place = get_object_or_404(Place, pk=place_pk)
    require(request.user, "deliberation.manage", place)
    form = _bound(ConventionForm, request, "create")
    if form.is_bound and form.is_valid():
        convention, ok = attempt(request, form, lambda: services.create_convention(
            request.user, place=place, **form.cleaned_data), _("Convention created; now draft its text."))
        if ok:
            return redirect("deliberation:convention", convention.pk)
    return render(request, "deliberation/conventions.html", {
        "place": place, "form": form, "settings": _settings_source(place),
        "conventions": Convention.objects.filter(place__path__startswith=place.path).select_related("place")})


@login_required
def convention_detail(request, pk):
    convention = get_object_or_404(Convention.objects.select_related("place"), pk=pk)
    user = request.user
    staff = user.has_perm("deliberation.manage", convention)
    reviewer = user.has_perm("deliberation.legal_review", convention)
    if not (staff or reviewer):
        require(user, "deliberation.manage", convention)
    versions = list(convention.versions.select_related("reviewed_by"))
    action = request.POST.get("action") if request.method == "POST" else None
    target = next((v for v in versions if str(v.pk) == request.POST.get("version")), None) if action else None
    draft_form = _bound(VersionForm, request, "draft") if staff else None
    review_form = _bound(ReviewForm, request, "review") if reviewer else None
    vote_form = VoteForm(request.POST if action == "vote" else None, topics=None, prefix="v",
                         initial={"title": _("Adopt %(title)s") % {"title": convention.title},
                                  "voter_unit": "owner" if convention.kind == Convention.Kind.MANAGEMENT
                                  else "household"}) if staff else None
    done = False
    if action == "draft" and draft_form is not None and draft_form.is_valid():
        _r, done = attempt(request, draft_form, lambda: services.draft_version(user, convention,
                                                                                **draft_form.cleaned_data),
                            _("New version drafted; it needs a legal review before the vote."))
    elif action == "review" and review_form is not None and target and review_form.is_valid():
        _r, done = attempt(request, review_form, lambda: services.legal_review(
            user, target, **review_form.cleaned_data), _("Legal review recorded."))
    elif action == "vote" and vote_form is not None and target and vote_form.is_valid():
        d = vote_form.cleaned_data
        vote, ok = attempt(request, vote_form, lambda: services.open_vote(
            user, place=convention.place, title=d["title"], rules=vote_form.rules(), convention_version=target,
            secret=d["secret"]), _("Vote opened."))
        if ok:
            return redirect("deliberation:vote", vote.pk)
    if done:
        return redirect("deliberation:convention", convention.pk)
    return render(request, "deliberation/convention.html", {
        "convention": convention, "versions": versions, "staff": staff, "reviewer": reviewer,
        "draft_form": draft_form, "review_form": review_form, "vote_form": vote_form, "target": target,
        "statuses": ConventionVersion.Status})


# ---------------------------------------------------------------- public

def public(request, place_pk):
    """No login: resolutions with tasks and ratings, vote tallies, minutes, topics (with reasons for declining or
    merging) and the adopted conventions of a place."""
    place = get_object_or_404(Place, pk=place_pk)
    under = {"place__path__startswith": place.path}
    votes = list(Vote.objects.filter(status=Vote.Status.CLOSED, **under)[:50])
    adopted = (ConventionVersion.objects.filter(status=ConventionVersion.Status.ADOPTED)
               .filter(convention__place_id__in=services.ancestor_ids(place)).select_related("convention__place"))
    return render(request, "deliberation/public.html", {
        "place": place,
        "resolutions": Resolution.objects.filter(**under).prefetch_related("tasks", "progress", "ratings")[:50],
        "votes": [(v, _result_rows(v)) for v in votes],
        "meetings": Meeting.objects.filter(**under).exclude(minutes="").prefetch_related("attendance")[:50],
        "topics": Topic.objects.filter(**under).select_related("merged_into")[:50],
        "adopted": adopted, "settings": _settings_source(place),
    })
