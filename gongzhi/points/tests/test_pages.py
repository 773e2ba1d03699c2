import pytest
from django.urls import reverse

from gongzhi.points import services
from gongzhi.points.models import Redemption

from .helpers import activity, funded_account, store_item

pytestmark = pytest.mark.django_db


def test_resident_pages(world, client):
    funded_account(world, 100)
    item = store_item(world)
    act = activity(world)
    services.create_rule(world.community_worker, world.community, name="门前三包", points=5)
    client.force_login(world.resident)
    assert "100" in client.get(reverse("points:home")).content.decode()
    assert "points-link" in client.get("/").content.decode()
    assert "大米5斤" in client.get(reverse("points:store")).content.decode()
    assert "清理河道" in client.get(reverse("points:activities")).content.decode()
    r = client.post(reverse("points:activity", args=[act.pk]), {"action": "sign_up"})
    assert r.status_code == 302
    assert client.get(reverse("points:claim")).status_code == 200
    key = services.new_key()
    r = client.post(reverse("points:redeem", args=[item.pk]), {"key": key, "quantity": 1})
    assert r.status_code == 302
    r2 = client.post(reverse("points:redeem", args=[item.pk]), {"key": key, "quantity": 1})
    assert r2["Location"] == r["Location"] and Redemption.objects.count() == 1  # a resubmitted form is one
    page = client.get(r["Location"]).content.decode()
    assert Redemption.objects.get().code in page
    # Staff pages are not for residents.
    assert client.get(reverse("points:rules", args=[world.community.pk])).status_code == 403
    assert client.get(reverse("points:counter")).status_code == 403


def test_redeem_error_is_a_message_not_a_crash(world, client):
    item = store_item(world, price=30)
    services.my_account(world.resident)
    client.force_login(world.resident)
    r = client.post(reverse("points:redeem", args=[item.pk]), {"key": "k", "quantity": 1}, follow=True)
    assert r.status_code == 200 and "Redemption" not in r.content.decode()[:0]
    assert not Redemption.objects.exists()
    assert list(r.context["messages"])


def test_staff_pages(world, client):
    account = funded_account(world, 50)
    store_item(world)
    act = activity(world)
    client.force_login(world.community_worker)
    c = world.community.pk
    for name in ("place", "rules", "claims", "items", "report", "activity_new"):
        assert client.get(reverse(f"points:{name}", args=[c])).status_code == 200, name
    assert client.get(reverse("points:counter")).status_code == 200
    assert client.get(reverse("points:account", args=[account.pk])).status_code == 200
    assert client.get(reverse("points:activity", args=[act.pk])).status_code == 200
    r = client.post(reverse("points:rules", args=[c]), {"name": "", "points": 0, "award_role": "community_worker"})
    assert r.status_code == 200 and r.context["form"].errors
    r = client.post(reverse("points:rules", args=[c]), {"name": "垃圾分类", "points": 2,
                                                         "award_role": "grid_worker", "cap": 1, "period": "day"})
    assert r.status_code == 302
    xlsx = client.get(reverse("points:report", args=[c]) + "?format=xlsx")
    assert xlsx.content[:2] == b"PK"
    r = client.post(reverse("points:items", args=[c]), {"name": "油", "price": 5, "stock": 3, "provider": "merchant"})
    assert r.status_code == 200 and "merchant" in r.context["form"].errors
    entry = account.entries.get()
    r = client.post(reverse("points:account", args=[account.pk]), {"entry": entry.pk, "reason": "录错"})
    account.refresh_from_db()
    assert account.balance == 0
    client.force_login(world.grid_worker_a)
    assert "svg" in client.get(reverse("points:activity", args=[act.pk])).content.decode()


def test_tampered_ids_are_not_found_not_a_crash(world, client):
    act = activity(world)
    client.force_login(world.grid_worker_a)
    r = client.post(reverse("points:activity", args=[act.pk]), {"action": "check_in", "participation": "abc"})
    assert r.status_code == 404
    client.force_login(world.community_worker)
    r = client.post(reverse("points:claims", args=[world.community.pk]), {"action": "approve", "claim": "x"})
    assert r.status_code == 404
