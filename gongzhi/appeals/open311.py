"""Open311 GeoReport v2 for appeals: discovery, services, service definitions, requests and tokens in XML or JSON."""

import json
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from functools import wraps

from django import forms
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Max, OuterRef, Subquery
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt

from gongzhi.accounts.models import ApiToken

from . import services
from .models import Appeal, AppealEvent, Category, Tier

SPEC = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ["text/xml", "application/json"]
MAX_REQUESTS = 1000             # the spec's default query limit
MAX_SPAN = timedelta(days=90)   # ... and its longest date range
S = Appeal.Status
CLOSED = (S.RESOLVED, S.CLOSED, S.REJECTED, S.MERGED)  # Open311 "closed"; every other status is "open"
ID = re.compile(r"^[0-9]{1,18}$")  # fits a bigint
CODE = re.compile(r"^[-\w]{1,40}$")  # a category code (slug); nothing else reaches a query
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
CJK = re.compile("[\u3400-\u9fff]")

# The service definition's attributes: code, datatype, required, description, choices (for the value lists).
ATTRIBUTES = [
    ("kind", "singlevaluelist", True, gettext_lazy("What kind of appeal is this?"), Appeal.Kind),
    ("urgency", "singlevaluelist", False,
     gettext_lazy("How urgent is it? Danger to life or property gets feedback within 2 hours."), Appeal.Urgency),
    ("title", "string", False, gettext_lazy("A short title; taken from the description when left out."), None),
]

STATUS_NOTES = {
    S.SUBMITTED: gettext_lazy("Submitted; waiting for %(unit)s to accept it."),
    S.ACCEPTED: gettext_lazy("Accepted by %(unit)s."),
    S.ASSIGNED: gettext_lazy("Assigned to a worker of %(unit)s."),
    S.IN_PROGRESS: gettext_lazy("Being handled by %(unit)s."),
    S.ON_HOLD: gettext_lazy("On hold at %(unit)s; the time limit is paused."),
    S.RESOLVED: gettext_lazy("Resolved by %(unit)s, waiting for the resident's rating. What was done: %(resolution)s"),
    S.CLOSED: gettext_lazy("Closed. What was done: %(resolution)s"),
    S.REJECTED: gettext_lazy("Not accepted: %(reason)s"),
    S.MERGED: gettext_lazy("Duplicate: handled together with request %(into)s."),
}

# Parameters of services.submit as an Open311 client calls them, for error messages.
PARAMS = {"kind": "attribute[kind]", "urgency": "attribute[urgency]", "title": "attribute[title]",
          "category": "service_code", "description": "description", "latitude": "lat", "longitude": "long",
          "place": "lat/long", "address": "address_string", "contact_name": "first_name",
          "contact_phone": "phone", "idempotency_key": "Idempotency-Key"}


class Open311Error(Exception):
    def __init__(self, status, *descriptions):
        super().__init__(*descriptions)
        self.status, self.descriptions = status, descriptions


# ---- documents: one tree of dicts, Items and plain values, written as XML or (Spark convention) JSON

class Items(list):
    """A repeated element: one <tag> per item in XML, an array in JSON."""

    def __init__(self, tag, items):
        super().__init__(items)
        self.tag = tag


