"""Who may do what with appeals, as named predicates over the place scope."""

import rules

from gongzhi.accounts.models import RoleAssignment
from gongzhi.accounts.roles import STAFF_ROLES, Role
from gongzhi.places.models import Place

from .models import Appeal, SubTask, Tier


@rules.predicate
def is_staff_over_place(user, obj):
    place = obj if isinstance(obj, Place) else getattr(obj, "place", None)
    return place is not None and user.scope.covers(place, STAFF_ROLES)


def is_liaison_for(user, appeal, department=None) -> bool:
    """A liaison of the department (default: the appeal's) holding it at a place above the appeal's place."""
    department = department or appeal.department
    if not department or not user.is_authenticated:
        return False
    paths = RoleAssignment.objects.filter(user=user, role=Role.DEPARTMENT_LIAISON, department=department,
                                          active=True).values_list("place__path", flat=True)
    return any(appeal.place.path.startswith(p) for p in paths)


def holds_subtask(user, subtask) -> bool:
    """The unit of a joint-handling sub-task: its department's liaison, or staff over its place."""
    if subtask.department:
        return is_liaison_for(user, subtask.appeal, subtask.department)
    return user.scope.covers(subtask.place, STAFF_ROLES)


@rules.predicate
def is_handler(user, appeal):
    """The unit that holds the appeal now: staff over the handling place, or the department's liaison."""
    if not isinstance(appeal, Appeal):
        return False
    if appeal.tier == Tier.DEPARTMENT:
        return user.is_superuser or is_liaison_for(user, appeal)
    return user.scope.covers(appeal.handler_place, STAFF_ROLES)


@rules.predicate
def is_assisting_unit(user, appeal):
    """A unit with a joint-handling sub-task on the appeal."""
    return isinstance(appeal, Appeal) and any(holds_subtask(user, t) for t in appeal.subtasks.select_related("place"))


@rules.predicate
def is_subtask_unit(user, subtask):
    return isinstance(subtask, SubTask) and holds_subtask(user, subtask)


@rules.predicate
def is_subtask_lead(user, subtask):
    """The unit holding the appeal may report any of its sub-tasks done (e.g. after a phone call)."""
    return isinstance(subtask, SubTask) and is_handler(user, subtask.appeal)


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
rules.add_perm("appeals.view_appeal", is_staff_over_place | is_reporter | is_department_viewer | is_assisting_unit)
rules.add_perm("appeals.handle_appeal", is_handler)
rules.add_perm("appeals.dispatch_appeal", is_handler & is_dispatching_tier)
rules.add_perm("appeals.rate_appeal", is_reporter)
rules.add_perm("appeals.complete_subtask", is_subtask_unit | is_subtask_lead)
rules.add_perm("appeals.view_metrics", is_staff_over_place)
rules.add_perm("appeals.view_board", is_staff_over_place)  # the community dispatch board
