"""Who may do what in the register, as named predicates over the place scope."""

import rules

from gongzhi.accounts.roles import (FULL_DATA_EXPORT_ROLES, REGISTER_EDIT_ROLES, REGISTER_IMPORT_ROLES,
                                    STAFF_ROLES, VISIT_ROLES, Role)
from gongzhi.accounts.scope import covered_by
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


is_staff_over = covered_by(STAFF_ROLES, place_of, "is_staff_over")
is_register_editor_over = covered_by(REGISTER_EDIT_ROLES, place_of, "is_register_editor_over")
is_importer_over = covered_by(REGISTER_IMPORT_ROLES, place_of, "is_importer_over")
is_full_exporter_over = covered_by(FULL_DATA_EXPORT_ROLES, place_of, "is_full_exporter_over")
is_visitor_over = covered_by(VISIT_ROLES, place_of, "is_visitor_over")
# Anonymising a record cannot be undone: the community secretary (or above) decides it.
ANONYMISE_ROLES = frozenset({Role.COMMUNITY_SECRETARY})
is_anonymiser_over = covered_by(ANONYMISE_ROLES, place_of, "is_anonymiser_over")


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
rules.add_perm("registry.anonymise_person", is_anonymiser_over)
