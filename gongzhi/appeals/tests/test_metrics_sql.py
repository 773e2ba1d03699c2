"""Metrics computed in the database against a small case worked out by hand (docs/appeals.md, Metrics)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gongzhi.appeals import metrics
from gongzhi.appeals.models import Appeal, AppealEvent, Category

S = Appeal.Status
H = timedelta(hours=1)


@pytest.fixture
def case(w, make_appeal):
    """Seven appeals in the period under the community, one before it; times set exactly."""
    t0 = timezone.now() - timedelta(days=5)
    now = timezone.now()

    def appeal(**fields):
        a = make_appeal(**{k: fields.pop(k) for k in ("kind", "category") if k in fields})
        Appeal.objects.filter(pk=a.pk).update(created_at=t0, accept_due=now + H, **fields)
        return a

    a1 = appeal(status=S.CLOSED, responded_at=t0 + 1 * H, resolved_at=t0 + 5 * H, rating="satisfied")
    # Reworked, flagged overdue, 2 hours on hold: resolve time 13 h − 2 h = 11 h; its reporter was unsatisfied.
    appeal(status=S.CLOSED, responded_at=t0 + 3 * H, resolved_at=t0 + 13 * H, paused_seconds=7200,
           reopen_count=1, overdue=True, rating="unsatisfied")
    late = appeal(status=S.IN_PROGRESS, responded_at=t0 + 2 * H, resolve_due=now - H)    # late now
    appeal(status=S.ON_HOLD, responded_at=t0 + 4 * H, resolve_due=now - H)        # the clock is paused
    rejected = appeal(status=S.REJECTED, responded_at=t0, resolved_at=t0 + H, rating="satisfied")  # not valid/rated
    for extended in (late, late, rejected):  # extended twice counts once; a rejected appeal is not valid
        AppealEvent.objects.create(appeal=extended, actor=w.grid_worker_a, action="extend", note="等配件")
    appeal(status=S.MERGED, merged_into=a1, responded_at=t0, resolved_at=t0 + 20 * H,
           rating="basically")                                                   # not valid, but rated
    appeal(status=S.SUBMITTED, kind="help", category=Category.objects.get(code="water"))
    old = make_appeal()
    Appeal.objects.filter(pk=old.pk).update(created_at=t0 - 10 * H, status=S.CLOSED, rating="unsatisfied")
    return t0 - H, now + H


def test_metrics_match_the_hand_computed_case(w, case):
    m = metrics.compute(w.community_worker, w.community, *case)
    assert (m.total, m.valid) == (7, 5)
    assert (m.responded, m.response_rate) == (4, 0.8)
    assert (m.resolved, m.resolution_rate) == (2, 0.4)
    assert (m.rated, m.satisfied, m.satisfaction_rate) == (3, 2, 0.6667)
    assert (m.on_time, m.on_time_rate) == (1, 0.5)
    assert (m.reworked, m.rework_rate) == (1, 0.5)
    assert (m.extended, m.extension_rate) == (1, 0.2)
    assert m.overdue == 2
    assert m.median_response_hours == 2.5   # of 1, 3, 2 and 4 hours
    assert m.median_resolve_hours == 8.0    # of 5 and 11 hours (hold time taken off)
    noise, water = Category.objects.get(code="noise"), Category.objects.get(code="water")
    top = lambda c: (c.parent or c).name  # noqa: E731
    assert m.by_category == {top(noise): 6, top(water): 1}
    assert m.by_kind in ({"投诉": 6, "求助": 1}, {"Complaint": 6, "Request for help": 1})


def test_an_odd_number_of_durations_takes_the_middle_one(w, make_appeal):
    t0 = timezone.now() - timedelta(days=2)
    for hours in (1, 7, 30):
        a = make_appeal()
        Appeal.objects.filter(pk=a.pk).update(created_at=t0, status=S.RESOLVED, responded_at=t0 + hours * H,
                                              resolved_at=t0 + (hours + 0.5) * H)
    m = metrics.compute(w.community_worker, w.community, t0 - H, timezone.now())
    assert (m.median_response_hours, m.median_resolve_hours) == (7.0, 7.5)


def test_an_empty_period_gives_no_rates(w, make_appeal):
    make_appeal()
    later = timezone.now() + timedelta(days=1)
    m = metrics.compute(w.community_worker, w.community, later, later + timedelta(days=1))
    assert m.total == 0 and m.by_kind == {} and m.response_rate is None and m.median_resolve_hours is None


def test_metrics_take_the_same_few_queries_however_many_appeals(w, make_appeal, case):
    def queries():
        with CaptureQueriesContext(connection) as q:
            metrics.compute(w.community_worker, w.community, *case)
        return len(q.captured_queries)

    queries()  # the user's scope is loaded once and kept
    before = queries()
    for _ in range(10):
        make_appeal()
    assert queries() == before <= 8
