"""Appeal metrics for a place node over a period: live in the database, or for whole days at community level and
above from the daily rollup plus the appeals since its watermark; formulas and precision in docs/appeals.md."""

import io
import math
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from statistics import median
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Aggregate, Count, Exists, F, FloatField, Func, OuterRef, Q, Sum, TextField
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from gongzhi.places.models import COMMUNITY_KINDS, DIVISION_KINDS, Place
from gongzhi.registry.services import require

from .models import Appeal, AppealEvent, Category, DailyRollup, RollupState

S = Appeal.Status
TZ = ZoneInfo(settings.TIME_ZONE)  # "a day" is a local day, whatever the request's active time zone


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
    as_of: datetime | None = None  # the figures describe the appeals as they stood at this time

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


class Durations(Aggregate):
    """A group's values as one comma-separated text (string_agg on PostgreSQL, group_concat on SQLite)."""
    function = "STRING_AGG"
    template = "%(function)s(CAST(%(expressions)s AS TEXT), ',')"
    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, function="GROUP_CONCAT", **extra)


VALID = ~Q(status__in=[S.REJECTED, S.MERGED])
RESPONDED = VALID & Q(responded_at__isnull=False)
RESOLVED = VALID & Q(resolved_at__isnull=False)
# Every reporter's latest rating counts, including reporters of appeals merged into another.
RATED = ~Q(status=S.REJECTED) & ~Q(rating="")
EXTENDED = VALID & Q(Exists(AppealEvent.objects.filter(appeal=OuterRef("pk"), action="extend")))


def past_due(now):
    """Open, not on hold, past the current deadline (Appeal.due): accept_due while submitted, response_due
    until someone responds, resolve_due after."""
    return (Q(status=S.SUBMITTED, accept_due__lt=now)
            | Q(status__in=[S.ACCEPTED, S.ASSIGNED], responded_at__isnull=True, response_due__lt=now)
            | Q(status__in=[S.ACCEPTED, S.ASSIGNED], responded_at__isnull=False, resolve_due__lt=now)
            | Q(status=S.IN_PROGRESS, resolve_due__lt=now))


RESPONSE_SECONDS = Seconds("responded_at", "created_at")
RESOLVE_SECONDS = Seconds("resolved_at", "created_at") - F("paused_seconds")
COUNTS = ("total", "valid", "responded", "resolved", "on_time", "reworked", "rated", "satisfied", "extended",
          "overdue")


def _counts(now) -> dict:
    """Every count of the metrics as one filtered COUNT each (the overdue count depends on `now`), and one per
    kind: all ride along in a single pass over the appeals, or over each group of them."""
    counts = {
        "total": Count("pk"), "valid": Count("pk", filter=VALID), "responded": Count("pk", filter=RESPONDED),
        "resolved": Count("pk", filter=RESOLVED), "on_time": Count("pk", filter=RESOLVED & Q(overdue=False)),
        "reworked": Count("pk", filter=RESOLVED & Q(reopen_count__gt=0)), "rated": Count("pk", filter=RATED),
        "satisfied": Count("pk", filter=RATED & ~Q(rating=Appeal.Rating.UNSATISFIED)),
        "extended": Count("pk", filter=EXTENDED),
        "overdue": Count("pk", filter=VALID & (Q(overdue=True) | past_due(now))),
    }
    counts.update({f"kind:{kind}": Count("pk", filter=Q(kind=kind)) for kind in Appeal.Kind.values})
    return counts


def _median_hours(seconds):
    return None if seconds is None else round(seconds / 3600, 2)


# ---- duration histograms: bucket 0 holds [0, 60 s); bucket k ≥ 1 holds [60 s · R^(k−1), 60 s · R^k), R = 1.04, so
# a median read from a histogram is within 4% (or one minute) of the exact one.

BUCKET_RATIO = 1.04
FIRST_BUCKET_SECONDS = 60.0
_LOG_RATIO = math.log(BUCKET_RATIO)


