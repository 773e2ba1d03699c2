"""Appeal metrics for a place node over a period, computed in the database; formulas in docs/appeals.md."""

import io
from dataclasses import asdict, dataclass, field
from datetime import datetime
from statistics import median

from django.db import connection
from django.db.models import Aggregate, Count, Exists, F, FloatField, Func, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from gongzhi.registry.services import require

from .models import Appeal, AppealEvent, Category

S = Appeal.Status


@dataclass
class Metrics:
    place: str
    start: str
    end: str
    total: int = 0           # appeals submitted in the period under the place
    valid: int = 0           # total less rejected and merged
    by_kind: dict = field(default_factory=dict)
    by_category: dict = field(default_factory=dict)
    responded: int = 0
    resolved: int = 0
    rated: int = 0
    satisfied: int = 0       # satisfied + basically satisfied
    on_time: int = 0
    reworked: int = 0
    extended: int = 0
    overdue: int = 0
    response_rate: float | None = None
    resolution_rate: float | None = None
    satisfaction_rate: float | None = None
    on_time_rate: float | None = None
    rework_rate: float | None = None
    extension_rate: float | None = None
    median_response_hours: float | None = None
    median_resolve_hours: float | None = None

    def as_dict(self):
        return asdict(self)


def _rate(part, whole):
    return round(part / whole, 4) if whole else None


class Seconds(Func):
    """`end − start` in seconds (float), on PostgreSQL and SQLite."""
    output_field = FloatField()
    arity = 2
    template = "EXTRACT(EPOCH FROM (%(expressions)s))"
    arg_joiner = " - "

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="((julianday(%(expressions)s)) * 86400.0)",
                           arg_joiner=") - julianday(", **extra)


class Median(Aggregate):
    """PostgreSQL's ordered-set aggregate percentile_cont(0.5): the median, interpolated as statistics.median."""
    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


VALID = ~Q(status__in=[S.REJECTED, S.MERGED])
RESPONDED = VALID & Q(responded_at__isnull=False)
RESOLVED = VALID & Q(resolved_at__isnull=False)
# Every reporter's latest rating counts, including reporters of appeals merged into another.
RATED = ~Q(status=S.REJECTED) & ~Q(rating="")
EXTENDED = VALID & Q(Exists(AppealEvent.objects.filter(appeal=OuterRef("pk"), action="extend")))


def _past_due(now):
    """Open, not on hold, past the current deadline (Appeal.due): accept_due while submitted, response_due
    until someone responds, resolve_due after."""
    return (Q(status=S.SUBMITTED, accept_due__lt=now)
            | Q(status__in=[S.ACCEPTED, S.ASSIGNED], responded_at__isnull=True, response_due__lt=now)
            | Q(status__in=[S.ACCEPTED, S.ASSIGNED], responded_at__isnull=False, resolve_due__lt=now)
            | Q(status=S.IN_PROGRESS, resolve_due__lt=now))


RESPONSE_SECONDS = Seconds("responded_at", "created_at")
RESOLVE_SECONDS = Seconds("resolved_at", "created_at") - F("paused_seconds")


def _median_hours(seconds):
    return None if seconds is None else round(seconds / 3600, 2)


