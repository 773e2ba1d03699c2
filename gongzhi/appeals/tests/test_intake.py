"""The lean intake path answers exactly what the full read path does, and tells every handler once."""

from django.test import Client

from gongzhi.accounts.roles import Role
from gongzhi.appeals.models import Appeal, Category, Notification
from gongzhi.core.testing import make_user


def _post(api, key, **kw):
    data = {"kind": "complaint", "category_id": Category.objects.get(code="noise").pk, "description": "楼道堆物",
            "latitude": 30.395, "longitude": 114.885, **kw}
    return Client().post("/api/appeals/", data, content_type="application/json",
                         headers={**api.headers, "Idempotency-Key": key})


def test_submit_answers_what_the_appeal_page_shows(api_client, w):
    api = api_client.as_user(w.resident)
    created = _post(api, "k-1")
    assert created.status_code == 201
    body = created.json()
    assert [e["action"] for e in body["events"]] == ["submit"] and body["events"][0]["actor"]
    assert body["subtasks"] == [] and body["place_id"] == w.grid_a.pk
    shown = api.get(f"/api/appeals/{body['id']}").json()
    assert body == shown
    replay = _post(api, "k-1")
    assert replay.status_code == 200 and replay.json() == shown
    # A handler submitting sees the actions open to them on the new appeal straight away.
    staff = api_client.as_user(w.grid_worker_a)
    own = _post(staff, "k-2").json()
    assert "accept" in own["allowed_actions"] and own == staff.get(f"/api/appeals/{own['id']}").json()


def test_every_handler_is_told_once(api_client, w):
    second = make_user("grid_a2", Role.GRID_LEADER, w.grid_a)
    body = _post(api_client.as_user(w.resident), "k-3").json()
    _post(api_client.as_user(w.resident), "k-3")  # a replay tells nobody again
    told = Notification.objects.filter(appeal_id=body["id"])
    assert sorted(told.values_list("user__username", flat=True)) == sorted([w.grid_worker_a.username,
                                                                            second.username])
    assert Appeal.objects.count() == 1
