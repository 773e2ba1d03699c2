"""Household balances by the village's policy, evidence photos checked by content, reports, the leaderboard,
the volunteer record and walk-in volunteers."""

import io
from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation
from openpyxl import load_workbook
from PIL import Image

from gongzhi.core.testing import image_upload
from gongzhi.points import services
from gongzhi.points.models import Claim, Entry
from gongzhi.registry.models import Household, Person

from .helpers import activity, funded_account, store_item

pytestmark = pytest.mark.django_db


def _photo_rule(world):
    return services.create_rule(world.community_worker, world.community, name="见义勇为", points=50,
                                evidence_required=True)


def test_fake_evidence_photo_is_refused_in_chinese_and_nothing_is_written(world, settings):
    rule = _photo_rule(world)
    fake = SimpleUploadedFile("p.jpg", b"\xff\xd8\xff\xe0 this is not a photo", content_type="image/jpeg")
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        services.submit_claim(world.resident, rule, description="救人", evidence=fake)
    assert "照片必须是" in exc.value.message_dict["evidence"][0]
    assert not Claim.objects.exists()
    assert not (settings.MEDIA_ROOT / "points").exists()


def test_evidence_photo_loses_its_gps_metadata(world):
    upload = image_upload("p.jpg", exif_gps=True)
    assert Image.open(io.BytesIO(upload.read())).getexif().get(0x8825)  # the upload carries a GPS tag
    upload.seek(0)
    claim = services.submit_claim(world.resident, _photo_rule(world), description="救人", evidence=upload)
    with claim.evidence.open("rb") as stored:
        image = Image.open(stored)
        assert image.format == "JPEG" and not image.getexif().get(0x8825)


def test_household_balance_includes_members_only_where_the_village_says_so(world):
    household = services.open_household_account(world.community_worker, world.household_a)
    services.award(world.community_worker, household, amount=30, reason="文明家庭", key="h1")
    funded_account(world, 20)  # the resident (a member of household A)
    points = services.household_points(world.resident, world.household_a)
    assert (points.own, points.members_total, points.total) == (30, 20, 30)
    assert [e.amount for e in points.entries()] == [30]
    with pytest.raises(PermissionDenied):
        services.set_policy(world.grid_worker_a, world.community, household_includes_members=True)
    services.set_policy(world.community_worker, world.community, household_includes_members=True)
    points = services.household_points(world.resident, world.household_a)
    assert points.total == 50 and sorted(e.amount for e in points.entries()) == [20, 30]
    assert services.household_points(world.grid_worker_a, world.household_a).total == 50
    with pytest.raises(PermissionDenied):
        services.household_points(world.resident, world.household_b)
    with pytest.raises(PermissionDenied):
        services.household_points(world.grid_worker_b, world.household_a)
    # Spending still only takes what the spending account holds.
    item = store_item(world, price=40)
    with pytest.raises(ValidationError):
        services.redeem(world.resident, item, key="r1", account=household)