def bucket(seconds: float) -> int:
    return 0 if seconds < FIRST_BUCKET_SECONDS else 1 + int(math.log(seconds / FIRST_BUCKET_SECONDS) / _LOG_RATIO)


def _bucket_bounds(k: int) -> tuple[float, float]:
    if k == 0:
        return 0.0, FIRST_BUCKET_SECONDS
    return FIRST_BUCKET_SECONDS * BUCKET_RATIO ** (k - 1), FIRST_BUCKET_SECONDS * BUCKET_RATIO ** k


def histogram_median(hist: dict) -> float | None:
    """The median (as statistics.median: the mean of the two middle values when their number is even), each
    middle value interpolated linearly inside its bucket by its rank there."""
    n = sum(hist.values())
    if not n:
        return None
    ranks, values, seen = ((n - 1) // 2, n // 2), [], 0
    for k in sorted(hist):
        count = hist[k]
        lo, hi = _bucket_bounds(k)
        values += [lo + (hi - lo) * (r - seen + 0.5) / count for r in ranks if seen <= r < seen + count]
        seen += count
    return sum(values) / 2


def _merge(into: dict, other: dict):
    for key, n in other.items():  # plain dicts: Counter.update costs several times more on a rebuild
        into[key] = into.get(key, 0) + n


class Tally:
    """What adds up across appeals, days and places: every count, per-kind counts ("kind:…") and the two
    duration histograms (hours to respond, to resolve), each a dict it owns."""

    __slots__ = ("counts", "response", "resolve")

    def __init__(self, counts=None, response=None, resolve=None):
        self.counts, self.response, self.resolve = counts or {}, response or {}, resolve or {}

    def add(self, other: "Tally") -> "Tally":
        _merge(self.counts, other.counts)
        _merge(self.response, other.response)
        _merge(self.resolve, other.resolve)
        return self

    def row(self, histograms=True) -> dict:
        """The DailyRollup columns."""
        return {**{key: self.counts.get(key, 0) for key in COUNTS},
                "by_kind": {key[5:]: n for key, n in self.counts.items() if key.startswith("kind:") and n},
                "response_hist": {str(k): n for k, n in sorted(self.response.items())} if histograms else {},
                "resolve_hist": {str(k): n for k, n in sorted(self.resolve.items())} if histograms else {}}


def add_to(cell: dict, key, tally: Tally):
    """cell[key] += tally. The first tally is kept as it is, not copied: callers hand over tallies they are done
    with (on a rebuild this halves the work)."""
    held = cell.get(key)
    if held is None:
        cell[key] = tally
    else:
        held.add(tally)


def _histogram(text) -> dict:
    hist = {}
    for seconds in text.split(",") if text else ():
        k = bucket(float(seconds))
        hist[k] = hist.get(k, 0) + 1
    return hist


def tallies(appeals, now, *group_by):
    """(values of `group_by`, Tally) for each group of the appeals: one pass in the database; durations come
    back as text and are bucketed here."""
    counts = _counts(now)
    rows = appeals.order_by().values(*group_by).annotate(
        **counts, response_s=Durations(RESPONSE_SECONDS, filter=RESPONDED),
        resolve_s=Durations(RESOLVE_SECONDS, filter=RESOLVED))
    for row in rows:
        yield (tuple(row[g] for g in group_by), Tally({key: row[key] for key in counts if row[key]},
                                                      _histogram(row["response_s"]), _histogram(row["resolve_s"])))


def by_local_day(appeals):
    """The appeals annotated with `day`, their local submission date (the rollup's day)."""
    return appeals.annotate(day=TruncDate("created_at", tzinfo=TZ))


def midnight(day) -> datetime:
    return datetime.combine(day, time.min, TZ)


def local_day(moment: datetime):
    return timezone.localtime(moment, TZ).date()


def category_tops() -> dict[int, tuple[int, str]]:
    """Each category's top-level category: id → (top id, top name) (the table is small)."""
    rows = list(Category.objects.values_list("pk", "parent_id", "parent__name", "name"))
    return {pk: (parent or pk, parent_name or name) for pk, parent, parent_name, name in rows}


class Divisions:
    """The division places (community level and above): the rollup's places, each appeal counted under the
    nearest one above (or at) its place, and every ancestor of that."""

    def __init__(self):
        rows = Place.objects.filter(kind__in=DIVISION_KINDS).values_list("pk", "parent_id", "depth", "kind", "path")
        self.parent, self.depth, self.path, self.leaf = {}, {}, {}, set()
        for pk, parent, depth, kind, path in rows:
            self.parent[pk], self.depth[pk], self.path[pk] = parent, depth, path
            if kind in COMMUNITY_KINDS:
                self.leaf.add(pk)

    def anchor(self, path: str) -> int | None:
        """The nearest division at or above the place with this path."""
        for pk in reversed(path.strip("/").split("/")):
            if int(pk) in self.depth:
                return int(pk)
        return None


def _rollup_span(place, start, end):
    """(watermark, cut) when whole days before `cut` (the watermark's local midnight) can come from the rollup."""
    if place.kind not in DIVISION_KINDS or any(timezone.localtime(t, TZ).time() != time.min for t in (start, end)):
        return None
    watermark = RollupState.objects.filter(pk=1).values_list("watermark", flat=True).first()
    if watermark is None:
        return None
    cut = midnight(local_day(watermark))
    return (watermark, cut) if start < cut else None


def compute(user, place, start: datetime, end: datetime, rollup=True) -> Metrics:
    """Appeals whose place lies under `place` and that were submitted in [start, end): a handful of queries,
    whatever the number of appeals. Whole days at community level and above are read from the daily rollup
    (refreshed every 5 minutes) with the days since its watermark computed live; `rollup=False` forces live."""
    require(user, "appeals.view_metrics", place)
    now = timezone.now()
    m = Metrics(place=place.full_name(), start=start.isoformat(), end=end.isoformat(), as_of=now)
    span = _rollup_span(place, start, end) if rollup else None
    if span is None:
        _live(m, place, start, end, now)
        return m
    m.as_of, cut = span
    tops = category_tops()
    total, by_top = _stored(place, local_day(start), local_day(min(end, cut)))
    if end > cut:  # the appeals since the watermark's day, live (a day or so of them)
        recent = Appeal.objects.filter(place__path__startswith=place.path, created_at__gte=max(start, cut),
                                       created_at__lt=end)
        for (category_id,), tally in tallies(recent, now, "category_id"):
            total.add(tally)
            by_top[tops[category_id][0]] = by_top.get(tops[category_id][0], 0) + tally.counts.get("total", 0)
    categories = {}
    for top, n in by_top.items():
        categories[tops[top][1]] = categories.get(tops[top][1], 0) + n
    _fill(m, total.counts, categories, histogram_median(total.response), histogram_median(total.resolve))
    return m


def _stored(place, first, stop) -> tuple[Tally, dict]:
    """The place's rollup rows of the days in [first, stop): the day totals' Tally, and the appeals per top-level
    category."""
    cells = summed_rows(DailyRollup.objects.filter(place=place, day__gte=first, day__lt=stop),
                        json_of_totals_only=True).get((), {})
    total = cells.pop(None, Tally())
    return total, {top: tally.counts["total"] for top, tally in cells.items()}


def summed_rows(rows, *group_by, json_of_totals_only=False) -> dict:
    """Rollup rows added up in the database per `group_by` values and category (None: the day totals):
    {(values…): {category id: Tally}}; the JSON columns are summed through json_each, so no row is decoded here
    (only the day totals' when the per-category kinds are not needed)."""
    found = {}
    rows = rows.order_by()
    for row in rows.values(*group_by, "category_id").annotate(**{key: Sum(key) for key in COUNTS}):
        cell = found.setdefault(tuple(row[g] for g in group_by), {})
        cell[row["category_id"]] = Tally({key: row[key] for key in COUNTS})
    table = connection.ops.quote_name(DailyRollup._meta.db_table)
    columns = "".join(f"{table}.{connection.ops.quote_name(DailyRollup._meta.get_field(g).column)}, "
                      for g in group_by)
    each = "jsonb_each_text" if connection.vendor == "postgresql" else "json_each"
    json_rows = rows.filter(category__isnull=True) if json_of_totals_only else rows
    where, params = json_rows.query.get_compiler(connection=connection).compile(json_rows.query.where)  # no joins
    sql = " UNION ALL ".join(
        f"SELECT {columns}{table}.category_id, '{column}', e.key, SUM(CAST(e.value AS INTEGER)) FROM {table}, "
        f"{each}({table}.{column}) e WHERE {where} GROUP BY {columns}{table}.category_id, e.key"
        for column in ("by_kind", "response_hist", "resolve_hist"))
    day = group_by.index("day") if "day" in group_by else None
    with connection.cursor() as cursor:
        cursor.execute(sql, params * 3)
        for *values, category, column, key, n in cursor.fetchall():
            if day is not None and isinstance(values[day], str):  # SQLite hands raw SQL dates back as text
                values[day] = date.fromisoformat(values[day])
            tally = found[tuple(values)][category]
            if column == "by_kind":
                tally.counts[f"kind:{key}"] = n
            else:
                (tally.response if column == "response_hist" else tally.resolve)[int(key)] = n
    return found


def _live(m, place, start, end, now):
    rows = Appeal.objects.filter(place__path__startswith=place.path, created_at__gte=start, created_at__lt=end) \
        .order_by()
    counts = _counts(now)
    # Volumes by top-level category ride along in the same single pass over the appeals.
    names = {}
    for pk, (_top, name) in category_tops().items():
        names.setdefault(name, []).append(pk)
    for name, ids in names.items():
        counts[f"category:{name}"] = Count("pk", filter=Q(category_id__in=ids))
    postgres = connection.vendor == "postgresql"
    if postgres:
        counts["response_s"] = Median(RESPONSE_SECONDS, filter=RESPONDED)
        counts["resolve_s"] = Median(RESOLVE_SECONDS, filter=RESOLVED)
    figures = rows.aggregate(**counts)
    if not postgres:  # the embedded default: the median from the durations alone
        figures["response_s"] = _py_median(rows.filter(RESPONDED).values_list(RESPONSE_SECONDS, flat=True))
        figures["resolve_s"] = _py_median(rows.filter(RESOLVED).values_list(RESOLVE_SECONDS, flat=True))
    categories = {key[9:]: n for key, n in figures.items() if key.startswith("category:")}
    _fill(m, figures, categories, figures["response_s"], figures["resolve_s"])


def _fill(m, counts, categories, response_s, resolve_s):
    """Counts, volumes (largest first), rates and medians onto the Metrics."""
    for key in COUNTS:
        setattr(m, key, counts.get(key, 0))
    labels = dict(Appeal.Kind.choices)
    kinds = {str(labels[kind]): counts.get(f"kind:{kind}", 0) for kind in Appeal.Kind.values}
    m.by_kind = {k: n for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]) if n}
    m.by_category = {k: n for k, n in sorted(categories.items(), key=lambda kv: -kv[1]) if n}
    m.response_rate = _rate(m.responded, m.valid)
    m.resolution_rate = _rate(m.resolved, m.valid)
    m.satisfaction_rate = _rate(m.satisfied, m.rated)
    m.on_time_rate = _rate(m.on_time, m.resolved)
    m.rework_rate = _rate(m.reworked, m.resolved)
    m.extension_rate = _rate(m.extended, m.valid)
    m.median_response_hours = _median_hours(response_s)
    m.median_resolve_hours = _median_hours(resolve_s)


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
    if m.as_of:
        ws.append([_("As of"), timezone.localtime(m.as_of).strftime("%Y-%m-%d %H:%M")])
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
