"""Appeal metrics for a place node over a period; the formulas are documented in docs/appeals.md."""

import io
from dataclasses import asdict, dataclass, field
from datetime import datetime
from statistics import median

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from gongzhi.registry.services import require

from .models import Appeal

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
    overdue: int = 0
    response_rate: float | None = None
    resolution_rate: float | None = None
    satisfaction_rate: float | None = None
    on_time_rate: float | None = None
    rework_rate: float | None = None
    median_response_hours: float | None = None
    median_resolve_hours: float | None = None

    def as_dict(self):
        return asdict(self)


def _rate(part, whole):
    return round(part / whole, 4) if whole else None


def _hours(delta_seconds):
    return round(delta_seconds / 3600, 2)


def compute(user, place, start: datetime, end: datetime) -> Metrics:
    """Appeals whose place lies under `place` and that were submitted in [start, end)."""
    require(user, "appeals.view_metrics", place)
    rows = list(Appeal.objects.filter(place__path__startswith=place.path, created_at__gte=start, created_at__lt=end)
                .select_related("category__parent"))
    m = Metrics(place=place.full_name(), start=start.isoformat(), end=end.isoformat(), total=len(rows))
    valid = [a for a in rows if a.status not in (S.REJECTED, S.MERGED)]
    m.valid = len(valid)
    for a in rows:
        kind = a.get_kind_display()
        m.by_kind[kind] = m.by_kind.get(kind, 0) + 1
        top = a.category.parent or a.category
        m.by_category[top.name] = m.by_category.get(top.name, 0) + 1
    response_hours, resolve_hours = [], []
    now = timezone.now()
    for a in valid:
        if a.responded_at:
            m.responded += 1
            response_hours.append(_hours((a.responded_at - a.created_at).total_seconds()))
        if a.resolved_at:
            m.resolved += 1
            resolve_hours.append(_hours((a.resolved_at - a.created_at).total_seconds() - a.paused_seconds))
            if not a.overdue:
                m.on_time += 1
            if a.reopen_count:
                m.reworked += 1
        if a.overdue or (a.is_open and a.status != S.ON_HOLD and a.due and a.due < now):
            m.overdue += 1
    # Every reporter's latest rating counts, including reporters of appeals merged into another.
    for a in rows:
        if a.rating and a.status != S.REJECTED:
            m.rated += 1
            if a.rating != Appeal.Rating.UNSATISFIED:
                m.satisfied += 1
    m.response_rate = _rate(m.responded, m.valid)
    m.resolution_rate = _rate(m.resolved, m.valid)
    m.satisfaction_rate = _rate(m.satisfied, m.rated)
    m.on_time_rate = _rate(m.on_time, m.resolved)
    m.rework_rate = _rate(m.reworked, m.resolved)
    m.median_response_hours = median(response_hours) if response_hours else None
    m.median_resolve_hours = median(resolve_hours) if resolve_hours else None
    return m


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


RATE_KEYS = ("response_rate", "resolution_rate", "satisfaction_rate", "on_time_rate", "rework_rate")


def summary_rows(m: Metrics):
    """(field, label, value) for the page, the chart and the workbook, in display order."""
    labels = {
        "total": _("Appeals"), "valid": _("Valid appeals"), "responded": _("Responded"), "resolved": _("Resolved"),
        "reworked": _("Reworked"), "rated": _("Rated"), "satisfied": _("Satisfied"), "overdue": _("Overdue"),
        "response_rate": _("Response rate"), "resolution_rate": _("Resolution rate"),
        "satisfaction_rate": _("Satisfaction rate"), "on_time_rate": _("On-time rate"),
        "rework_rate": _("Rework rate"), "median_response_hours": _("Median hours to respond"),
        "median_resolve_hours": _("Median hours to resolve"),
    }
    return [(key, label, getattr(m, key)) for key, label in labels.items()]
