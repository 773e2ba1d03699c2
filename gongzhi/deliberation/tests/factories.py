"""Helpers for deliberation tests: more households and their resident logins on top of `world`."""

from decimal import Decimal

from gongzhi.accounts.roles import Role
from gongzhi.core.testing import make_user
from gongzhi.registry.models import Household, Person


def add_households(world, n, place=None, area="80", start=300):
    """n households with one resident login each, under unit_a by default; returns the users."""
    place = place or world.unit_a
    users = []
    for i in range(n):
        household = Household.objects.create(place=place, door_no=str(start + i), area_m2=Decimal(area))
        person = Person.objects.create(household=household, name=f"居民{start + i}", gender="F")
        users.append(make_user(f"r{start + i}", Role.RESIDENT, place, person=person))
    return users


def passed_resolution(world, title="修路决议"):
    """A community vote the resident passes alone, closed, and its resolution."""
    from gongzhi.deliberation import services
    vote = services.open_vote(world.secretary, place=world.community, title="修路", rules={})
    services.cast_ballot(world.resident, vote, "yes")
    vote = services.close_vote(world.secretary, vote)
    return services.create_resolution(world.secretary, place=world.community, title=title, text="修", vote=vote)
