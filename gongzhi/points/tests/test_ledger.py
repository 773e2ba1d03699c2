from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.utils import timezone

from gongzhi.points import services
from gongzhi.points.models import Account, Claim, Entry, Redemption

from gongzhi.core.testing import image_upload

from .helpers import activity, funded_account, store_item

pytestmark = pytest.mark.django_db


def test_award_is_idempotent_and_balance_follows_entries(world):
    account = services.my_account(world.resident)
    e1 = services.award(world.community_worker, account, amount=20, reason="义务劳动", key="k1")
    e2 = services.award(world.community_worker, account, amount=20, reason="义务劳动", key="k1")
    assert e1.pk == e2.pk
    account.refresh_from_db()
    assert account.balance == 20 == services.balance_from_entries(account)
    assert services.audit_ledger() == []


def test_key_reused_for_other_operation_is_refused(world):
    account = services.my_account(world.resident)
    services.award(world.community_worker, account, amount=20, reason="x", key="k1")
    with pytest.raises(ValidationError):
        services.award(world.community_worker, account, amount=30, reason="x", key="k1")


def test_award_needs_community_staff_over_the_place(world):
    account = services.my_account(world.resident)
    with pytest.raises(PermissionDenied):
        services.award(world.other_worker, account, amount=5, reason="x", key="k")
    with pytest.raises(PermissionDenied):
        services.award(world.resident, account, amount=5, reason="x", key="k")
    assert not Entry.objects.exists()


def test_entries_are_append_only_and_reversal_corrects(world):
    account = funded_account(world, 50)
    entry = account.entries.get()
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()
    reversal = services.reverse_entry(world.community_worker, entry, reason="录错了")
    assert reversal.amount == -50 and reversal.reverses == entry
    assert services.reverse_entry(world.community_worker, entry, reason="again").pk == reversal.pk
    with pytest.raises(ValidationError):
        services.reverse_entry(world.community_worker, reversal, reason="x")
    account.refresh_from_db()
    assert account.balance == 0 and account.entries.count() == 2


def test_spending_never_goes_negative(world):
    account = funded_account(world, 10)
    with pytest.raises(ValidationError) as exc:
        services.spend(world.resident, account, amount=11, reason="x", key="s1")
    assert "积分不足" in str(exc.value) or "Not enough" in str(exc.value)
    services.spend(world.resident, account, amount=10, reason="x", key="s1")
    account.refresh_from_db()
    assert account.balance == 0
    with pytest.raises(PermissionDenied):
        services.spend(world.community_worker, account, amount=1, reason="x", key="s2")


def test_audit_command_reports_tampering(world, capsys):
    account = funded_account(world, 10)
    call_command("points_audit")
    Account.objects.filter(pk=account.pk).update(balance=99)
    with pytest.raises(SystemExit) as exc:
        call_command("points_audit")
    assert exc.value.code == 1
    assert "cached 99, from entries 10" in capsys.readouterr().out


def test_audit_reads_the_whole_ledger_in_one_query_and_finds_each_kind_of_tampering(world,
                                                                                 django_assert_num_queries):
    tampered_balance = funded_account(world, 10)
    tampered_entry = services.account_for_person(world.person_b)
    services.award(world.community_worker, tampered_entry, amount=5, reason="x", key="t1")
    services.award(world.community_worker, tampered_entry, amount=7, reason="x", key="t2")
    empty = services.account_for_household(world.household_b)
    with django_assert_num_queries(1):
        assert services.audit_ledger() == []
    Account.objects.filter(pk=tampered_balance.pk).update(balance=99)
    # an entry's amount edited behind the ledger's back: the sum no longer matches the last running balance
    Entry.objects.filter(idempotency_key="t1").update(amount=50)
    with django_assert_num_queries(1):
        problems = {p["account"]: p for p in services.audit_ledger()}
    assert set(problems) == {tampered_balance.pk, tampered_entry.pk} and empty.pk not in problems
    assert (problems[tampered_balance.pk]["cached"], problems[tampered_balance.pk]["computed"]) == (99, 10)
    assert problems[tampered_entry.pk]["computed"] == 57 and problems[tampered_entry.pk]["last_balance_after"] == 12