def test_report_counts_issued_spent_expired_top_participation_and_merchants(world):
    account = funded_account(world, 100)
    other = services.account_for_person(world.person_b)
    services.award(world.community_worker, other, amount=10, reason="义务劳动", key="b1")
    wrong = services.award(world.community_worker, other, amount=5, reason="录错", key="b2")
    services.reverse_entry(world.community_worker, wrong, reason="录错")
    counter_item = store_item(world, price=30)
    merchant_item = store_item(world, name="理发券", price=20, provider="merchant", merchant="湖畔理发店")
    services.confirm_redemption(world.community_worker, services.redeem(world.resident, merchant_item, key="m").code)
    cancelled = services.redeem(world.resident, counter_item, key="c")
    services.cancel_redemption(world.resident, cancelled)
    services.redeem(world.resident, counter_item, key="c2")
    data = services.report(world.community_worker, world.community)
    assert data["totals"] == {"earned": 110, "spent": 50, "expired": 0, "balance": 50 + 10}
    assert [(r["holder"], r["earned"]) for r in data["top"]] == [("张三", 100), ("李四", 10)]
    assert data["participation"] == {"persons": 2, "active_persons": 2, "persons_rate": 100.0, "households": 2,
                                     "active_households": 2, "households_rate": 100.0}
    assert [(m["merchant"], m["redemptions"], m["points"]) for m in data["merchants"]] == [("湖畔理发店", 1, 20)]
    # A grid report covers the grid only; a period after everything happened is empty.
    grid = services.report(world.grid_worker_b, world.grid_b)
    assert [r["holder"] for r in grid["rows"]] == ["李四"] and grid["participation"]["persons"] == 1
    tomorrow = services.day_start(timezone.localdate() + timedelta(days=1))
    assert services.report(world.community_worker, world.community, since=tomorrow)["totals"]["earned"] == 0
    with translation.override("zh-hans"):
        book = load_workbook(io.BytesIO(services.report_workbook(world.community_worker, world.community)))
    assert book.sheetnames == ["汇总", "账户", "积分贡献榜", "交付情况"]
    assert ["发放积分", 110] in [list(r) for r in book["汇总"].iter_rows(values_only=True)]
    account.refresh_from_db()
    assert account.balance == 50 and services.audit_ledger() == []


def test_expired_points_are_reported_as_expired_not_spent(world):
    rule = services.create_rule(world.community_worker, world.community, name="扫雪", points=10, expiry_days=30)
    services.award(world.community_worker, services.my_account(world.resident), rule=rule, key="e1")
    services.expire_points(timezone.now() + timedelta(days=31))
    assert services.report(world.community_worker, world.community)["totals"] == {
        "earned": 10, "spent": 0, "expired": 10, "balance": 0}


def test_leaderboard_is_public_only_when_switched_on_and_shows_surnames(world):
    funded_account(world, 40)
    services.award(world.community_worker, services.account_for_person(world.person_b), amount=60, reason="x",
                   key="b")
    services.redeem(world.resident, store_item(world, price=30), key="r")  # spending does not lower the rank
    with pytest.raises(PermissionDenied):
        services.leaderboard(AnonymousUser(), world.community)
    with pytest.raises(PermissionDenied):
        services.leaderboard(world.resident, world.community)
    assert len(services.leaderboard(world.community_worker, world.community)) == 2  # staff preview
    services.set_policy(world.community_worker, world.community, public_leaderboard=True)
    assert services.leaderboard(AnonymousUser(), world.grid_a) == [
        {"rank": 1, "name": "张*", "household": False, "points": 40}]
    assert [(r["name"], r["points"]) for r in services.leaderboard(AnonymousUser(), world.community)] == [
        ("李*", 60), ("张*", 40)]
    # Where members count towards the household, households are ranked.
    household = services.open_household_account(world.community_worker, world.household_a)
    services.award(world.community_worker, household, amount=30, reason="文明家庭", key="h")
    services.set_policy(world.community_worker, world.community, household_includes_members=True)
    with translation.override("zh-hans"):
        ranked = services.leaderboard(AnonymousUser(), world.community)
    assert [(r["name"], r["points"], r["household"]) for r in ranked] == [("张*家", 70, True), ("李*家", 60, True)]


def test_volunteer_record_lists_hours_and_points_and_exports(world):
    act = activity(world)
    p = services.sign_up(world.resident, act)
    start = timezone.now() - timedelta(hours=3)
    services.check_in(world.grid_worker_a, p, at=start)
    services.check_out(world.grid_worker_a, p, at=start + timedelta(hours=1, minutes=30))
    services.confirm_activity(world.grid_worker_a, act)
    account = services.my_account(world.resident)
    record = services.volunteer_record(world.resident, account)
    assert [(r.activity.title, float(r.hours), r.entry.amount) for r in record] == [("清理河道", 1.5, 15)]
    rows = list(load_workbook(io.BytesIO(services.volunteer_record_workbook(world.resident, account)))
                .active.iter_rows(values_only=True))
    assert rows[1][1] == "清理河道" and rows[1][5] == 1.5 and rows[1][6] == 15
    assert rows[-1][5:] == (1.5, 15)
    with pytest.raises(PermissionDenied):
        services.volunteer_record(world.grid_worker_b, account)


