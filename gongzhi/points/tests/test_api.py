import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from gongzhi.core.testing import image_upload
from gongzhi.points import services
from gongzhi.points.models import Claim

from .helpers import activity, funded_account, store_item

pytestmark = pytest.mark.django_db


def test_resident_redeems_and_counter_confirms_over_api(world, api_client):
    funded_account(world, 100)
    item = store_item(world)
    api = api_client.as_user(world.resident)
    assert api.get("/api/points/me").json()["balance"] == 100
    assert [i["name"] for i in api.get("/api/points/items").json()] == ["大米5斤"]
    r = api.post(f"/api/points/items/{item.pk}/redeem", {"key": "abc"})
    assert r.status_code == 201, r.content
    again = api.post(f"/api/points/items/{item.pk}/redeem", {"key": "abc"})
    assert again.json()["id"] == r.json()["id"]
    code = r.json()["code"]
    assert api.get("/api/points/me").json()["balance"] == 70
    denied = api.post("/api/points/counter/confirm", {"code": code})
    assert denied.status_code == 403
    staff = api_client.as_user(world.community_worker)
    ok = staff.post("/api/points/counter/confirm", {"code": code})
    assert ok.status_code == 200 and ok.json()["status"] == "collected"
    twice = staff.post("/api/points/counter/confirm", {"code": code})
    assert twice.status_code == 400


def test_errors_are_clear_json(world, api_client):
    funded_account(world, 10)
    item = store_item(world, price=30)
    api = api_client.as_user(world.resident)
    r = api.post(f"/api/points/items/{item.pk}/redeem", {"key": "x"})
    assert r.status_code == 400 and "积分不足" in r.json()["detail"]


def test_activity_flow_over_api(world, api_client):
    act = activity(world)
    resident = api_client.as_user(world.resident)
    assert [a["id"] for a in resident.get("/api/points/activities").json()] == [act.pk]
    p = resident.post(f"/api/points/activities/{act.pk}/sign-up").json()
    organiser = api_client.as_user(world.grid_worker_a)
    base = f"/api/points/activities/{act.pk}/participants/{p['id']}"
    assert organiser.post(f"{base}/check-in").status_code == 200
    assert organiser.post(f"{base}/check-out").status_code == 200
    assert organiser.post(f"{base}/hours", {"hours": "2"}).json()["hours"] in ("2", "2.00")
    entries = organiser.post(f"/api/points/activities/{act.pk}/confirm").json()
    assert entries[0]["amount"] == 20
    resident = api_client.as_user(world.resident)  # the fixture holds one token at a time
    assert resident.get("/api/points/me/entries").json()["items"][0]["amount"] == 20


def test_rules_claims_and_report_over_api(world, api_client):
    staff = api_client.as_user(world.community_worker)
    rule = staff.post(f"/api/points/places/{world.community.pk}/rules",
                      {"name": "门前三包", "points": 5, "award_role": "grid_worker"}).json()
    resident = api_client.as_user(world.resident)
    assert [r["name"] for r in resident.get(f"/api/points/places/{world.unit_a.pk}/rules").json()] == ["门前三包"]
    fake = SimpleUploadedFile("a.jpg", b"\xff\xd8 not a photo", content_type="image/jpeg")
    refused = resident.post(f"/api/points/rules/{rule['id']}/claims", {"description": "打扫楼道", "evidence": fake})
    assert refused.status_code == 400 and "JPEG" in refused.json()["errors"]["evidence"][0]
    assert not Claim.objects.exists()
    claim = resident.post(f"/api/points/rules/{rule['id']}/claims", {"description": "打扫楼道",
                                                                     "evidence": image_upload("a.jpg")})
    assert claim.status_code == 201, claim.content
    grid = api_client.as_user(world.grid_worker_a)  # the fixture holds one token at a time
    assert [c["id"] for c in grid.get(f"/api/points/places/{world.community.pk}/claims").json()] == [claim.json()["id"]]
    assert grid.post(f"/api/points/claims/{claim.json()['id']}/approve").json()["status"] == "approved"
    staff = api_client.as_user(world.community_worker)
    report = staff.get(f"/api/points/places/{world.community.pk}/report").json()
    assert report["totals"]["earned"] == 5 and report["top"][0]["earned"] == 5
    assert report["participation"]["active_persons"] == 1 and report["participation"]["persons"] == 2
    report = report["rows"]
    assert report[0]["balance"] == 5
    assert staff.get(f"/api/points/places/{world.community.pk}/report.xlsx").content[:2] == b"PK"
    assert api_client.as_user(world.resident).get(f"/api/points/places/{world.community.pk}/report").status_code == 403
    staff = api_client.as_user(world.community_worker)
    account_id = report[0]["account_id"]
    entry = staff.get(f"/api/points/accounts/{account_id}/entries").json()["items"][0]
    rev = staff.post(f"/api/points/entries/{entry['id']}/reverse", {"reason": "重复"})
    assert rev.status_code == 201 and rev.json()["amount"] == -5
    assert services.audit_ledger() == []