def _fill(element, value):
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, Items):
        for item in value:
            _fill(ET.SubElement(element, value.tag), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = XML_INVALID.sub("", str(value))


def render(fmt, root, body, status=200):
    """The document in the asked format; JSON drops the root element as the spec's Spark convention does."""
    if fmt == "json":
        return HttpResponse(json.dumps(body, ensure_ascii=False), status=status,
                            content_type="application/json; charset=utf-8")
    element = ET.Element(root)
    _fill(element, body)
    text = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode")
    return HttpResponse(text.encode(), status=status, content_type="text/xml; charset=utf-8")


def errors(fmt, status, descriptions):
    return render(fmt, "errors", Items("error", [{"code": status, "description": str(d)} for d in descriptions]),
                  status)


def _messages(exc: ValidationError):
    """Each message of a ValidationError, led by the Open311 parameter it is about."""
    if not hasattr(exc, "error_dict"):
        return exc.messages
    return [msg if field == "__all__" else f"{PARAMS.get(field, field)}: {msg}"
            for field, msgs in exc.message_dict.items() for msg in msgs]


def jurisdiction(request) -> str:
    """Ours: GONGZHI_OPEN311_JURISDICTION, else the host name the site is reached on (as the spec suggests)."""
    return _bare(settings.GONGZHI_OPEN311_JURISDICTION or request.get_host().rsplit(":", 1)[0])


def _bare(host):
    return host.strip().lower().removeprefix("www.")


def endpoint(*methods):
    """Checks the method and jurisdiction_id, and turns every refusal into the spec's error document."""
    def decorate(view):
        @csrf_exempt  # external clients post without a CSRF token; the api_key authenticates them
        @wraps(view)
        def wrapped(request, fmt, **kwargs):
            try:
                if request.method not in methods and not (request.method == "HEAD" and "GET" in methods):
                    raise Open311Error(405, _("Use %(methods)s here.") % {"methods": " or ".join(methods)})
                given = request.GET.get("jurisdiction_id") or request.POST.get("jurisdiction_id") or ""
                if given.strip() and _bare(given) != jurisdiction(request):
                    raise Open311Error(404, _("Unknown jurisdiction_id “%(given)s”; this server serves “%(ours)s”.")
                                       % {"given": given, "ours": jurisdiction(request)})
                return view(request, fmt, **kwargs)
            except Open311Error as exc:
                response = errors(fmt, exc.status, exc.descriptions)
                if exc.status == 405:
                    response["Allow"] = ", ".join(methods)
                return response
            except ValidationError as exc:
                return errors(fmt, 400, _messages(exc))
            except PermissionDenied as exc:
                return errors(fmt, 403, [str(exc) or _("You may not do this.")])
        return wrapped
    return decorate


def unknown(request):
    fmt = "json" if request.path.endswith(".json") else "xml"
    return errors(fmt, 404, [_("No such Open311 resource. Addresses end in .xml or .json, e.g. services.xml.")])


def _w3(moment):
    """W3C/ISO 8601 with the offset, in the site's time zone: 2026-11-23T09:30:00+08:00."""
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else None


# ---- discovery

def _changeset():
    """When the service list last changed: the latest admin edit of a category, else when they were seeded."""
    edited = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Category)) \
        .aggregate(t=Max("action_time"))["t"]
    seeded = MigrationRecorder(connection).migration_qs.filter(app="appeals").aggregate(t=Max("applied"))["t"]
    return _w3(edited or seeded)


@endpoint("GET")
def discovery(request, fmt):
    changed = _changeset()
    url = request.build_absolute_uri(reverse("open311:discovery", kwargs={"fmt": fmt})).rsplit("/", 1)[0]
    return render(fmt, "discovery", {
        "changeset": changed,
        "contact": _("For help, contact the civil-affairs office that runs %(host)s.") % {"host": request.get_host()},
        "key_service": _("API keys for submitting requests are issued by the administrators of %(host)s.")
        % {"host": request.get_host()},
        "endpoints": Items("endpoint", [{
            "specification": SPEC, "url": url, "changeset": changed,
            "type": "test" if settings.DEBUG else "production", "formats": Items("format", FORMATS)}]),
    })


# ---- services: the active leaf categories

def leaf_categories():
    return Category.objects.filter(active=True).exclude(parent__active=False).exclude(children__active=True) \
        .select_related("parent").distinct()


def _category(code) -> Category:
    category = leaf_categories().filter(code=code).first() if CODE.match(code) else None
    if category is None:
        raise Open311Error(404, _("Unknown service_code “%(code)s”.") % {"code": code})
    return category


def _service(category):
    parent = category.parent.name if category.parent_id else ""
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": _("%(name)s: handled first at the %(tier)s level; feedback within %(response)s hours, "
                         "resolved within %(resolve)s hours.")
        % {"name": category.name, "tier": Tier(category.default_tier).label, "response": category.response_hours,
           "resolve": category.resolve_hours},
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join(filter(None, [category.code, category.name, parent, category.department])),
        "group": parent,
    }


@endpoint("GET")
def service_list(request, fmt):
    return render(fmt, "services", Items("service", [_service(c) for c in leaf_categories()]))


@endpoint("GET")
def service_definition(request, fmt, code):
    category = _category(code)
    attributes = []
    for order, (attr, datatype, required, description, choices) in enumerate(ATTRIBUTES, start=1):
        attribute = {"variable": True, "code": attr, "datatype": datatype, "required": required,
                     "datatype_description": None if choices else _("Up to 100 characters."), "order": order,
                     "description": str(description)}
        if choices:
            attribute["values"] = Items("value", [{"key": key, "name": str(name)} for key, name in choices.choices])
        attributes.append(attribute)
    return render(fmt, "service_definition", {"service_code": category.code,
                                              "attributes": Items("attribute", attributes)})


# ---- requests