def test_organiser_adds_a_walk_in_volunteer_after_the_activity(world):
    now = timezone.now()
    act = activity(world, starts_at=now - timedelta(hours=5), ends_at=now - timedelta(hours=3))
    with pytest.raises(ValidationError):
        services.sign_up(world.resident, act)  # residents cannot sign up once it is over
    person = services.find_volunteer(world.grid_worker_a, act, " 138 0000 0001 ")
    assert person == world.person_a
    p = services.add_volunteer(world.grid_worker_a, act, person)
    assert services.add_volunteer(world.grid_worker_a, act, person).pk == p.pk
    services.check_in(world.grid_worker_a, p, at=now - timedelta(hours=5))
    services.check_out(world.grid_worker_a, p, at=now - timedelta(hours=3))
    assert [e.amount for e in services.confirm_activity(world.grid_worker_a, act)] == [20]
    with pytest.raises(ValidationError):
        services.find_volunteer(world.grid_worker_a, act, "13999999999")
    with pytest.raises(PermissionDenied):
        services.add_volunteer(world.resident, act, person)
    elsewhere = Household.objects.create(place=world.other_community, door_no="9")
    stranger = Person.objects.create(household=elsewhere, name="外来人员", gender="M", relation="head")
    with pytest.raises(ValidationError):
        services.add_volunteer(world.grid_worker_a, activity(world), stranger)


def test_every_entry_has_its_kind_and_old_entries_are_classified(world):
    account = funded_account(world, 100)
    rule = services.create_rule(world.community_worker, world.community, name="乱扔垃圾", points=-5)
    services.award(world.community_worker, account, rule=rule, key="d")
    r = services.redeem(world.resident, store_item(world, price=30), key="s")
    services.cancel_redemption(world.resident, r)
    services.reverse_entry(world.community_worker, account.entries.get(idempotency_key="d"), reason="误扣")
    kinds = list(Entry.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["award", "deduction", "spend", "refund", "reversal"]
    Entry.objects.update(kind="award")  # as the migration found them
    migration = import_module("gongzhi.points.migrations.0002_policy_entry_kind_merchant_login_evidence_by_content")
    migration.classify_entries(apps, None)
    assert list(Entry.objects.order_by("id").values_list("kind", flat=True)) == kinds


def test_partner_merchant_hands_over_only_their_own_items(world, client):
    from gongzhi.core.testing import make_user
    shop = make_user("haircut_shop")
    funded_account(world, 100)
    with pytest.raises(ValidationError):
        store_item(world, name="大米", merchant_user=shop)  # a counter item has no merchant login
    haircut = store_item(world, name="理发券", price=20, provider="merchant", merchant="湖畔理发店", merchant_user=shop)
    rice = store_item(world, name="大米", price=30)
    mine = services.redeem(world.resident, haircut, key="h")
    theirs = services.redeem(world.resident, rice, key="r")
    assert list(services.counter_queue(shop)) == [mine]
    assert set(services.counter_queue(world.community_worker)) == {mine, theirs}
    with pytest.raises(PermissionDenied):
        services.counter_queue(world.resident)
    with pytest.raises(PermissionDenied):
        services.confirm_redemption(shop, theirs.code)
    assert services.confirm_redemption(shop, mine.code).handled_by == shop
    client.force_login(shop)
    assert client.get("/points/counter/").status_code == 200
    client.force_login(world.resident)
    assert client.get("/points/counter/").status_code == 403