def test_rule_cap_role_and_evidence(world):
    rule = services.create_rule(world.community_worker, world.community, name="垃圾分类", points=5,
                                award_role="grid_worker", cap=1, period="day")
    account = services.my_account(world.resident)
    services.award(world.grid_worker_a, account, rule=rule, key="r1")
    with pytest.raises(ValidationError):
        services.award(world.grid_worker_a, account, rule=rule, key="r2")
    with pytest.raises(PermissionDenied):
        services.award(world.other_worker, account, rule=rule, key="r3")
    photo_rule = services.create_rule(world.community_worker, world.community, name="见义勇为", points=50,
                                      evidence_required=True)
    with pytest.raises(ValidationError):
        services.award(world.community_worker, account, rule=photo_rule, key="r4")
    with pytest.raises(ValidationError):
        services.create_rule(world.community_worker, world.grid_a, name="x", points=1)
    with pytest.raises(PermissionDenied):
        services.create_rule(world.grid_worker_a, world.community, name="y", points=1)


def test_claim_approve_and_reject(world):
    rule = services.create_rule(world.community_worker, world.community, name="见义勇为", points=50,
                                evidence_required=True)
    with pytest.raises(ValidationError):
        services.submit_claim(world.resident, rule, description="救人")
    claim = services.submit_claim(world.resident, rule, description="救人", evidence=image_upload("p.jpg"))
    with pytest.raises(PermissionDenied):
        services.approve_claim(world.grid_worker_a, claim)
    assert services.pending_claims(world.community_worker, world.community) == [claim]
    claim = services.approve_claim(world.community_worker, claim)
    assert claim.status == Claim.Status.APPROVED and claim.entry.amount == 50
    assert services.approve_claim(world.community_worker, claim).entry_id == claim.entry_id
    second = services.submit_claim(world.resident, rule, description="再次", evidence=image_upload("p.png"))
    with pytest.raises(ValidationError):
        services.reject_claim(world.community_worker, second, reason="")
    services.reject_claim(world.community_worker, second, reason="无证据")
    with pytest.raises(ValidationError):
        services.approve_claim(world.community_worker, second)
    assert services.my_account(world.resident).balance == 50


def test_volunteering_awards_hours_in_bulk(world):
    act = activity(world)
    p = services.sign_up(world.resident, act)
    assert services.sign_up(world.resident, act).pk == p.pk
    start = timezone.now() - timedelta(hours=2)
    services.check_in(world.grid_worker_a, p, at=start)
    with pytest.raises(ValidationError):
        services.confirm_activity(world.grid_worker_a, act)
    services.check_out(world.grid_worker_a, p, at=start + timedelta(hours=2, minutes=30))
    p.refresh_from_db()
    assert p.hours == 2.5
    with pytest.raises(PermissionDenied):
        services.check_in(world.resident, p)
    entries = services.confirm_activity(world.grid_worker_a, act)
    assert [e.amount for e in entries] == [25]
    assert services.confirm_activity(world.grid_worker_a, act)[0].pk == entries[0].pk
    assert services.my_account(world.resident).balance == 25


def test_activity_capacity_and_self_check_in(world):
    act = activity(world, capacity=1)
    p = services.self_check_in(world.resident, act.checkin_token)
    assert p.status == "checked_in"
    with pytest.raises(ValidationError):
        services.self_check_in(world.resident, "nope")
    from gongzhi.core.testing import make_user
    from gongzhi.registry.models import Person
    neighbour = Person(household=world.household_a, name="王五", gender="M", relation="child")
    neighbour.save()
    user = make_user("neighbour", "resident", world.unit_a, person=neighbour)
    with pytest.raises(ValidationError):
        services.sign_up(user, act)


