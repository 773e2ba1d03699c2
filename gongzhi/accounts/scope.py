"""The one scoping mechanism: a user may see and change what lies under the places where they hold roles."""

from dataclasses import dataclass, field
from functools import reduce
from operator import or_

import rules
from django.db.models import Q

from .roles import STAFF_ROLES


@dataclass
class Scope:
    is_superuser: bool = False
    # (role, place path) for each active role assignment.
    grants: list[tuple[str, str]] = field(default_factory=list)
    household_id: int | None = None

    @classmethod
    def for_user(cls, user) -> "Scope":
        if not user.is_authenticated:
            return cls()
        # One query for the roles and the household (not the person row: that would decrypt their ID and phone).
        rows = type(user).objects.filter(pk=user.pk).values_list(
            "roles__role", "roles__place__path", "roles__active", "person__household_id")
        grants = [(role, path) for role, path, active, _household in rows if active]
        household_id = next((household for *_grant, household in rows), None)
        return cls(is_superuser=user.is_superuser, grants=grants, household_id=household_id)

    def paths(self, roles=STAFF_ROLES) -> list[str]:
        return sorted({path for role, path in self.grants if role in roles})

    def roles(self) -> set[str]:
        return {role for role, _ in self.grants}

    def covers(self, place, roles=STAFF_ROLES) -> bool:
        """Does one of `roles`, held at this place or above it, reach the place?"""
        if self.is_superuser:
            return True
        if place is None:
            return False
        return any(place.path.startswith(p) for p in self.paths(roles))

    def filter(self, queryset, roles=STAFF_ROLES, path_field="place__path"):
        """Restrict a queryset to records whose place lies under one of the user's nodes."""
        if self.is_superuser:
            return queryset
        paths = self.paths(roles)
        if not paths:
            return queryset.none()
        return queryset.filter(reduce(or_, (Q(**{f"{path_field}__startswith": p}) for p in paths)))

    def top_places(self, roles=STAFF_ROLES):
        from gongzhi.places.models import Place
        if self.is_superuser:
            return Place.objects.filter(parent__isnull=True)
        paths = self.paths(roles)
        # Drop nodes already covered by a higher node.
        tops = [p for p in paths if not any(p != q and p.startswith(q) for q in paths)]
        return Place.objects.filter(path__in=tops)


def home_place(user):
    """Where the user's household is registered, or None."""
    person = getattr(user, "person", None)
    return person.household.place if person is not None and person.household_id else None


def covered_by(roles, place_of, name):
    """A rules predicate: one of `roles`, held at or above the object's place, reaches it."""
    return rules.predicate(lambda user, obj: obj is not None and user.scope.covers(place_of(obj), roles), name=name)


def lives_under(place_of, name):
    """A rules predicate: the user's household lies at or under the object's place."""
    def check(user, obj):
        home, place = home_place(user), place_of(obj)
        return home is not None and place is not None and home.path.startswith(place.path)
    return rules.predicate(check, name=name)
