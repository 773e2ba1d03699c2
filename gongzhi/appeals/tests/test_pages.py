from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from gongzhi.appeals import services
from gongzhi.core.testing import image_upload
from gongzhi.appeals.models import Appeal, Category, Tier


def test_home_links(client, w):
    client.force_login(w.resident)
    body = client.get("/").content.decode()
    assert reverse("appeals:submit") in body and reverse("appeals:mine") in body


def test_submit_page_is_idempotent(client, w):
    client.force_login(w.resident)
    page = client.get(reverse("appeals:submit"))
    assert page.status_code == 200 and 'name="idempotency_key"' in page.content.decode()
    data = {"kind": "help", "category": Category.objects.get(code="noise").pk, "description": "楼道灯坏了",
            "urgency": "normal", "latitude": "30.395", "longitude": "114.885", "idempotency_key": "tok-1",
            "photo": image_upload("a.png")}
    first = client.post(reverse("appeals:submit"), data)
    data["photo"] = image_upload("a.png")
    second = client.post(reverse("appeals:submit"), data)
    assert first.status_code == second.status_code == 302 and first.url == second.url
    assert Appeal.objects.count() == 1 and Appeal.objects.get().photo
    assert "楼道灯坏了" in client.get(first.url).content.decode()
    assert "楼道灯坏了" in client.get(reverse("appeals:mine")).content.decode()


def test_submit_page_shows_errors(client, w):
    client.force_login(w.resident)
    response = client.post(reverse("appeals:submit"), {
        "kind": "help", "category": Category.objects.get(code="noise").pk, "description": "x", "urgency": "normal",
        "idempotency_key": "tok-2", "photo": SimpleUploadedFile("a.jpg", b"nope", content_type="image/jpeg")})
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    assert not Appeal.objects.exists()


def test_other_grid_cannot_see_or_act_on_page(client, w, make_appeal):
    a = make_appeal()
    client.force_login(w.grid_worker_b)
    assert client.get(reverse("appeals:detail", args=[a.pk])).status_code == 403
    assert client.post(reverse("appeals:act", args=[a.pk, "accept"])).status_code == 403
    assert a.pk not in [r.pk for r in client.get(reverse("appeals:inbox")).context["rows"]]
    a.refresh_from_db()
    assert a.status == Appeal.Status.SUBMITTED


def test_staff_act_on_page(client, w, make_appeal):
    a = make_appeal()
    client.force_login(w.grid_worker_a)
    inbox = client.get(reverse("appeals:inbox")).content.decode()
    assert f'href="{reverse("appeals:detail", args=[a.pk])}"' in inbox and "due-" in inbox
    page = client.get(reverse("appeals:detail", args=[a.pk])).content.decode()
    assert 'data-testid="do-accept"' in page and 'data-testid="do-resolve"' not in page
    client.post(reverse("appeals:act", args=[a.pk, "accept"]))
    client.post(reverse("appeals:act", args=[a.pk, "resolve"]), {"note": ""})  # refused: no note
    a.refresh_from_db()
    assert a.status == Appeal.Status.ACCEPTED
    client.post(reverse("appeals:act", args=[a.pk, "resolve"]), {"note": "已修好"})
    a.refresh_from_db()
    assert a.status == Appeal.Status.RESOLVED
    client.force_login(w.resident)
    client.post(reverse("appeals:act", args=[a.pk, "rate"]), {"rating": "satisfied"})
    a.refresh_from_db()
    assert a.status == Appeal.Status.CLOSED


def test_metrics_page_and_export(client, w, make_appeal):
    services.accept(w.grid_worker_a, make_appeal())
    client.force_login(w.community_worker)
    page = client.get(reverse("appeals:metrics"))
    body = page.content.decode()
    assert page.status_code == 200 and 'id="metrics-data"' in body and "vendor/echarts/echarts.min.js" in body
    assert "appeals/metrics.js" in body
    export = client.get(reverse("appeals:metrics") + f"?place={w.community.pk}&format=xlsx")
    assert export.status_code == 200 and export.content[:2] == b"PK"
    client.force_login(w.grid_worker_b)
    assert client.get(reverse("appeals:metrics") + f"?place={w.community.pk}").status_code == 403
    client.force_login(w.resident)
    assert client.get(reverse("appeals:metrics")).status_code == 403


