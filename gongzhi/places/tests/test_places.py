"""The place tree: division codes, allowed nesting, and point → grid lookup."""

import pytest
from django.core.exceptions import ValidationError

from gongzhi.core.testing import square
import random

from gongzhi.places.geo import locate, locate_many
from gongzhi.places.models import Kind
from gongzhi.places.services import create_place, set_boundary

pytestmark = pytest.mark.django_db


def test_division_code_must_fit_level_and_parent(world):
    with pytest.raises(ValidationError, match="12位"):
        create_place(kind=Kind.COMMUNITY, name="坏代码社区", code="4207", parent=world.subdistrict)
    with pytest.raises(ValidationError, match="不属于"):
        create_place(kind=Kind.COMMUNITY, name="别处社区", code="110101001001", parent=world.subdistrict)
    ok = create_place(kind=Kind.COMMUNITY, name="新社区", code="420704001009", parent=world.subdistrict)
    assert ok.path == f"{world.subdistrict.path}{ok.pk}/"


def test_nesting_rules(world):
    with pytest.raises(ValidationError):
        create_place(kind=Kind.COMMUNITY, name="楼里的社区", parent=world.building_a)
    with pytest.raises(ValidationError, match="已有"):
        create_place(kind=Kind.GRID, name="第一网格", parent=world.community)


def test_point_finds_its_grid(world):
    assert locate(30.395, 114.885) == world.grid_a
    assert locate(30.395, 114.895) == world.grid_b
    assert locate(31.0, 115.0) is None


def test_index_follows_boundary_changes(world):
    set_boundary(world.grid_b, square(114.0, 30.0))
    assert locate(30.005, 114.005) == world.grid_b
    assert locate(30.395, 114.895) is None


def test_many_points_at_once_give_the_same_grids_as_one_by_one(world):
    # grid B now covers grid A and more: in the overlap the smaller grid A is the answer, as one by one
    set_boundary(world.grid_b, square(114.87, 30.38, size=0.04))
    rng = random.Random(1)
    points = [(30.38 + rng.random() * 0.06, 114.86 + rng.random() * 0.06) for _ in range(300)]
    points += [(30.395, 114.885), (30.415, 114.905), (31.0, 115.0)]
    found = locate_many(points)
    assert found[-3:] == [world.grid_a, world.grid_b, None]
    assert found == [locate(lat, lng) for lat, lng in points]
    assert {world.grid_a, world.grid_b, None} == set(found)
    assert locate_many([]) == []


def test_bad_boundary_rejected(world):
    with pytest.raises(ValidationError):
        set_boundary(world.grid_a, {"type": "Point", "coordinates": [1, 2]})


def test_locate_api(api_client, world):
    api = api_client.as_user(world.grid_worker_a)
    assert api.get("/api/places/locate?lat=30.395&lng=114.885").json()["id"] == world.grid_a.pk
    missing = api.get("/api/places/locate?lat=10&lng=10")
    assert missing.status_code == 404 and "网格" in missing.json()["detail"]
