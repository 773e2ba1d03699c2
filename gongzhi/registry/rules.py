"""Who may do what in the register, as named predicates over the place scope."""

import rules

from gongzhi.accounts.roles import (FULL_DATA_EXPORT_ROLES, REGISTER_EDIT_ROLES, REGISTER_IMPORT_ROLES,
                                    STAFF_ROLES, VISIT_ROLES)
from gongzhi.places.models import Place

from .models import Household, Person


def place_of(obj):
    if isinstance(obj, Place):
        return obj
    if isinstance(obj, Household):
        return obj.place
    if isinstance(obj, Person):
        return obj.household.place if obj.household_id else None
    return getattr(obj, "place", None)


def _covered_by(roles):
    def check(user, obj):
        return obj is not None and user.scope.covers(place_of(obj), roles)
    check.__name__ = "covered_by_" + "_".join(sorted(roles))[:40]
    return rules.predicate(check)


is_staff_over = _covered_by(STAFF_ROLES)
is_register_editor_over = _covered_by(REGISTER_EDIT_ROLES)
is_importer_over = _covered_by(REGISTER_IMPORT_ROLES)
is_full_exporter_over = _covered_by(FULL_DATA_EXPORT_ROLES)
is_visitor_over = _covered_by(VISIT_ROLES)


@rules.predicate
def is_own_household(user, obj):
    household_id = obj.pk if isinstance(obj, Household) else getattr(obj, "household_id", None)
    return household_id is not None and household_id == user.scope.household_id


@rules.predicate
def is_self(user, person):
    return isinstance(person, Person) and user.person_id == person.pk


rules.add_perm("places.view_place", is_staff_over)
rules.add_perm("registry.view_household", is_staff_over | is_own_household)
rules.add_perm("registry.change_household", is_register_editor_over)
rules.add_perm("registry.change_place_register", is_register_editor_over)
rules.add_perm("registry.view_person_full", is_register_editor_over | is_self)
rules.add_perm("registry.change_person", is_register_editor_over)
rules.add_perm("registry.visit_household", is_visitor_over)
rules.add_perm("registry.import_register", is_importer_over)
rules.add_perm("registry.export_register", is_staff_over)
rules.add_perm("registry.export_full", is_full_exporter_over)