class RequestForm(forms.Form):
    """POST requests.[format], form-encoded as the spec writes it; attribute[code] fields come from ATTRIBUTES."""

    service_code = forms.CharField(max_length=40)
    lat = forms.FloatField(required=False, min_value=-90, max_value=90)
    long = forms.FloatField(required=False, min_value=-180, max_value=180)
    address_string = forms.CharField(required=False, max_length=200)
    address_id = forms.CharField(required=False)
    description = forms.CharField(max_length=4000)
    first_name = forms.CharField(required=False, max_length=25)
    last_name = forms.CharField(required=False, max_length=25)
    phone = forms.CharField(required=False, max_length=30)
    media_url = forms.URLField(required=False, max_length=500, assume_scheme="https")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for code, _datatype, required, _description, choices in ATTRIBUTES:
            self.fields[f"attribute[{code}]"] = (forms.ChoiceField(choices=choices.choices, required=required)
                                                 if choices else forms.CharField(required=required, max_length=100))

    def clean(self):
        data = super().clean()
        if {"lat", "long", "address_string"} & set(self.errors):
            return data
        if data.get("lat") is None and data.get("long") is None and not data.get("address_string"):
            if data.get("address_id"):
                raise ValidationError(_("address_id is not supported here: send lat and long, or address_string."))
            raise ValidationError(_("Give the location: lat and long, or address_string."))
        return data


def _full_name(first, last):
    """Chinese names are written family name first, others given name first."""
    if CJK.search(first + last):
        return f"{last}{first}"
    return " ".join(filter(None, [first, last]))


def _submit(request, fmt):
    key = request.POST.get("api_key") or request.GET.get("api_key") or ""
    user = ApiToken.user_for(key) if key else None
    if user is None:
        raise Open311Error(403, _("Missing or invalid api_key."))
    code = request.POST.get("service_code", "").strip()
    if not code:
        raise ValidationError({"service_code": _("Give the service_code.")})
    category = _category(code)
    form = RequestForm(request.POST)
    if not form.is_valid():
        raise ValidationError(form.errors)
    data = form.cleaned_data
    description = data["description"]
    if data["media_url"]:
        description += "\n\n" + _("Media: %(url)s") % {"url": data["media_url"]}  # kept as a link, never fetched
    appeal = services.submit(
        user, kind=data["attribute[kind]"], category=category, description=description,
        title=data["attribute[title]"], latitude=data["lat"], longitude=data["long"],
        address=data["address_string"], source=Appeal.Source.API,
        urgency=data["attribute[urgency]"] or Appeal.Urgency.NORMAL,
        contact_name=_full_name(data["first_name"], data["last_name"]), contact_phone=data["phone"],
        idempotency_key=request.headers.get("Idempotency-Key"))
    notice = _("To be accepted within %(hours)s hours and resolved by %(due)s.") % {
        "hours": services.ACCEPT_HOURS, "due": timezone.localtime(appeal.resolve_due).strftime("%Y-%m-%d %H:%M")}
    return render(fmt, "service_requests", Items("request", [
        {"service_request_id": appeal.pk, "service_notice": notice, "account_id": None}]))


class SearchForm(forms.Form):
    """GET requests.[format]: the spec's filters."""

    service_request_id = forms.CharField(required=False)
    service_code = forms.CharField(required=False)
    start_date = forms.DateTimeField(required=False)
    end_date = forms.DateTimeField(required=False)
    status = forms.CharField(required=False)

    def __init__(self, query):
        data = query.copy()
        for field in ("start_date", "end_date"):
            # An unencoded "+08:00" arrives as " 08:00"; read it as the client meant it.
            data[field] = re.sub(r"(T[\d:.]+) (\d\d:?\d\d)$", r"\1+\2", data.get(field, "").strip())
        super().__init__(data)

    @staticmethod
    def _list(value):
        return [v.strip() for v in value.split(",") if v.strip()]

    def clean_service_request_id(self):
        ids = self._list(self.cleaned_data["service_request_id"])
        if any(not ID.match(i) for i in ids) or len(ids) > MAX_REQUESTS:
            raise ValidationError(_("Give up to 1000 request numbers, separated by commas."))
        return [int(i) for i in ids]

    def clean_service_code(self):
        codes = self._list(self.cleaned_data["service_code"])
        if not all(CODE.match(c) for c in codes):
            raise ValidationError(_("Give service codes separated by commas."))
        return codes

    def clean_status(self):
        statuses = set(self._list(self.cleaned_data["status"]))
        if statuses - {"open", "closed"}:
            raise ValidationError(_("status is open or closed (or both, separated by a comma)."))
        return statuses

    def clean(self):
        data = super().clean()
        start, end = data.get("start_date"), data.get("end_date")
        if start is None and end is None:
            end = timezone.now()
        end = end or start + MAX_SPAN
        start = start or end - MAX_SPAN
        if end < start:
            raise ValidationError(_("end_date is before start_date."))
        if end - start > MAX_SPAN:
            raise ValidationError(_("The date range may not span more than 90 days."))
        data["start_date"], data["end_date"] = start, end
        return data


