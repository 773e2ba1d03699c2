"""Door-knocking visits and the list of households not visited this round."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gongzhi.registry.models import Visit
from gongzhi.registry.services import record_visit, unvisited_households

pytestmark = pytest.mark.django_db


def test_visit_moves_household_off_the_unvisited_list(world):
    assert list(unvisited_households(world.grid_worker_a, world.grid_a)) == [world.household_a]
    record_visit(world.grid_worker_a, world.household_a, met="户主张三", findings="楼道灯坏了", needs="修灯")
    assert list(unvisited_households(world.grid_worker_a, world.grid_a)) == []


def test_old_visit_counts_as_unvisited(world):
    Visit.objects.create(household=world.household_a, visitor=world.grid_worker_a,
                         visited_at=timezone.now() - timedelta(days=100), findings="正常")
    assert list(unvisited_households(world.grid_worker_a, world.grid_a, days=90)) == [world.household_a]
    assert list(unvisited_households(world.grid_worker_a, world.grid_a, days=120)) == []


def test_visit_api_and_scope(api_client, world):
    api = api_client.as_user(world.grid_worker_a)
    created = api.post(f"/api/registry/households/{world.household_a.pk}/visits", {"met": "户主", "findings": "正常"})
    assert created.status_code == 201
    assert api.get(f"/api/registry/households/{world.household_a.pk}/visits").json()[0]["findings"] == "正常"
    assert api.post(f"/api/registry/households/{world.household_b.pk}/visits", {"findings": "x"}).status_code == 403
    empty = api.post(f"/api/registry/households/{world.household_a.pk}/visits", {})
    assert empty.status_code == 400 and "走访" in empty.json()["detail"]
    assert Visit.objects.count() == 1


def test_unvisited_page(client, world):
    client.force_login(world.grid_worker_a)
    page = client.get(f"/registry/places/{world.grid_a.pk}/unvisited/?days=30").content.decode()
    assert "101" in page and "201" not in page
