"""`gongzhi gen --scale tiny` writes a consistent dataset that the real code reads correctly."""

import io

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum

from gongzhi.accounts.models import User
from gongzhi.appeals.models import Appeal, AppealEvent
from gongzhi.core.crypto import lookup_hash
from gongzhi.core.gen import PASSWORD, person_id_number
from gongzhi.core.validators import validate_id_number
from gongzhi.places import geo
from gongzhi.places.models import HOUSEHOLD_PARENT_KINDS, Kind, Place
from gongzhi.points.models import Account, Entry
from gongzhi.points.services import audit_ledger
from gongzhi.registry.models import Household, Person


@pytest.fixture
def generated(db):
    out = io.StringIO()
    call_command("gen", scale="tiny", seed=3, stdout=out)
    return out.getvalue()


def test_reports_time_per_table(generated):
    for table in ("places", "households", "persons", "appeals+events", "points", "total"):
        assert table in generated


def test_place_tree_is_as_the_place_service_builds_it(generated):
    places = {p.pk: p for p in Place.objects.all()}
    assert {p.kind for p in places.values()} >= {Kind.DISTRICT, Kind.SUBDISTRICT, Kind.COMMUNITY, Kind.GRID,
                                                 Kind.BUILDING, Kind.UNIT}
    for place in places.values():
        parent = places.get(place.parent_id)
        assert place.path == f"{parent.path if parent else '/'}{place.pk}/"
        assert place.depth == (parent.depth + 1 if parent else 0)
        if parent is not None and place.code and parent.code:
            assert place.code.startswith(parent.code.rstrip("0"))
    grids = [p for p in places.values() if p.kind == Kind.GRID]
    assert all(p.boundary for p in grids)


def test_households_sit_under_units_and_persons_have_unique_valid_ids(generated):
    assert Household.objects.exclude(place__kind__in=HOUSEHOLD_PARENT_KINDS).count() == 0
    assert Household.objects.filter(place__kind=Kind.UNIT).count() == Household.objects.count() > 0
    persons = list(Person.objects.all())
    assert len(persons) >= Household.objects.count()
    assert len({p.id_number_hash for p in persons}) == len(persons)
    for person in persons:  # at tiny scale every value is encrypted for real: decrypting gives the hashed value
        validate_id_number(person.id_number)
        assert person.id_number_hash == lookup_hash(person.id_number)
        assert person.phone is None or person.phone_hash == lookup_hash(person.phone)
        assert person.gender == ("M" if int(person.id_number[16]) % 2 else "F")
    assert Household.objects.annotate(n=Count("members")).filter(n=0).count() == 0


def test_id_numbers_do_not_repeat_within_a_region():
    numbers = [person_id_number("420102", i) for i in range(50_000)]
    assert len(set(numbers)) == len(numbers)


def test_appeals_lie_in_the_grid_their_location_finds(generated):
    geo.grid_index.invalidate()
    appeals = list(Appeal.objects.select_related("place", "handler_place", "category"))
    assert appeals
    for appeal in appeals:
        assert appeal.place.kind == Kind.GRID
        assert geo.locate(appeal.latitude, appeal.longitude) == appeal.place
        assert appeal.place.path.startswith(appeal.handler_place.path)
        events = list(appeal.events.all())
        assert events[0].action == "submit" and events[-1].to_status == appeal.status
        assert (appeal.status == Appeal.Status.CLOSED) == bool(appeal.rating)
    assert AppealEvent.objects.count() >= len(appeals)


def test_points_ledger_proves_every_balance(generated):
    assert Account.objects.count() > 0
    assert audit_ledger() == []
    assert Entry.objects.aggregate(s=Sum("amount"))["s"] == Account.objects.aggregate(s=Sum("balance"))["s"]


def test_generated_grid_worker_logs_in_and_sees_the_grid_inbox(generated, api_client):
    worker = User.objects.get(username="gw1")
    assert worker.check_password(PASSWORD)
    grid = worker.roles.get().place
    response = api_client.as_user(worker).get("/api/appeals/inbox")
    assert response.status_code == 200
    items = response.json()["items"]
    open_here = Appeal.objects.filter(handler_place=grid, status__in=Appeal.OPEN).count()
    assert len(items) == min(open_here, 50)
    assert all(item["handler_place_id"] == grid.pk for item in items)


def test_refuses_to_generate_twice_into_the_same_database(generated):
    with pytest.raises(Exception, match="already exists"):
        call_command("gen", scale="tiny", stdout=io.StringIO())
