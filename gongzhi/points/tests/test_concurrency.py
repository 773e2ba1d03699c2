"""Many threads redeem at once against one balance and one stock item (PostgreSQL: real row locks)."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.db.models import Sum

from gongzhi.points import services
from gongzhi.points.models import Account, Entry, Item, Redemption

from .helpers import funded_account, store_item

THREADS = 12
ATTEMPTS = 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_never_oversell_or_overdraw(world):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite's in-memory test database cannot be shared between threads")
    account = funded_account(world, 200)  # enough for 6 items of 30
    item = store_item(world, price=30, stock=8)  # more stock than points can buy
    other_item = store_item(world, name="油", price=10, stock=100)
    results, errors, crashes = [], [], []
    barrier = threading.Barrier(THREADS)

    def worker(n):
        try:
            barrier.wait()
            for i in range(ATTEMPTS):
                target = item if (n + i) % 2 == 0 else other_item
                key = f"t{n}-{i}"
                try:
                    first = services.redeem(world.resident, target, key=key).pk
                    results.append((key, first))
                    # A replay of the same key returns the same redemption, never a second one.
                    assert services.redeem(world.resident, target, key=key).pk == first
                except ValidationError as exc:
                    errors.append(exc)
        except Exception as exc:  # noqa: BLE001 - reported below
            crashes.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not crashes, crashes
    account.refresh_from_db()
    item.refresh_from_db()
    other_item.refresh_from_db()
    redemptions = Redemption.objects.all()
    assert len(results) == redemptions.count()
    assert len(results) + len(errors) == THREADS * ATTEMPTS
    assert account.balance >= 0 and item.stock >= 0 and other_item.stock >= 0
    sold = redemptions.filter(item=item).count()
    assert item.stock == 8 - sold
    assert other_item.stock == 100 - redemptions.filter(item=other_item).count()
    spent = redemptions.aggregate(t=Sum("points"))["t"] or 0
    assert account.balance == 200 - spent
    assert Entry.objects.filter(account=account).aggregate(t=Sum("amount"))["t"] == account.balance
    assert Entry.objects.filter(account=account, amount__lt=0).count() == len(results)
    assert account.balance < 10  # every point that could be spent was spent
    assert services.audit_ledger() == []
    assert Account.objects.count() == 1 and Item.objects.count() == 2


def _run(n, func):
    crashes, barrier = [], threading.Barrier(n)

    def worker(i):
        try:
            barrier.wait()
            func(i)
        except Exception as exc:  # noqa: BLE001 - reported below
            crashes.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return crashes


@pytest.mark.django_db(transaction=True)
def test_same_request_replayed_at_once_counts_once(world):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite's in-memory test database cannot be shared between threads")
    account = funded_account(world, 100)
    item = store_item(world, price=10, stock=50)
    ids = []
    assert not _run(THREADS, lambda i: ids.append(services.redeem(world.resident, item, key="same").pk))
    assert len(set(ids)) == 1 and Redemption.objects.count() == 1
    account.refresh_from_db()
    item.refresh_from_db()
    assert (account.balance, item.stock) == (90, 49)


@pytest.mark.django_db(transaction=True)
def test_awards_redemptions_and_cancellations_interleaved(world):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite's in-memory test database cannot be shared between threads")
    account = funded_account(world, 50)
    item = store_item(world, price=20, stock=5)

    def work(i):
        for j in range(ATTEMPTS):
            try:
                if i % 3 == 0:
                    services.award(world.community_worker, account, amount=10, reason="志愿", key=f"a{i}-{j}")
                else:
                    r = services.redeem(world.resident, item, key=f"r{i}-{j}")
                    if i % 3 == 2:
                        services.cancel_redemption(world.resident, r, reason="取消")
            except ValidationError:
                pass

    assert not _run(THREADS, work)
    account.refresh_from_db()
    item.refresh_from_db()
    live = Redemption.objects.filter(status=Redemption.Status.PENDING)
    assert item.stock == 5 - live.count() >= 0
    awarded = Entry.objects.filter(account=account, idempotency_key__startswith="a").count() * 10
    assert account.balance == 50 + awarded - (live.aggregate(t=Sum("points"))["t"] or 0) >= 0
    assert services.audit_ledger() == []
