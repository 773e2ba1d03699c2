"""`gongzhi demo` loads points records through the services; the ledger audit then finds nothing wrong."""

import io
import time

import pytest
from django.core.management import call_command

from gongzhi.points import demo, services
from gongzhi.points.models import Activity, Claim, Entry, Item, Policy, PointsRule, Redemption

pytestmark = pytest.mark.django_db


def test_demo_then_points_audit_exits_zero(monkeypatch):
    timings = []
    load = demo.load

    def timed(*args):
        start = time.perf_counter()
        result = load(*args)
        timings.append(time.perf_counter() - start)
        return result

    monkeypatch.setattr(demo, "load", timed)
    call_command("demo", stdout=io.StringIO())
    print(f"points demo load: {timings[0]:.2f} s")
    assert timings and timings[0] < 5, timings
    out = io.StringIO()
    call_command("points_audit", stdout=out)  # exits 1 (SystemExit) on any discrepancy
    assert out.getvalue().strip().endswith("0 discrepancies")
    assert services.audit_ledger() == []
    assert PointsRule.objects.filter(place__name="滨湖社区").count() >= 3
    assert PointsRule.objects.filter(place__name="月陂村").count() >= 3
    assert Policy.objects.get(place__name="月陂村").household_includes_members
    past = Activity.objects.get(status=Activity.Status.CONFIRMED)
    assert past.ends_at < past.created_at and past.participations.filter(entry__isnull=False).count() >= 5
    assert Activity.objects.filter(status=Activity.Status.OPEN, starts_at__gt=past.created_at).exists()
    assert Item.objects.filter(stock__gt=0, provider=Item.Provider.MERCHANT).exists()
    assert set(Redemption.objects.values_list("status", flat=True)) == {"pending", "collected"}
    assert Claim.objects.filter(status=Claim.Status.PENDING).exists()
    assert Entry.objects.filter(account__household__isnull=False).exists()
