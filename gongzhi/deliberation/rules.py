"""Who may do what in deliberation, as named predicates over the place scope."""

import rules

from gongzhi.accounts.roles import Role
from gongzhi.accounts.scope import covered_by
from gongzhi.accounts.scope import lives_under as lives_under_place
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


lives_under = lives_under_place(place_of, "deliberation_lives_under")  # topics near me
is_deliberation_staff_over = covered_by(DELIBERATION_STAFF_ROLES, place_of, "is_deliberation_staff_over")
is_legal_reviewer_over = covered_by(LEGAL_REVIEW_ROLES, place_of, "is_legal_reviewer_over")

rules.add_perm("deliberation.raise_topic", lives_under | is_deliberation_staff_over)
rules.add_perm("deliberation.cosign", lives_under)
rules.add_perm("deliberation.view", lives_under | is_deliberation_staff_over)
rules.add_perm("deliberation.manage", is_deliberation_staff_over)
rules.add_perm("deliberation.vote", lives_under)
rules.add_perm("deliberation.legal_review", is_legal_reviewer_over)
rules.add_perm("deliberation.rate", lives_under)