def compute(user, place, start: datetime, end: datetime) -> Metrics:
    """Appeals whose place lies under `place` and that were submitted in [start, end): a handful of queries,
    whatever the number of appeals."""
    require(user, "appeals.view_metrics", place)
    rows = Appeal.objects.filter(place__path__startswith=place.path, created_at__gte=start, created_at__lt=end) \
        .order_by()
    counts = {
        "total": Count("pk"), "valid": Count("pk", filter=VALID), "responded": Count("pk", filter=RESPONDED),
        "resolved": Count("pk", filter=RESOLVED), "on_time": Count("pk", filter=RESOLVED & Q(overdue=False)),
        "reworked": Count("pk", filter=RESOLVED & Q(reopen_count__gt=0)), "rated": Count("pk", filter=RATED),
        "extended": Count("pk", filter=EXTENDED),
        "satisfied": Count("pk", filter=RATED & ~Q(rating=Appeal.Rating.UNSATISFIED)),
        "overdue": Count("pk", filter=VALID & (Q(overdue=True) | _past_due(timezone.now()))),
    }
    # Volumes by kind and by top-level category ride along in the same single pass over the appeals.
    volumes = {f"kind:{kind}": Count("pk", filter=Q(kind=kind)) for kind in Appeal.Kind.values}
    for name, ids in _top_categories().items():
        volumes[f"category:{name}"] = Count("pk", filter=Q(category_id__in=ids))
    postgres = connection.vendor == "postgresql"
    if postgres:
        counts["response_s"] = Median(RESPONSE_SECONDS, filter=RESPONDED)
        counts["resolve_s"] = Median(RESOLVE_SECONDS, filter=RESOLVED)
    figures = rows.aggregate(**counts, **volumes)
    if not postgres:  # the embedded default: the median from the durations alone
        figures["response_s"] = _py_median(rows.filter(RESPONDED).values_list(RESPONSE_SECONDS, flat=True))
        figures["resolve_s"] = _py_median(rows.filter(RESOLVED).values_list(RESOLVE_SECONDS, flat=True))
    m = Metrics(place=place.full_name(), start=start.isoformat(), end=end.isoformat(),
                **{key: figures[key] for key in counts if not key.endswith("_s")})
    labels = dict(Appeal.Kind.choices)
    for key in sorted(volumes, key=lambda k: -figures[k]):
        group, name = key.split(":", 1)
        if figures[key]:
            target = m.by_kind if group == "kind" else m.by_category
            target[str(labels[name]) if group == "kind" else name] = figures[key]
    m.response_rate = _rate(m.responded, m.valid)
    m.resolution_rate = _rate(m.resolved, m.valid)
    m.satisfaction_rate = _rate(m.satisfied, m.rated)
    m.on_time_rate = _rate(m.on_time, m.resolved)
    m.rework_rate = _rate(m.reworked, m.resolved)
    m.extension_rate = _rate(m.extended, m.valid)
    m.median_response_hours = _median_hours(figures["response_s"])
    m.median_resolve_hours = _median_hours(figures["resolve_s"])
    return m


def _top_categories() -> dict[str, list[int]]:
    """Each top-level category's name with its own id and its children's (the table is small)."""
    tops = {}
    for pk, parent_name, name in Category.objects.values_list("pk", "parent__name", "name"):
        tops.setdefault(parent_name or name, []).append(pk)
    return tops


def _py_median(values):
    values = list(values)
    return median(values) if values else None


def workbook(m: Metrics) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = _("Summary")[:31]
    ws.append([_("Place"), m.place])
    ws.append([_("From"), m.start])
    ws.append([_("Until"), m.end])
    for _key, label, value in summary_rows(m):
        ws.append([label, value])
    for title, data in ((_("By kind"), m.by_kind), (_("By category"), m.by_category)):
        sheet = wb.create_sheet(title[:31])
        sheet.append([title, _("Appeals")])
        for key, value in sorted(data.items(), key=lambda kv: -kv[1]):
            sheet.append([key, value])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


RATE_KEYS = ("response_rate", "resolution_rate", "satisfaction_rate", "on_time_rate", "rework_rate",
             "extension_rate")


def summary_rows(m: Metrics):
    """(field, label, value) for the page, the chart and the workbook, in display order."""
    labels = {
        "total": _("Appeals"), "valid": _("Valid appeals"), "responded": _("Responded"), "resolved": _("Resolved"),
        "reworked": _("Reworked"), "extended": _("Extended"), "rated": _("Rated"), "satisfied": _("Satisfied"), "overdue": _("Overdue"),
        "response_rate": _("Response rate"), "resolution_rate": _("Resolution rate"),
        "satisfaction_rate": _("Satisfaction rate"), "on_time_rate": _("On-time rate"),
        "rework_rate": _("Rework rate"), "extension_rate": _("Extension rate"),
        "median_response_hours": _("Median hours to respond"),
        "median_resolve_hours": _("Median hours to resolve"),
    }
    return [(key, label, getattr(m, key)) for key, label in labels.items()]
