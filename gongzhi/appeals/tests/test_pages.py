from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from gongzhi.appeals import services
from gongzhi.core.testing import image_upload
from gongzhi.appeals.models import Appeal, Category


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
