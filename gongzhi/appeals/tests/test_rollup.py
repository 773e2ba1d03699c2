"""The daily rollup gives the live figures, follows later changes and passing deadlines, and says how fresh it is."""

import io
import os
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from gongzhi.accounts.models import User
from gongzhi.appeals import metrics, services
from gongzhi.appeals.models import Appeal, Category, DailyRollup, RollupState
from gongzhi.core.gen import generate
from gongzhi.core.jobs import discover
from gongzhi.places.models import DIVISION_KINDS, Place

S = Appeal.Status
H = timedelta(hours=1)
DAY = timedelta(days=1)
postgres_only = pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                                   reason="row locks need PostgreSQL")


def year():
    """The past 365 whole local days and today, as the metrics page and API ask."""
    today = metrics.local_day(timezone.now())
    return metrics.midnight(today - 365 * DAY), metrics.midnight(today + DAY)


def both(user, place, start=None, end=None):
    if start is None:
        start, end = year()
    return metrics.compute(user, place, start, end), metrics.compute(user, place, start, end, rollup=False)


def assert_same(rolled, live):
    """Counts exactly; medians within the histogram's bucket (4%, at least a minute) plus rounding."""
    for key in (*metrics.COUNTS, "by_kind", "by_category", *metrics.RATE_KEYS):
        assert getattr(rolled, key) == getattr(live, key), (rolled.place, key)
    for key in ("median_response_hours", "median_resolve_hours"):
        a, b = getattr(rolled, key), getattr(live, key)
        assert (a is None) == (b is None), (rolled.place, key)
        if b is not None:
            assert abs(a - b) <= b * (metrics.BUCKET_RATIO - 1) + 1 / 60 + 0.01, (rolled.place, key, a, b)


def shift(appeal, days, hours=0):
    """Move an appeal's submission back in time, as if made then; touched now like any change."""
    created = timezone.now() - days * DAY - hours * H
    Appeal.objects.filter(pk=appeal.pk).update(created_at=created, updated_at=timezone.now())
    return created


@pytest.fixture
def admin(db):
    return User.objects.create_superuser("rollup-admin", password="Test@pass2026")


@pytest.fixture
def mixed(w, make_appeal, cat):
    """A generated city (a year of appeals at grids) plus the world's appeals through every service, spread
    over past days, some at a day's edge."""
    generate("tiny", seed=5, out=lambda *a: None)
    water = Category.objects.get(code="water")
    made = []
    a = services.accept(w.grid_worker_a, make_appeal())
    a = services.resolve(w.grid_worker_a, services.start(w.grid_worker_a, a), "修好了")
    made.append(services.rate(w.resident, a, "satisfied"))
    a = services.resolve(w.grid_worker_a, services.accept(w.grid_worker_a, make_appeal(kind="help")), "处理")
    a = services.resolve(w.grid_worker_a, services.rate(w.resident, a, "unsatisfied", "没修好"), "再修")
    made.append(services.rate(w.resident, a, "basically"))
    made.append(services.hold(w.grid_worker_a, services.accept(w.grid_worker_a, make_appeal()), "等配件"))
    made.append(services.extend(w.grid_worker_a, services.accept(w.grid_worker_a, make_appeal()), 3, "复杂"))
    target = services.accept(w.grid_worker_a, make_appeal())
    made += [target, services.merge(w.grid_worker_a, make_appeal(), target, "重复")]
    made.append(services.reject(w.grid_worker_a, make_appeal(), "不属于受理范围"))
    made.append(services.escalate(w.grid_worker_a, make_appeal(), "需要社区协调"))
    made.append(make_appeal(user=w.resident_b, category=water, latitude=30.395, longitude=114.895))
    late = make_appeal()
    Appeal.objects.filter(pk=late.pk).update(accept_due=timezone.now() - H)  # open and past its deadline
    made.append(late)
    for appeal, days in zip(made, (1, 3, 3, 10, 40, 40, 100, 200, 300, 2)):
        shift(appeal, days)
    # Local midnight falls between these two: they count on different days.
    edge = metrics.midnight(metrics.local_day(timezone.now()) - 5 * DAY)
    for appeal, moment in ((make_appeal(), edge - timedelta(minutes=1)), (make_appeal(), edge)):
        Appeal.objects.filter(pk=appeal.pk).update(created_at=moment)
    made.append(make_appeal())  # today's: counted live until the next day's refresh
    return made


def divisions():
    return list(Place.objects.filter(kind__in=DIVISION_KINDS).order_by("depth", "pk"))


def rows():
    return sorted(DailyRollup.objects.values_list("place_id", "parent_id", "day", "category_id", *metrics.COUNTS,
                                                  "by_kind", "response_hist", "resolve_hist"),
                  key=lambda row: (row[0], row[2], row[3] or 0))


def test_rollup_figures_equal_the_live_figures_at_every_level(w, admin, mixed):
    assert RollupState.objects.get().watermark is not None  # `gongzhi gen` built it
    services.refresh_rollups()  # picks up the world's appeals made since
    incremental = rows()
    places = divisions()
    assert {p.kind for p in places} >= {"province", "city", "district", "subdistrict", "community"}
    for place in places:
        rolled, live = both(admin, place)
        assert_same(rolled, live)
        assert rolled.as_of == RollupState.objects.get().watermark
    province = both(admin, places[0])[0]
    assert province.total == Appeal.objects.count() > 50 and province.median_resolve_hours
    assert {"merged", "rejected", "on_hold", "closed", "submitted"} <= set(Appeal.objects.values_list("status",
                                                                                                       flat=True))
    # Both sides of local midnight, on their own days: a one-day period on either side.
    edge = metrics.midnight(metrics.local_day(timezone.now()) - 5 * DAY)
    for start in (edge - DAY, edge):
        rolled, live = both(w.community_worker, w.community, start, start + DAY)
        assert rolled.total == live.total >= 1 and rolled.as_of != live.as_of
    # Refreshing changes nothing; a rebuild writes the very same rows.
    services.refresh_rollups()
    assert rows() == incremental
    call_command("appeals_rollup", rebuild=True, stdout=io.StringIO())
    assert rows() == incremental