def test_submit_page_has_a_map_of_grid_boundaries(client, w):
    import json
    client.force_login(w.resident)
    page = client.get(reverse("appeals:submit")).content.decode()
    assert "vendor/leaflet/leaflet.js" in page and "appeals/pick_map.js" in page
    start = page.index('<script id="grid-boundaries" type="application/json">') + 53
    data = json.loads(page[start:page.index("</script>", start)])
    assert {f["properties"]["id"] for f in data["features"]} == {w.grid_a.pk, w.grid_b.pk}
    assert "<script>" not in page and ' style="' not in page and " onclick" not in page


def test_mine_shows_each_appeal_with_its_latest_steps(client, w, make_appeal):
    a = services.accept(w.grid_worker_a, make_appeal(description="井盖松动"))
    client.force_login(w.resident)
    page = client.get(reverse("appeals:mine")).content.decode()
    assert page.count('data-testid="my-appeal"') == 1 and "井盖松动" in page
    steps = page[page.index('class="timeline compact"'):]
    assert steps.index("受理") < steps.index("已提交")  # newest step first, in Chinese
    assert a.events.count() == 2


def _late_and_fresh(w, make_appeal):
    fresh = services.escalate(w.grid_worker_a, make_appeal(description="楼道堆物"), "需社区协调")
    late = services.escalate(w.grid_worker_b, make_appeal(user=w.resident_b, latitude=30.395, longitude=114.895,
                                                          description="车辆乱停"), "需社区协调")
    Appeal.objects.filter(pk=late.pk).update(accept_due=late.created_at - timedelta(hours=1))
    return late, fresh


def test_dispatch_board_overdue_first_and_dispatch_from_it(client, w, make_appeal):
    late, fresh = _late_and_fresh(w, make_appeal)
    grid_only = make_appeal(description="路灯不亮")
    client.force_login(w.community_worker)
    response = client.get(reverse("appeals:board"))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.index(f'board-row-{late.pk}"') < body.index(f'board-row-{fresh.pk}"')
    assert f'board-row-{grid_only.pk}"' in body  # the grids' appeals are on the board too
    assert f'data-testid="board-dispatch-{late.pk}"' in body and f'data-testid="board-dispatch-{grid_only.pk}"' not in body
    assert '<option value="派出所"' in body
    r = client.post(reverse("appeals:act", args=[late.pk, "dispatch"]),
                    {"department": "派出所", "next": reverse("appeals:board")})
    assert r.status_code == 302 and r.url == reverse("appeals:board")
    late.refresh_from_db()
    assert late.tier == Tier.DEPARTMENT and late.department == "派出所"
    client.post(reverse("appeals:act", args=[fresh.pk, "accept"]), {"next": "https://evil.example/"})
    r = client.post(reverse("appeals:act", args=[fresh.pk, "assign"]),
                    {"assignee": w.secretary.pk, "next": "https://evil.example/"})
    assert r.url == reverse("appeals:detail", args=[fresh.pk])  # no open redirect
    fresh.refresh_from_db()
    assert fresh.assignee == w.secretary and fresh.status == Appeal.Status.ASSIGNED


def test_dispatch_board_scope(client, api_client, w, make_appeal):
    late, fresh = _late_and_fresh(w, make_appeal)
    client.force_login(w.grid_worker_a)
    assert client.get(reverse("appeals:board")).status_code == 403
    client.force_login(w.other_worker)
    assert f"board-row-{late.pk}" not in client.get(reverse("appeals:board")).content.decode()
    assert client.get(reverse("appeals:board") + f"?place={w.community.pk}").status_code == 403
    client.force_login(w.subdistrict_officer)
    body = client.get(reverse("appeals:board") + f"?place={w.community.pk}").content.decode()
    assert f"board-row-{late.pk}" in body and 'id="board-place"' in body
    groups = api_client.as_user(w.community_worker).get(f"/api/appeals/board?place_id={w.community.pk}").json()
    community = next(g for g in groups if g["tier"] == "community")
    assert [a["id"] for a in community["appeals"]] == [late.pk, fresh.pk] and community["appeals"][0]["late"]
    assert "dispatch" in community["appeals"][0]["allowed_actions"]
