"""Who may do what in deliberation, as named predicates over the place scope."""

import rules

from gongzhi.accounts.roles import Role
from gongzhi.places.models import Place

# Staff who convene meetings, record minutes, open and close votes and enter paper forms.
DELIBERATION_STAFF_ROLES = frozenset({Role.GRID_WORKER, Role.GRID_LEADER, Role.COMMUNITY_WORKER,
                                      Role.COMMUNITY_SECRETARY, Role.SUBDISTRICT_OFFICER})
# Legal review of conventions (法制审核) is done by the subdistrict or the bureau (or a secretary on their behalf).
LEGAL_REVIEW_ROLES = frozenset({Role.COMMUNITY_SECRETARY, Role.SUBDISTRICT_OFFICER, Role.BUREAU_OFFICER})


def place_of(obj):
    if isinstance(obj, Place):
        return obj
    for attr in ("place", "topic", "meeting", "vote", "resolution", "convention"):
        inner = getattr(obj, attr, None)
        if inner is not None and inner is not obj:
            return place_of(inner)
    return None


def home_place(user):
    person = getattr(user, "person", None)
    household = person.household if person and person.household_id else None
    return household.place if household else None


@rules.predicate
def lives_under(user, obj):
    """The user's household lies at or under the place of obj (topics near me)."""
    home, place = home_place(user), place_of(obj)
    return home is not None and place is not None and home.path.startswith(place.path)


def _covered_by(roles):
    def check(user, obj):
        return obj is not None and user.scope.covers(place_of(obj), roles)
    check.__name__ = "deliberation_covered_by_" + "_".join(sorted(roles))[:40]
    return rules.predicate(check)


is_deliberation_staff_over = _covered_by(DELIBERATION_STAFF_ROLES)
is_legal_reviewer_over = _covered_by(LEGAL_REVIEW_ROLES)

rules.add_perm("deliberation.raise_topic", lives_under | is_deliberation_staff_over)
rules.add_perm("deliberation.cosign", lives_under)
rules.add_perm("deliberation.view", lives_under | is_deliberation_staff_over)
rules.add_perm("deliberation.manage", is_deliberation_staff_over)
rules.add_perm("deliberation.vote", lives_under)
rules.add_perm("deliberation.legal_review", is_legal_reviewer_over)
rules.add_perm("deliberation.rate", lives_under)