def test_refresh_picks_up_later_changes_to_old_appeals(w, make_appeal):
    old = [make_appeal() for _ in range(4)]
    for appeal in old:
        shift(appeal, 20)
    services.refresh_rollups()

    def figures():
        rolled, live = both(w.community_worker, w.community)
        assert_same(rolled, live)
        return rolled

    before = figures()
    assert (before.total, before.resolved, before.rated) == (4, 0, 0)
    a = services.resolve(w.grid_worker_a, services.accept(w.grid_worker_a, old[0]), "修好了")
    services.refresh_rollups()
    assert figures().resolved == 1
    services.rate(w.resident, a, "unsatisfied", "还在响")  # reopens it
    services.refresh_rollups()
    after = figures()
    assert (after.resolved, after.rated, after.satisfied) == (0, 1, 0)
    services.resolve(w.grid_worker_a, a, "彻底修好")
    services.refresh_rollups()
    assert (figures().resolved, figures().reworked) == (1, 1)
    services.merge(w.grid_worker_a, old[1], old[2], "重复")
    services.refresh_rollups()
    assert figures().valid == 3
    services.extend(w.grid_worker_a, services.accept(w.grid_worker_a, old[3]), 5, "等配件")
    services.refresh_rollups()
    assert figures().extended == 1


def test_overdue_count_moves_when_a_deadline_passes_without_any_write(w, make_appeal):
    now = timezone.now()
    appeal = services.start(w.grid_worker_a, services.accept(w.grid_worker_a, make_appeal()))
    shift(appeal, 2)
    Appeal.objects.filter(pk=appeal.pk).update(resolve_due=now + H)
    services.refresh_rollups(now=now)
    day = metrics.local_day(Appeal.objects.get(pk=appeal.pk).created_at)
    row = DailyRollup.objects.get(place=w.community, day=day, category=None)
    assert row.overdue == 0
    services.refresh_rollups(now=now + 2 * H)  # nothing was written in between
    assert DailyRollup.objects.get(place=w.community, day=day, category=None).overdue == 1
    assert DailyRollup.objects.get(place=w.province, day=day, category=None).overdue == 1
    m = metrics.compute(w.community_worker, w.community, *year())
    assert m.overdue == 1 and m.as_of == now + 2 * H


def test_below_community_and_partial_days_stay_live(w, make_appeal):
    shift(make_appeal(), 3)
    services.refresh_rollups()
    watermark = RollupState.objects.get().watermark
    grid = metrics.compute(w.grid_worker_a, w.grid_a, *year())
    start, end = year()
    partial = metrics.compute(w.community_worker, w.community, start + H, end)
    whole = metrics.compute(w.community_worker, w.community, start, end)
    assert grid.total == partial.total == whole.total == 1
    assert grid.as_of > watermark and partial.as_of > watermark and whole.as_of == watermark


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_leave_correct_rows(w, admin, make_appeal):
    for n, appeal in enumerate(make_appeal() for _ in range(12)):
        shift(appeal, n * 7)
    services.refresh_rollups()
    for appeal in Appeal.objects.all()[:6]:
        services.resolve(w.grid_worker_a, services.accept(w.grid_worker_a, appeal), "修好了")
    errors, barrier = [], threading.Barrier(2)

    def run(rebuild):
        try:
            for _ in range(3):
                barrier.wait(timeout=30)
                services.refresh_rollups(rebuild=rebuild)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(rebuild,)) for rebuild in (False, True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    together = rows()
    call_command("appeals_rollup", rebuild=True, stdout=io.StringIO())
    assert rows() == together
    for place in divisions():
        assert_same(*both(admin, place))


def test_metrics_page_api_and_workbook_say_how_fresh(client, api_client, w, make_appeal):
    shift(make_appeal(), 3)
    services.refresh_rollups()
    watermark = RollupState.objects.get().watermark
    shown = timezone.localtime(watermark, metrics.TZ).strftime("%Y-%m-%d %H:%M")
    client.force_login(w.community_worker)
    body = client.get(reverse("appeals:metrics") + f"?place={w.community.pk}").content.decode()
    assert f"统计截至 {shown}" in body and 'data-testid="metric-total">1<' in body
    data = api_client.as_user(w.community_worker).get(f"/api/appeals/metrics?place_id={w.community.pk}").json()
    assert data["total"] == 1 and data["as_of"].startswith(watermark.isoformat()[:19].replace("+00:00", ""))
    m = metrics.compute(w.community_worker, w.community, *year())
    from openpyxl import load_workbook
    sheet = load_workbook(io.BytesIO(metrics.workbook(m))).active
    assert [shown] == [row[1] for row in sheet.iter_rows(values_only=True) if row[1] == shown]


def test_the_worker_refreshes_the_rollup(w, make_appeal):
    assert "gongzhi.appeals.jobs.refresh_rollups" in discover()
    shift(make_appeal(), 1)
    out = io.StringIO()
    call_command("appeals_rollup", stdout=out)
    assert "refreshed" in out.getvalue()
    # One row for the category and one for the day's total.
    assert list(DailyRollup.objects.filter(place=w.community).values_list("category__code", "total")) \
        in ([("noise", 1), (None, 1)], [(None, 1), ("noise", 1)])
