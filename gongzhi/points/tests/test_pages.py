import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from gongzhi.core.testing import image_upload
from gongzhi.points import services
from gongzhi.points.models import Account, Claim, Redemption

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


def test_resident_sees_own_and_household_points_as_the_village_counts_them(world, client):
    funded_account(world, 20)
    household = services.open_household_account(world.community_worker, world.household_a)
    services.award(world.community_worker, household, amount=30, reason="文明家庭", key="h")
    client.force_login(world.resident)
    home = client.get(reverse("points:home")).content.decode()
    assert 'data-testid="household-total">30<' in home
    page = client.get(reverse("points:household", args=[world.household_a.pk])).content.decode()
    assert 'data-testid="household-total">30<' in page and "文明家庭" in page and "开户测试" not in page
    assert "leaderboard-link" not in home
    services.set_policy(world.community_worker, world.community, household_includes_members=True,
                        public_leaderboard=True)
    home = client.get(reverse("points:home")).content.decode()
    assert 'data-testid="household-total">50<' in home and "leaderboard-link" in home
    page = client.get(reverse("points:household", args=[world.household_a.pk])).content.decode()
    assert 'data-testid="household-total">50<' in page and "开户测试" in page
    assert client.get(reverse("points:household", args=[world.household_b.pk])).status_code == 403
    assert client.get(reverse("points:households", args=[world.community.pk])).status_code == 403


def test_staff_find_open_and_adjust_a_household_account(world, client):
    rule = services.create_rule(world.community_worker, world.community, name="门前三包", points=5)
    client.force_login(world.community_worker)
    listing = client.get(reverse("points:households", args=[world.community.pk]), {"q": "张三"}).content.decode()
    assert "101" in listing and "201" not in listing
    url = reverse("points:household", args=[world.household_a.pk])
    assert 'data-testid="open-account"' in client.get(url).content.decode()
    assert client.post(url).status_code == 302
    account = Account.objects.get(household=world.household_a)
    account_url = reverse("points:account", args=[account.pk])
    r = client.post(account_url, {"action": "award", "key": "k1", "rule": "", "amount": "", "reason": ""})
    assert r.status_code == 200 and "请填写大于零的积分数" in r.content.decode() and not account.entries.exists()
    assert client.post(account_url, {"action": "award", "key": "k2", "rule": rule.pk}).status_code == 302
    assert client.post(account_url, {"action": "award", "key": "k3", "amount": 12, "reason": "清理河道"}).status_code == 302
    account.refresh_from_db()
    assert account.balance == 17 and services.audit_ledger() == []
    client.force_login(world.grid_worker_a)  # sees, may not adjust
    page = client.get(account_url).content.decode()
    assert "17" in page and 'data-testid="award"' not in page


def test_leaderboard_page_is_public_once_switched_on(world, client):
    funded_account(world, 40)
    url = reverse("points:leaderboard", args=[world.community.pk])
    assert client.get(url).status_code == 403
    client.force_login(world.community_worker)
    assert client.get(url).status_code == 200  # staff preview
    assert client.post(reverse("points:policy", args=[world.community.pk]),
                       {"public_leaderboard": "on"}).status_code == 302
    client.logout()
    page = client.get(url).content.decode()
    assert "张*" in page and "张三" not in page and "40" in page


def test_report_page_with_period_and_xlsx(world, client):
    funded_account(world, 40)
    client.force_login(world.community_worker)
    url = reverse("points:report", args=[world.community.pk])
    page = client.get(url).content.decode()
    assert 'data-testid="issued">40<' in page and 'data-testid="persons-rate">50.0%<' in page
    later = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert 'data-testid="issued">0<' in client.get(url, {"since": later}).content.decode()
    assert client.get(url, {"since": "not a date"}).status_code == 200
    xlsx = client.get(url, {"since": later, "format": "xlsx"})
    assert xlsx.content[:2] == b"PK"


def test_organiser_adds_volunteer_by_phone_and_resident_downloads_record(world, client):
    act = activity(world)
    client.force_login(world.grid_worker_a)
    url = reverse("points:activity", args=[act.pk])
    r = client.post(url, {"action": "add_volunteer", "number": "13999999999"}, follow=True)
    assert "没有" in r.content.decode() and not act.participations.exists()
    client.post(url, {"action": "add_volunteer", "number": "13800000001"})
    assert act.participations.get().account.person == world.person_a
    client.force_login(world.resident)
    account = services.my_account(world.resident)
    assert client.get(reverse("points:volunteer_record", args=[account.pk])).content[:2] == b"PK"
    client.force_login(world.grid_worker_b)
    assert client.get(reverse("points:volunteer_record", args=[account.pk])).status_code == 403


def test_claim_page_refuses_a_fake_photo_with_a_chinese_message(world, client):
    rule = services.create_rule(world.community_worker, world.community, name="见义勇为", points=50,
                                evidence_required=True)
    client.force_login(world.resident)
    fake = SimpleUploadedFile("x.jpg", b"GIF89a but not really", content_type="image/jpeg")
    r = client.post(reverse("points:claim"), {"rule": rule.pk, "description": "救人", "evidence": fake})
    assert r.status_code == 200 and "照片必须是" in r.content.decode() and not Claim.objects.exists()
    r = client.post(reverse("points:claim"), {"rule": rule.pk, "description": "救人", "evidence": image_upload()})
    assert r.status_code == 302 and Claim.objects.get().evidence.name.endswith(".jpg")


def test_templates_have_no_inline_styles_scripts_or_handlers():
    """A Content-Security-Policy will forbid them."""
    folder = Path(__file__).resolve().parent.parent / "templates" / "points"
    bad = re.compile(r"""\sstyle\s*=|\son[a-z]+\s*=|<script(?![^>]*\bsrc=)(?![^>]*application/json)""", re.I)
    offenders = [f"{path.name}: {m.group(0)}" for path in folder.glob("*.html") for m in bad.finditer(path.read_text())]
    assert not offenders and len(list(folder.glob("*.html"))) > 10, offenders


def test_resident_pays_from_the_household_account_in_the_store(world, client):
    funded_account(world, 10)
    household = services.open_household_account(world.community_worker, world.household_a)
    services.award(world.community_worker, household, amount=50, reason="文明家庭", key="h")
    item = store_item(world, price=30)
    client.force_login(world.resident)
    page = client.get(reverse("points:store")).content.decode()
    assert 'data-testid="household-balance">50<' in page and f'value="{household.pk}"' in page
    r = client.post(reverse("points:redeem", args=[item.pk]), {"key": "k", "quantity": 1, "account": household.pk})
    assert r.status_code == 302 and Redemption.objects.get().account == household
    household.refresh_from_db()
    assert household.balance == 20 and services.my_account(world.resident).balance == 10
    other = services.account_for_person(world.person_b)
    services.award(world.community_worker, other, amount=50, reason="x", key="b")
    r = client.post(reverse("points:redeem", args=[item.pk]), {"key": "k2", "quantity": 1, "account": other.pk})
    assert r.status_code == 403 and Redemption.objects.count() == 1
