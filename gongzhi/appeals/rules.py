"""Who may do what with appeals, as named predicates over the place scope."""

import rules

from gongzhi.accounts.models import RoleAssignment
from gongzhi.accounts.roles import STAFF_ROLES, Role
from gongzhi.places.models import Place

from .models import Appeal, Tier


@rules.predicate
def is_staff_over_place(user, obj):
    place = obj if isinstance(obj, Place) else getattr(obj, "place", None)
    return place is not None and user.scope.covers(place, STAFF_ROLES)


def is_liaison_for(user, appeal) -> bool:
    """A department liaison holding that department at a place above the appeal's place."""
    if not appeal.department or not user.is_authenticated:
        return False
    paths = RoleAssignment.objects.filter(user=user, role=Role.DEPARTMENT_LIAISON, department=appeal.department,
                                          active=True).values_list("place__path", flat=True)
    return any(appeal.place.path.startswith(p) for p in paths)


@rules.predicate
def is_handler(user, appeal):
    """The unit that holds the appeal now: staff over the handling place, or the department's liaison."""
    if not isinstance(appeal, Appeal):
        return False
    if appeal.tier == Tier.DEPARTMENT:
        return user.is_superuser or is_liaison_for(user, appeal)
    return user.scope.covers(appeal.handler_place, STAFF_ROLES)


@rules.predicate
def is_dispatching_tier(user, appeal):
    return isinstance(appeal, Appeal) and appeal.tier in (Tier.COMMUNITY, Tier.SUBDISTRICT)


@rules.predicate
def is_reporter(user, appeal):
    return isinstance(appeal, Appeal) and appeal.reporter_id is not None and appeal.reporter_id == user.pk


@rules.predicate
def is_department_viewer(user, appeal):
    return isinstance(appeal, Appeal) and is_liaison_for(user, appeal)


rules.add_perm("appeals.submit_appeal", rules.is_authenticated)
rules.add_perm("appeals.intake_appeal", is_staff_over_place)  # record for someone else (phone, visit, grid)
rules.add_perm("appeals.view_appeal", is_staff_over_place | is_reporter | is_department_viewer)
rules.add_perm("appeals.handle_appeal", is_handler)
rules.add_perm("appeals.dispatch_appeal", is_handler & is_dispatching_tier)
rules.add_perm("appeals.rate_appeal", is_reporter)
rules.add_perm("appeals.view_metrics", is_staff_over_place)