def test_redeem_collect_and_cancel(world):
    account = funded_account(world, 100)
    item = store_item(world, price=30, stock=2)
    r = services.redeem(world.resident, item, key="buy1")
    assert services.redeem(world.resident, item, key="buy1").pk == r.pk
    with pytest.raises(ValidationError):
        services.redeem(world.resident, store_item(world, name="油", price=1), key="buy1")
    item.refresh_from_db(); account.refresh_from_db()
    assert (item.stock, account.balance) == (1, 70)
    with pytest.raises(ValidationError):
        services.redeem(world.resident, item, key="buy2", quantity=2)
    item.refresh_from_db(); account.refresh_from_db()
    assert (item.stock, account.balance) == (1, 70)
    with pytest.raises(PermissionDenied):
        services.confirm_redemption(world.other_worker, r.code)
    services.confirm_redemption(world.community_worker, r.code)
    with pytest.raises(ValidationError):
        services.confirm_redemption(world.community_worker, r.code)
    with pytest.raises(ValidationError):
        services.cancel_redemption(world.resident, r)
    r2 = services.redeem(world.resident, item, key="buy3")
    services.cancel_redemption(world.resident, r2, reason="不要了")
    item.refresh_from_db(); account.refresh_from_db()
    assert (item.stock, account.balance) == (1, 70)
    assert Redemption.objects.get(pk=r2.pk).refund_entry.reverses_id == r2.spend_entry_id
    assert services.audit_ledger() == []


def test_out_of_stock_and_poor_leave_nothing_half_written(world):
    account = funded_account(world, 10)
    item = store_item(world, price=30, stock=0)
    with pytest.raises(ValidationError):
        services.redeem(world.resident, item, key="a")
    item = store_item(world, name="油", price=30, stock=3)
    with pytest.raises(ValidationError):
        services.redeem(world.resident, item, key="b")
    item.refresh_from_db()
    assert item.stock == 3 and not Redemption.objects.exists() and account.entries.count() == 1


def test_expiry(world):
    rule = services.create_rule(world.community_worker, world.community, name="扫雪", points=10, expiry_days=30)
    account = services.my_account(world.resident)
    services.award(world.community_worker, account, rule=rule, key="e1")
    services.spend(world.resident, account, amount=4, reason="x", key="e2")
    assert services.expire_points(timezone.now() + timedelta(days=31)) == 1
    account.refresh_from_db()
    assert account.balance == 0
    assert services.expire_points(timezone.now() + timedelta(days=32)) == 0


def test_report(world):
    funded_account(world, 40)
    data = services.report(world.community_worker, world.community)
    assert data["totals"] == {"earned": 40, "spent": 0, "expired": 0, "balance": 40}
    assert services.report_workbook(world.community_worker, world.community)[:2] == b"PK"
    with pytest.raises(PermissionDenied):
        services.report(world.resident, world.community)


def test_household_account_and_activity_cancel(world):
    household = services.open_household_account(world.community_worker, world.household_a)
    with pytest.raises(PermissionDenied):
        services.open_household_account(world.grid_worker_a, world.household_a)
    services.award(world.community_worker, household, amount=30, reason="文明家庭", key="h1")
    assert [a.balance for a in services.my_accounts(world.resident)] == [0, 30]
    item = store_item(world, price=10)
    r = services.redeem(world.resident, item, key="h2", account=household)
    assert r.account == household
    with pytest.raises(PermissionDenied):
        services.redeem(world.grid_worker_a, item, key="h3", account=household)
    act = activity(world)
    with pytest.raises(ValidationError):
        services.cancel_activity(world.grid_worker_a, act, reason="")
    services.cancel_activity(world.grid_worker_a, act, reason="下雨")
    with pytest.raises(ValidationError):
        services.sign_up(world.resident, act)
