"""Register pages: household, person (full record, logged), visits, door-knocking list, import/export."""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gongzhi.core.forms import attempt
from gongzhi.core.http import xlsx_response
from gongzhi.places.models import COMMUNITY_KINDS, Place

from . import oneform, personal, services
from .forms import AnonymiseForm, DepartureForm, HouseholdForm, ImportForm, PersonForm, VisitForm
from .models import Household, Person


def _person(pk) -> Person:
    return get_object_or_404(Person.objects.select_related("household__place"), pk=pk)


def _errors_text(form) -> str:
    return " ".join(e for errs in form.errors.values() for e in errs)


def _household(user, pk) -> Household:
    household = get_object_or_404(Household.objects.select_related("place"), pk=pk)
    services.require(user, "registry.view_household", household)
    return household


@login_required
@require_POST
def household_create(request, place_pk):
    place = get_object_or_404(Place, pk=place_pk)
    form = HouseholdForm(request.POST)
    if form.is_valid():
        household, ok = attempt(request, form, lambda: services.create_household(
            request.user, place=place, **form.cleaned_data), _("Household registered."))
        if ok:
            return redirect("registry:household", household.pk)
    messages.error(request, _("The household was not registered: %(errors)s") % {"errors": _errors_text(form)})
    return redirect("places:detail", place.pk)


@login_required
def household_detail(request, pk):
    household = _household(request.user, pk)
    can_edit = request.user.has_perm("registry.change_household", household)
    form = PersonForm(request.POST or None) if can_edit else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            _r, ok = attempt(request, form, lambda: services.add_person(request.user, household, **form.cleaned_data),
                             _("Person added."))
            if ok:
                return redirect("registry:household", household.pk)
    return render(request, "registry/household.html", {
        "household": household,
        "members": household.members.all(),
        "visits": household.visits.select_related("visitor")[:20],
        "person_form": form,
        "can_visit": request.user.has_perm("registry.visit_household", household),
        "can_view_full": can_edit,
    })


@login_required
def person_detail(request, pk):
    person = _person(pk)
    services.view_person_full(request.user, person, request=request)
    can_edit = request.user.has_perm("registry.change_person", person)
    form = None
    if can_edit:
        initial = {f: getattr(person, f) for f in services.PERSON_FIELDS}
        form = PersonForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            _r, ok = attempt(request, form, lambda: services.update_person(request.user, person, **form.cleaned_data),
                             _("Saved."))
            if ok:
                return redirect("registry:person", person.pk)
    elif request.method == "POST":
        raise PermissionDenied
    return render(request, "registry/person.html", {
        "person": person, "form": form if not person.anonymised_at else None,
        "departure_form": DepartureForm(initial={"departed": person.departed, "departed_on": person.departed_on})
        if can_edit and not person.anonymised_at else None,
        "can_anonymise": request.user.has_perm("registry.anonymise_person", person) and not person.anonymised_at,
        "anonymisable_from": services.anonymisable_from(person),
    })


@login_required
@require_POST
def person_departure(request, pk):
    person = _person(pk)
    form = DepartureForm(request.POST)
    if form.is_valid():
        _r, ok = attempt(request, form, lambda: services.record_departure(request.user, person, **form.cleaned_data),
                         _("Saved."))
        if ok:
            return redirect("registry:person", person.pk)
    messages.error(request, _errors_text(form))
    return redirect("registry:person", person.pk)


@login_required
def person_anonymise(request, pk):
    """Confirm, then irreversibly anonymise a record whose purpose has ended."""
    person = _person(pk)
    services.require(request.user, "registry.anonymise_person", person)
    form = AnonymiseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _r, ok = attempt(request, form, lambda: services.anonymise_person(
            request.user, person, reason=form.cleaned_data["reason"], confirmed=form.cleaned_data["confirm"]),
            _("The record has been anonymised."))
        if ok:
            return redirect("registry:household", person.household_id) if person.household_id else redirect("core:home")
    return render(request, "registry/anonymise.html", {
        "person": person, "form": form, "anonymisable_from": services.anonymisable_from(person)})


