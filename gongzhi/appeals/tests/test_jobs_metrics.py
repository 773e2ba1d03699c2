from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from gongzhi.appeals import metrics, services
from gongzhi.appeals.models import Appeal, Notification, Tier
from gongzhi.core.jobs import discover, run_job


def test_job_escalates_overdue_without_a_click(w, make_appeal):
    a = services.accept(w.grid_worker_a, make_appeal())
    Appeal.objects.filter(pk=a.pk).update(response_due=timezone.now() - timedelta(minutes=1))
    job = discover()["gongzhi.appeals.jobs.escalate_overdue"]
    assert run_job(job)
    a.refresh_from_db()
    assert a.overdue and a.tier == Tier.COMMUNITY and a.handler_place == w.community
    assert a.status == Appeal.Status.SUBMITTED and a.due > timezone.now()
    assert a.events.last().action == "escalate" and a.events.last().actor is None
    assert Notification.objects.filter(user=w.community_worker, appeal=a).exists()
    # Running again does nothing more: the new unit has its own time limit.
    assert services.flag_overdue() == 0


def test_job_at_top_tier_reminds_once(w, make_appeal):
    a = make_appeal()
    a = services.escalate(w.grid_worker_a, a, "x")
    a = services.dispatch(w.community_worker, a, "派出所")
    Appeal.objects.filter(pk=a.pk).update(accept_due=timezone.now() - timedelta(minutes=1))
    assert services.flag_overdue() == 0
    a.refresh_from_db()
    assert a.overdue and a.tier == Tier.DEPARTMENT and a.events.last().action == "overdue"
    assert Notification.objects.filter(user=w.police, message__contains="overdue").count() + \
        Notification.objects.filter(user=w.police, message__contains="超时").count() == 1
    services.flag_overdue()
    assert a.events.filter(action="overdue").count() == 1


def test_held_appeal_is_not_escalated(w, make_appeal):
    a = services.hold(w.grid_worker_a, services.accept(w.grid_worker_a, make_appeal()), "等待")
    Appeal.objects.filter(pk=a.pk).update(resolve_due=timezone.now() - timedelta(days=1))
    assert services.flag_overdue() == 0


def test_metrics_numbers(w, make_appeal, cat):
    from gongzhi.appeals.models import Category
    start = timezone.now() - timedelta(days=1)
    # 1: resolved fast and rated satisfied; 2: reworked then resolved, unsatisfied first; 3: open and late;
    # 4: rejected (not valid); 5: another grid, water category.
    a1 = services.accept(w.grid_worker_a, make_appeal())
    a1 = services.start(w.grid_worker_a, a1)
    a1 = services.resolve(w.grid_worker_a, a1, "ok")
    services.rate(w.resident, a1, "satisfied")
    a2 = services.accept(w.grid_worker_a, make_appeal(kind="help"))
    a2 = services.resolve(w.grid_worker_a, a2, "ok")
    a2 = services.rate(w.resident, a2, "unsatisfied")
    a2 = services.resolve(w.grid_worker_a, a2, "ok again")
    a3 = make_appeal()
    Appeal.objects.filter(pk=a3.pk).update(accept_due=timezone.now() - timedelta(hours=1))
    services.reject(w.grid_worker_a, make_appeal(), "重复")
    make_appeal(user=w.resident_b, category=Category.objects.get(code="water"), latitude=30.395, longitude=114.895)
    m = metrics.compute(w.community_worker, w.community, start, timezone.now() + timedelta(minutes=1))
    assert m.total == 5 and m.valid == 4
    assert m.by_kind == {"投诉": 4, "求助": 1} or m.by_kind == {"Complaint": 4, "Request for help": 1}
    assert sorted(m.by_category.values()) == [1, 4]
    assert m.responded == 2 and m.response_rate == 0.5      # a1 started, a2 resolved (resolving responds)
    assert m.resolved == 2 and m.resolution_rate == 0.5
    assert m.rated == 2 and m.satisfied == 1 and m.satisfaction_rate == 0.5  # the latest rating counts
    assert m.on_time_rate == 1.0 and m.rework_rate == 0.5
    assert m.overdue == 1
    assert m.median_resolve_hours is not None and m.median_resolve_hours < 1
    grid_b = metrics.compute(w.grid_worker_b, w.grid_b, start, timezone.now() + timedelta(minutes=1))
    assert grid_b.total == 1
    with pytest.raises(PermissionDenied):
        metrics.compute(w.grid_worker_b, w.grid_a, start, timezone.now())
    data = metrics.workbook(m)
    assert data[:2] == b"PK"
