"""Scope: a grid worker sees and changes only her grid, through pages and the API alike."""

import pytest

from gongzhi.registry.models import Person

pytestmark = pytest.mark.django_db


def test_grid_worker_sees_own_grid_household_page(client, world):
    client.force_login(world.grid_worker_a)
    assert client.get(f"/registry/households/{world.household_a.pk}/").status_code == 200
    response = client.get(f"/registry/households/{world.household_b.pk}/")
    assert response.status_code == 403
    assert "李四" not in response.content.decode()


def test_grid_worker_cannot_change_other_grid_through_page(client, world):
    client.force_login(world.grid_worker_a)
    response = client.post(f"/registry/persons/{world.person_b.pk}/", {"name": "篡改", "relation": "head",
                                                                     "ethnicity": "汉族", "political": "masses"})
    assert response.status_code == 403
    world.person_b.refresh_from_db()
    assert world.person_b.name == "李四"


def test_grid_worker_api_scope(api_client, world):
    api = api_client.as_user(world.grid_worker_a)
    assert api.get(f"/api/registry/households/{world.household_a.pk}").status_code == 200
    assert api.get(f"/api/registry/households/{world.household_b.pk}").status_code == 403
    assert api.get(f"/api/registry/persons/{world.person_b.pk}").status_code == 403
    denied = api.patch(f"/api/registry/persons/{world.person_b.pk}", {"name": "篡改"})
    assert denied.status_code == 403
    assert Person.objects.get(pk=world.person_b.pk).name == "李四"
    listing = api.get(f"/api/registry/places/{world.community.pk}/households")
    assert listing.status_code == 403  # the community is above her grid
    listing = api.get(f"/api/registry/places/{world.grid_a.pk}/households").json()
    assert [h["id"] for h in listing["items"]] == [world.household_a.pk]


def test_community_worker_sees_whole_community_not_neighbour(api_client, world):
    api = api_client.as_user(world.community_worker)
    ids = {h["id"] for h in api.get(f"/api/registry/places/{world.community.pk}/households").json()["items"]}
    assert ids == {world.household_a.pk, world.household_b.pk}
    assert api.get(f"/api/places/{world.other_community.pk}").status_code == 403


def test_resident_sees_only_own_household(client, world):
    client.force_login(world.resident)
    assert client.get(f"/registry/households/{world.household_a.pk}/").status_code == 200
    assert client.get(f"/registry/households/{world.household_b.pk}/").status_code == 403
    assert client.get(f"/places/{world.grid_a.pk}/").status_code == 403
    # and can open their own full record
    assert client.get(f"/registry/persons/{world.person_a.pk}/").status_code == 200


def test_unauthenticated_api_is_refused(client, world):
    response = client.get(f"/api/registry/households/{world.household_a.pk}")
    assert response.status_code == 401
