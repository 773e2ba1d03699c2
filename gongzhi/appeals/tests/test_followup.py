"""After resolution: merged reporters follow and rate the main appeal; unrated appeals close; joint sub-tasks."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from gongzhi.accounts.models import RoleAssignment
from gongzhi.accounts.roles import Role
from gongzhi.appeals import metrics, services
from gongzhi.appeals.models import Appeal, Notification, SubTask, Tier
from gongzhi.core.jobs import discover, run_job
from gongzhi.core.testing import make_user

S = Appeal.Status


@pytest.fixture
def merged(w, make_appeal):
    """A (the resident's) and B (resident B's), B merged into A."""
    a = services.accept(w.grid_worker_a, make_appeal(description="工地夜里施工噪音"))
    b = services.merge(w.grid_worker_a, make_appeal(user=w.resident_b, description="夜里工地噪音"), a)
    return a, b


def test_merged_reporter_rates_the_main_appeal(w, merged, client):
    a, b = merged
    assert "rate" not in services.allowed_actions(w.resident_b, b)
    with pytest.raises(ValidationError):
        services.rate(w.resident_b, b, "satisfied")  # nothing to rate yet
    a = services.resolve(w.grid_worker_a, a, "已协调夜间停工")
    assert Notification.objects.filter(user=w.resident_b, appeal=b).exists()
    client.force_login(w.resident_b)
    mine = client.get(reverse("appeals:mine")).content.decode()
    assert "已协调夜间停工" in mine and 'data-testid="please-rate"' in mine
    page = client.get(reverse("appeals:detail", args=[b.pk])).content.decode()
    assert 'data-testid="outcome-resolution"' in page and 'data-testid="do-rate"' in page
    assert client.get(reverse("appeals:detail", args=[a.pk])).status_code == 403  # A's page stays A's reporter's

    client.post(reverse("appeals:act", args=[b.pk, "rate"]), {"rating": "unsatisfied", "note": "还在施工"})
    a.refresh_from_db()
    b.refresh_from_db()
    assert b.rating == "unsatisfied" and b.status == S.MERGED
    assert a.status == S.ACCEPTED and a.reopen_count == 1 and a.rating == ""  # reopened for everyone
    assert "还在施工" in a.events.last().note
    with pytest.raises(ValidationError):
        services.rate(w.resident_b, b, "satisfied")  # wait for the next resolution
    services.resolve(w.grid_worker_a, a, "施工方已停工")
    services.rate(w.resident_b, b, "satisfied")
    a = services.rate(w.resident, a, "basically")
    assert a.status == S.CLOSED
    m = metrics.compute(w.community_worker, w.community, timezone.now() - timedelta(days=1),
                        timezone.now() + timedelta(minutes=1))
    assert m.valid == 1 and m.rated == 2 and m.satisfaction_rate == 1.0 and m.rework_rate == 1.0


def test_merged_reporter_rating_after_close_is_recorded_only(w, merged):
    a, b = merged
    services.rate(w.resident, services.resolve(w.grid_worker_a, a, "done"), "satisfied")
    b = services.rate(w.resident_b, b, "unsatisfied", "没解决")
    a.refresh_from_db()
    assert a.status == S.CLOSED and b.rating == "unsatisfied"
    assert a.events.last().action == "rate" and f"#{b.pk}" in a.events.last().note
    with pytest.raises(PermissionDenied):
        services.rate(w.resident, b, "satisfied")  # only B's reporter rates B


def test_unsatisfied_twice_at_the_top_stays_with_the_department(w, make_appeal):
    a = services.escalate(w.grid_worker_a, make_appeal(), "上报")
    a = services.accept(w.police, services.dispatch(w.community_worker, a, "派出所"))
    for _ in range(2):
        a = services.rate(w.resident, services.resolve(w.police, a, "处理"), "unsatisfied")
    assert a.tier == Tier.DEPARTMENT and a.status == S.ACCEPTED and a.reopen_count == 2


def test_worker_closes_unrated_after_the_configured_days(w, make_appeal, settings):
    settings.GONGZHI_APPEAL_RATING_DAYS = 3
    old = services.resolve(w.grid_worker_a, services.accept(w.grid_worker_a, make_appeal()), "已处理")
    recent = services.resolve(w.grid_worker_a, services.accept(w.grid_worker_a, make_appeal()), "已处理")
    Appeal.objects.filter(pk=old.pk).update(resolved_at=timezone.now() - timedelta(days=3, minutes=1))
    Appeal.objects.filter(pk=recent.pk).update(resolved_at=timezone.now() - timedelta(days=2))
    job = discover()["gongzhi.appeals.jobs.close_unrated"]
    assert run_job(job)
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == S.CLOSED and old.closed_at and old.rating == ""
    last = old.events.last()
    assert last.action == "autoclose" and last.actor is None and "3" in last.note
    assert Notification.objects.filter(user=w.resident, appeal=old, message__contains="3").exists()
    assert recent.status == S.RESOLVED
    assert services.close_unrated() == 0
    with pytest.raises(ValidationError):
        services.rate(w.resident, old, "satisfied")  # closed: too late to rate


@pytest.fixture
def joint(w, make_appeal):
    """An appeal with 派出所 (lead), 城管 assisting; a 城管 liaison over the district."""
    w.cityman = make_user("cityman", Role.DEPARTMENT_LIAISON, w.district)
    RoleAssignment.objects.filter(user=w.cityman).update(department="城管")
    a = services.escalate(w.grid_worker_a, make_appeal(), "上报")
    a = services.accept(w.police, services.dispatch(w.community_worker, a, "派出所"))
    a = services.assign(w.police, a, assignee=w.police, assisting_departments=["城管", " 城管 "])
    return a


def test_joint_handling_sub_tasks(w, joint):
    a = joint
    lead = a.subtasks.get(role=SubTask.Role.LEAD)
    assist = a.subtasks.get(role=SubTask.Role.ASSIST)
    assert lead.department == "派出所" and assist.department == "城管" and a.subtasks.count() == 2
    assert w.cityman.has_perm("appeals.view_appeal", a) and not w.cityman.has_perm("appeals.handle_appeal", a)
    assert list(services.open_subtasks(w.cityman)) == [assist]
    assert services.visible_appeals(w.cityman).filter(pk=a.pk).exists()
    with pytest.raises(PermissionDenied):
        services.complete_subtask(w.grid_worker_b, assist, "x")
    with pytest.raises(PermissionDenied):
        services.complete_subtask(w.cityman, lead, "x")  # not their part
    with pytest.raises(ValidationError):
        services.complete_subtask(w.cityman, assist, " ")
    assist = services.complete_subtask(w.cityman, assist, "已清理占道摊点")
    assert assist.done_at and assist.done_by == w.cityman and assist.note == "已清理占道摊点"
    assert a.events.last().action == "subtask" and "已清理占道摊点" in a.events.last().note
    assert Notification.objects.filter(user=w.police, appeal=a, message__contains="城管").exists()
    with pytest.raises(ValidationError):
        services.complete_subtask(w.cityman, assist, "again")
    assert list(services.open_subtasks(w.cityman)) == []
    services.complete_subtask(w.police, lead, "已调解")  # the lead's own part


def test_sub_tasks_on_pages_and_api(client, api_client, w, joint):
    assist = joint.subtasks.get(role=SubTask.Role.ASSIST)
    client.force_login(w.cityman)
    inbox = client.get(reverse("appeals:inbox")).content.decode()
    assert 'data-testid="subtask-row"' in inbox and reverse("appeals:detail", args=[joint.pk]) in inbox
    page = client.get(reverse("appeals:detail", args=[joint.pk])).content.decode()
    assert f'data-testid="subtask-done-{assist.pk}"' in page and 'data-testid="do-resolve"' not in page
    client.post(reverse("appeals:subtask_done", args=[assist.pk]), {"note": ""})
    assist.refresh_from_db()
    assert assist.done_at is None
    api = api_client.as_user(w.cityman)
    assert [t["id"] for t in api.get("/api/appeals/subtasks").json()] == [assist.pk]
    r = api.post(f"/api/appeals/subtasks/{assist.pk}/done", {"note": "已配合处理"})
    assert r.status_code == 200 and r.json()["done_by"] == "cityman"
    body = api_client.as_user(w.police).get(f"/api/appeals/{joint.pk}").json()
    assert {t["unit"]: bool(t["done_at"]) for t in body["subtasks"]} == {"派出所": False, "城管": True}
    assert api_client.as_user(w.grid_worker_b).post(f"/api/appeals/subtasks/{assist.pk}/done",
                                                   {"note": "x"}).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_rating_and_auto_close_at_once_leave_exactly_one_outcome(w, make_appeal, settings):
    if connection.vendor != "postgresql":
        pytest.skip("real parallel transactions need PostgreSQL")
    settings.GONGZHI_APPEAL_RATING_DAYS = 1
    appeals = [services.resolve(w.grid_worker_a, services.accept(w.grid_worker_a, make_appeal()), "已处理")
               for _ in range(20)]
    Appeal.objects.filter(pk__in=[a.pk for a in appeals]).update(resolved_at=timezone.now() - timedelta(days=2))
    barrier, rated, closed = threading.Barrier(2), [], []

    def resident():
        barrier.wait()
        for a in reversed(appeals):  # from the other end, so the two meet in the middle
            try:
                services.rate(w.resident, a, "satisfied")
                rated.append(a.pk)
            except ValidationError:
                pass  # closed by the worker first
        connection.close()

    def worker():
        barrier.wait()
        closed.append(services.close_unrated())
        connection.close()

    threads = [threading.Thread(target=resident), threading.Thread(target=worker)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(rated) + closed[0] == len(appeals)
    for a in appeals:
        a.refresh_from_db()
        ends = list(a.events.filter(action__in=["rate", "autoclose"]).values_list("action", flat=True))
        assert a.status == S.CLOSED and len(ends) == 1
        assert (a.rating == "satisfied") == (ends == ["rate"]) == (a.pk in rated)


def test_merged_appeal_in_the_api(api_client, w, merged):
    a, b = merged
    services.resolve(w.grid_worker_a, a, "已协调夜间停工")
    api = api_client.as_user(w.resident_b)
    body = api.get(f"/api/appeals/{b.pk}").json()
    assert body["status"] == "merged" and body["outcome"]["id"] == a.pk
    assert body["outcome"]["resolution"] == "已协调夜间停工" and body["allowed_actions"] == ["rate"]
    r = api.post(f"/api/appeals/{b.pk}/rate", {"rating": "basically"})
    assert r.status_code == 200 and r.json()["rating"] == "basically" and r.json()["allowed_actions"] == []
    assert api.post(f"/api/appeals/{b.pk}/rate", {"rating": "basically"}).status_code == 400  # once per outcome