def _put(client, api, url, data):
    return client.put(url, data, content_type="application/json", headers=api.headers)


def test_household_policy_leaderboard_and_volunteer_record_over_api(world, api_client, client):
    funded_account(world, 20)
    staff = api_client.as_user(world.community_worker)
    opened = staff.post(f"/api/points/households/{world.household_a.pk}/account")
    assert opened.status_code == 201
    staff.post(f"/api/points/accounts/{opened.json()['id']}/award", {"amount": 30, "reason": "文明家庭", "key": "h"})
    assert staff.get(f"/api/points/places/{world.community.pk}/policy").json() == {
        "household_includes_members": False, "public_leaderboard": False}
    policy = _put(client, staff, f"/api/points/places/{world.community.pk}/policy",
                  {"household_includes_members": True, "public_leaderboard": True})
    assert policy.json() == {"household_includes_members": True, "public_leaderboard": True}
    rows = staff.get(f"/api/points/places/{world.community.pk}/households?q=101").json()["items"]
    assert [(r["door_no"], r["balance"]) for r in rows] == [("101", 30)]
    resident = api_client.as_user(world.resident)
    mine = resident.get("/api/points/me/household").json()
    assert (mine["own"], mine["members_total"], mine["total"], mine["includes_members"]) == (30, 20, 50, True)
    assert [m["balance"] for m in mine["members"]] == [20]
    entries = resident.get(f"/api/points/households/{world.household_a.pk}/entries").json()["items"]
    assert sorted(e["amount"] for e in entries) == [20, 30] and {e["kind"] for e in entries} == {"award"}
    assert resident.get(f"/api/points/households/{world.household_b.pk}").status_code == 403
    assert _put(client, resident, f"/api/points/places/{world.community.pk}/policy", {}).status_code == 403
    # The leaderboard needs no login once public.
    board = client.get(f"/api/points/places/{world.community.pk}/leaderboard")
    assert board.status_code == 200 and board.json()[0]["points"] == 50 and "三" not in board.json()[0]["name"]
    account_id = resident.get("/api/points/me").json()["id"]
    assert resident.get(f"/api/points/accounts/{account_id}/volunteer-record").json() == []
    assert resident.get(f"/api/points/accounts/{account_id}/volunteer-record.xlsx").content[:2] == b"PK"


def test_walk_in_volunteer_and_report_period_over_api(world, api_client):
    act = activity(world)
    organiser = api_client.as_user(world.grid_worker_a)
    added = organiser.post(f"/api/points/activities/{act.pk}/participants", {"person_id": world.person_a.pk})
    assert added.status_code == 201 and added.json()["status"] == "signed_up"
    outsider = organiser.post(f"/api/points/activities/{act.pk}/participants", {"person_id": 999999})
    assert outsider.status_code == 404
    resident = api_client.as_user(world.resident)
    assert resident.post(f"/api/points/activities/{act.pk}/participants",
                         {"person_id": world.person_b.pk}).status_code == 403
    funded_account(world, 40)
    staff = api_client.as_user(world.community_worker)
    url = f"/api/points/places/{world.community.pk}/report"
    assert staff.get(f"{url}?since=2000-01-01").json()["totals"]["earned"] == 40
    assert staff.get(f"{url}?since=2999-01-01").json()["totals"]["earned"] == 0
    assert staff.get(f"{url}?since=nonsense").status_code == 422


def test_partner_merchant_login_over_api(world, api_client):
    from gongzhi.core.testing import make_user
    shop = make_user("haircut_shop")
    funded_account(world, 100)
    staff = api_client.as_user(world.community_worker)
    url = f"/api/points/places/{world.community.pk}/items"
    refused = staff.post(url, {"name": "大米", "price": 10, "stock": 1, "merchant_user_id": shop.pk})
    assert refused.status_code == 400 and "merchant_user" in refused.json()["errors"]
    item = staff.post(url, {"name": "理发券", "price": 20, "stock": 3, "provider": "merchant", "merchant": "湖畔理发店",
                            "merchant_user_id": shop.pk})
    assert item.status_code == 201 and item.json()["merchant_user_id"] == shop.pk
    code = api_client.as_user(world.resident).post(f"/api/points/items/{item.json()['id']}/redeem",
                                                   {"key": "k"}).json()["code"]
    merchant = api_client.as_user(shop)
    assert [r["code"] for r in merchant.get("/api/points/counter/pending").json()["items"]] == [code]
    assert merchant.post("/api/points/counter/confirm", {"code": code}).json()["status"] == "collected"
