from gongzhi.appeals.models import Appeal, Category


def _payload(**kw):
    data = {"kind": "complaint", "category_id": Category.objects.get(code="noise").pk, "description": "广场舞噪音",
            "latitude": 30.395, "longitude": 114.885}
    data.update(kw)
    return data


def test_submit_with_idempotency_key(api_client, w):
    api = api_client.as_user(w.resident)
    r1 = api_post(api, "/api/appeals/", _payload(), key="abc-1")
    r2 = api_post(api, "/api/appeals/", _payload(), key="abc-1")
    assert r1.status_code == 201 and r2.status_code == 200
    assert r1.json()["id"] == r2.json()["id"] and Appeal.objects.count() == 1
    body = r1.json()
    assert body["place_id"] == w.grid_a.pk and body["status"] == "submitted" and body["source"] == "api"
    assert body["contact_phone"] != "13800000001"  # masked
    assert api_post(api, "/api/appeals/", _payload(), key="abc-2").status_code == 201
    assert Appeal.objects.count() == 2


def api_post(api, url, data, key=None):
    from django.test import Client
    headers = dict(api.headers)
    if key:
        headers["Idempotency-Key"] = key
    return Client().post(url, data, content_type="application/json", headers=headers)


def test_submit_errors(api_client, w):
    r = api_client.as_user(w.resident).post("/api/appeals/", _payload(kind="x", description=""))
    assert r.status_code == 400 and {"kind", "description"} <= set(r.json()["errors"])


def test_full_loop_over_api(api_client, w):
    api = api_client.as_user(w.resident)
    appeal_id = api.post("/api/appeals/", _payload()).json()["id"]
    staff = api_client.as_user(w.grid_worker_a)
    assert staff.get(f"/api/appeals/{appeal_id}").json()["allowed_actions"][0] == "accept"
    assert [r["id"] for r in staff.get("/api/appeals/inbox").json()["items"]] == [appeal_id]
    assert staff.post(f"/api/appeals/{appeal_id}/accept", {}).status_code == 200
    assert staff.post(f"/api/appeals/{appeal_id}/accept", {}).status_code == 400  # replay is refused
    assert staff.post(f"/api/appeals/{appeal_id}/assign", {"assignee_id": w.grid_worker_a.pk}).status_code == 200
    assert staff.post(f"/api/appeals/{appeal_id}/start", {}).status_code == 200
    due = staff.get(f"/api/appeals/{appeal_id}").json()["resolve_due"]
    assert staff.post(f"/api/appeals/{appeal_id}/extend", {"days": 30, "note": "等配件"}).status_code == 400
    assert staff.post(f"/api/appeals/{appeal_id}/extend", {"days": 3, "note": "等配件"}).json()["resolve_due"] > due
    assert staff.post(f"/api/appeals/{appeal_id}/resolve", {"note": ""}).status_code == 400
    assert staff.post(f"/api/appeals/{appeal_id}/resolve", {"note": "已劝导"}).status_code == 200
    resident = api_client.as_user(w.resident)
    r = resident.post(f"/api/appeals/{appeal_id}/rate", {"rating": "basically"})
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert [e["action"] for e in r.json()["events"]] == ["submit", "accept", "assign", "start", "extend", "resolve",
                                                       "rate"]
    assert resident.get("/api/appeals/?mine=true").json()["count"] == 1
    assert resident.get("/api/appeals/notifications").status_code == 200


def test_other_grid_cannot_act_via_api(api_client, w):
    appeal_id = api_client.as_user(w.resident).post("/api/appeals/", _payload()).json()["id"]
    other = api_client.as_user(w.grid_worker_b)
    assert other.get(f"/api/appeals/{appeal_id}").status_code == 403
    assert other.post(f"/api/appeals/{appeal_id}/accept", {}).status_code == 403
    assert other.get("/api/appeals/inbox").json()["count"] == 0
    assert Appeal.objects.get(pk=appeal_id).status == "submitted"


def test_escalate_dispatch_over_api(api_client, w):
    appeal_id = api_client.as_user(w.resident).post("/api/appeals/", _payload()).json()["id"]
    r = api_client.as_user(w.grid_worker_a).post(f"/api/appeals/{appeal_id}/escalate", {"note": "需社区协调"})
    assert r.json()["tier"] == "community"
    r = api_client.as_user(w.community_worker).post(f"/api/appeals/{appeal_id}/dispatch", {"department": "派出所"})
    assert r.json()["tier"] == "department"
    police = api_client.as_user(w.police)
    assert police.get("/api/appeals/inbox").json()["count"] == 1
    assert police.post(f"/api/appeals/{appeal_id}/accept", {}).status_code == 200


def test_metrics_api(api_client, w):
    api_client.as_user(w.resident).post("/api/appeals/", _payload())
    r = api_client.as_user(w.community_worker).get(f"/api/appeals/metrics?place_id={w.community.pk}")
    assert r.status_code == 200 and r.json()["total"] == 1
    x = api_client.as_user(w.community_worker).get(f"/api/appeals/metrics.xlsx?place_id={w.community.pk}")
    assert x.status_code == 200 and x.content[:2] == b"PK"
    assert api_client.as_user(w.grid_worker_b).get(f"/api/appeals/metrics?place_id={w.community.pk}").status_code == 403
    assert api_client.as_user(w.resident).get("/api/appeals/categories").status_code == 200


def test_huge_page_offset_or_limit_is_a_422_not_a_server_error(api_client, world):
    """Found by the schemathesis run: offset=19488464864454719307776 overflowed the database integer (500)."""
    api = api_client.as_user(world.resident)
    assert api.get("/api/appeals/?offset=19488464864454719307776").status_code == 422
    assert api.get("/api/appeals/?limit=156149490432194159575040").status_code == 422
    assert api.get("/api/appeals/?offset=0&limit=1000").status_code == 200