def _public_requests():
    """Appeals as a public client sees them: no reporter, contact name or phone is ever read out."""
    last_reject = AppealEvent.objects.filter(appeal=OuterRef("pk"), action="reject").order_by("-at", "-pk")
    return Appeal.objects.select_related("category", "handler_place") \
        .annotate(reject_reason=Subquery(last_reject.values("note")[:1]))


def _agency(appeal):
    return appeal.department if appeal.tier == Tier.DEPARTMENT and appeal.department else appeal.handler_place.name


def _status_notes(appeal):
    note = STATUS_NOTES[appeal.status] % {"unit": _agency(appeal), "resolution": appeal.resolution,
                                          "reason": appeal.reject_reason or "", "into": appeal.merged_into_id}
    if appeal.status == S.CLOSED and appeal.rating:
        note += " " + _("Rated: %(rating)s.") % {"rating": appeal.get_rating_display()}
    return note


def _updated(appeal):
    """For closed requests the spec wants the time it was closed."""
    if appeal.status == S.RESOLVED:
        return appeal.resolved_at or appeal.updated_at
    if appeal.status in CLOSED:
        return appeal.closed_at or appeal.updated_at
    return appeal.updated_at


def _request(appeal):
    return {
        "service_request_id": appeal.pk,
        "status": "closed" if appeal.status in CLOSED else "open",
        "status_notes": _status_notes(appeal),
        "service_name": appeal.category.name,
        "service_code": appeal.category.code,
        "description": appeal.description,
        "agency_responsible": _agency(appeal),
        "service_notice": None,
        "requested_datetime": _w3(appeal.created_at),
        "updated_datetime": _w3(_updated(appeal)),
        "expected_datetime": _w3(appeal.resolve_due),
        "address": appeal.address or None,
        "address_id": None,
        "zipcode": None,
        "lat": appeal.latitude,
        "long": appeal.longitude,
        "media_url": None,
    }


def _search(request, fmt):
    form = SearchForm(request.GET)
    if not form.is_valid():
        raise ValidationError(form.errors)
    data = form.cleaned_data
    appeals = _public_requests()
    if data["service_request_id"]:  # overrides every other filter, as the spec says
        appeals = appeals.filter(pk__in=data["service_request_id"])
    else:
        appeals = appeals.filter(created_at__gte=data["start_date"], created_at__lte=data["end_date"])
        if data["service_code"]:
            appeals = appeals.filter(category__code__in=data["service_code"])
        if data["status"] == {"open"}:
            appeals = appeals.exclude(status__in=CLOSED)
        elif data["status"] == {"closed"}:
            appeals = appeals.filter(status__in=CLOSED)
    rows = appeals.order_by("-created_at", "-pk")[:MAX_REQUESTS]
    return render(fmt, "service_requests", Items("request", [_request(a) for a in rows]))


@endpoint("GET", "POST")
def requests(request, fmt):
    return _submit(request, fmt) if request.method == "POST" else _search(request, fmt)


@endpoint("GET")
def request_detail(request, fmt, pk):
    appeal = _public_requests().filter(pk=pk).first()
    if appeal is None:
        raise Open311Error(404, _("Unknown service_request_id %(id)s.") % {"id": pk})
    return render(fmt, "service_requests", Items("request", [_request(appeal)]))


@endpoint("GET")
def token(request, fmt, token):
    """The token is the Idempotency-Key the client sent with its POST, or else the request number itself."""
    appeal = None
    if len(token) <= 80 and "\x00" not in token:  # what an idempotency key can be
        appeal = Appeal.objects.filter(idempotency_key=token).only("pk").first()
    if appeal is None and ID.match(token):
        appeal = Appeal.objects.filter(pk=int(token)).only("pk").first()
    if appeal is None:
        raise Open311Error(404, _("Unknown token “%(token)s”.") % {"token": token})
    return render(fmt, "service_requests", Items("request", [{"service_request_id": appeal.pk, "token": token}]))