def privacy(request):
    """The privacy notice (PIPL art. 17): public, linked from every page's footer and the login page."""
    return render(request, "registry/privacy.html", {
        "person_retention_days": settings.GONGZHI_PERSON_RETENTION_DAYS,
        "audit_retention_days": settings.GONGZHI_AUDIT_RETENTION_DAYS,
        "contact": settings.GONGZHI_PRIVACY_CONTACT,
    })


@login_required
def my_data(request):
    return render(request, "registry/my_data.html", {"sections": personal.held_about(request.user)})


@login_required
def my_data_download(request, fmt):
    if fmt not in personal.FORMATS:
        raise Http404
    data = personal.download(request.user, fmt, request=request)
    if fmt == "xlsx":
        return xlsx_response(data, "my-data.xlsx")
    response = HttpResponse(data, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response


@login_required
def visit_create(request, household_pk):
    household = _household(request.user, household_pk)
    form = VisitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _r, ok = attempt(request, form, lambda: services.record_visit(request.user, household, **form.cleaned_data),
                         _("Visit recorded."))
        if ok:
            grid = services.grid_of(household.place)
            return redirect("registry:unvisited", grid.pk) if grid else redirect("registry:household", household.pk)
    return render(request, "registry/visit_form.html", {"household": household, "form": form})


@login_required
def unvisited(request, place_pk):
    place = get_object_or_404(Place, pk=place_pk)
    if not request.user.has_perm("places.view_place", place):
        raise PermissionDenied
    days = request.GET.get("days")
    days = int(days) if days and days.isdigit() and 0 < int(days) < 3650 else settings.GONGZHI_VISIT_ROUND_DAYS
    rows = services.unvisited_households(request.user, place, days)[:500]
    return render(request, "registry/unvisited.html", {"place": place, "rows": rows, "days": days})


def _import_communities(user):
    places = user.scope.filter(Place.objects.filter(kind__in=COMMUNITY_KINDS), path_field="path")
    return Place.objects.filter(pk__in=[p.pk for p in places if user.has_perm("registry.import_register", p)])


STASH_DIR = "imports"


@login_required
def import_page(request):
    communities = _import_communities(request.user)
    if not communities.exists():
        raise PermissionDenied
    form = ImportForm(request.POST or None, request.FILES or None, communities=communities)
    report = stash = None
    if request.method == "POST" and request.POST.get("stash"):
        # Second step: write the file that the dry run checked.
        stash = request.session.get("import_stash", {}).get(request.POST["stash"])
        if stash is None:
            messages.error(request, _("That dry run has expired; please upload the file again."))
            return redirect("registry:import")
        community = get_object_or_404(communities, pk=stash["community"])
        path = Path(settings.MEDIA_ROOT) / STASH_DIR / stash["file"]
        try:
            report = oneform.import_register(request.user, community, stash["name"], path.read_bytes(),
                                             dry_run=False, request=request)
        finally:
            path.unlink(missing_ok=True)
            request.session["import_stash"].pop(request.POST["stash"], None)
            request.session.modified = True
        if report.written:
            messages.success(request, _("Import finished."))
        stash = None
    elif request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            oneform.check_size(upload.size)  # before reading it into memory
            data = upload.read()
            report = oneform.import_register(request.user, form.cleaned_data["community"], upload.name, data,
                                             dry_run=True, request=request)
        except ValidationError as exc:
            form.add_error("file", exc.messages)
        else:
            if report.ok:
                token = secrets.token_urlsafe(16)
                folder = Path(settings.MEDIA_ROOT) / STASH_DIR
                folder.mkdir(parents=True, exist_ok=True)
                (folder / token).write_bytes(data)
                request.session.setdefault("import_stash", {})[token] = {
                    "file": token, "name": upload.name, "community": form.cleaned_data["community"].pk}
                request.session.modified = True
                stash = token
    return render(request, "registry/import.html", {"form": form, "report": report, "stash": stash})


@login_required
def export(request, place_pk):
    place = get_object_or_404(Place, pk=place_pk)
    data = oneform.export_register(request.user, place, full=request.GET.get("full") == "1", request=request)
    return xlsx_response(data, f"register-{place.pk}.xlsx")


def import_template(request):
    return xlsx_response(oneform.template_workbook(), "yibiaotong-template.xlsx")
