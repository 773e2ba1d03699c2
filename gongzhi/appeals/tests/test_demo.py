import random

from gongzhi.accounts.models import User
from gongzhi.appeals import demo
from gongzhi.appeals.models import Appeal, AppealEvent, DailyRollup


def test_demo_appeals_are_made_through_the_services(w):
    users = {"admin": User.objects.create_superuser("admin", password="Test@pass2026"), "police": w.police,
             "resident": w.resident, "buildinghead": w.resident_b, "grid1": w.grid_worker_a,
             "grid2": w.grid_worker_b, "community": w.community_worker, "subdistrict": w.subdistrict_officer}
    summary = demo.load(random.Random(2026), w.district, users)
    statuses = set(Appeal.objects.values_list("status", flat=True))
    assert {"submitted", "accepted", "in_progress", "on_hold", "resolved", "closed", "merged"} <= statuses
    assert summary["appeals"] == Appeal.objects.count() >= 30
    assert summary["appeals_merged"] >= 1 and summary["appeal_ratings"] >= 2
    assert Appeal.objects.filter(overdue=True).exists() and Appeal.objects.filter(tier="department").exists()
    assert Appeal.objects.filter(subtasks__role="assist").exists()
    assert Appeal.objects.filter(reopen_count=1, status="closed", rating="satisfied").exists()
    # The metrics' daily rollup is built: the district's row for today counts every appeal.
    assert sum(DailyRollup.objects.filter(place=w.district, category=None).values_list("total", flat=True)) == summary["appeals"]
    # Every appeal's history starts with its submission.
    assert AppealEvent.objects.filter(action="submit").count() == Appeal.objects.count()
    # The same seed gives the same data.
    first = list(Appeal.objects.order_by("pk").values_list("description", "status"))
    Appeal.objects.all().delete()
    demo.load(random.Random(2026), w.district, users)
    assert list(Appeal.objects.order_by("pk").values_list("description", "status")) == first
