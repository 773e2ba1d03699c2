"""Who may do what with points, as named predicates over the place scope."""

import rules

from gongzhi.accounts.roles import Role
from gongzhi.accounts.scope import covered_by
from gongzhi.accounts.scope import lives_under as lives_under_place
from gongzhi.registry.models import Household
from gongzhi.registry.rules import place_of

from .models import Account, Activity, Claim, PointsRule, Redemption

# Community staff run the rulebook, the store, the counter and the report.
MANAGE_ROLES = frozenset({Role.COMMUNITY_WORKER, Role.COMMUNITY_SECRETARY})
# Staff who may organise volunteer activities and see accounts in their area.
ORGANISE_ROLES = MANAGE_ROLES | {Role.GRID_WORKER, Role.GRID_LEADER}
VIEW_ROLES = ORGANISE_ROLES | {Role.SUBDISTRICT_OFFICER, Role.BUREAU_OFFICER}


def points_place(obj):
    if isinstance(obj, (Claim,)):
        return obj.rule.place
    if isinstance(obj, Redemption):
        return obj.item.place
    return place_of(obj)


is_manager_over = covered_by(MANAGE_ROLES, points_place, "points_is_manager_over")
is_organiser_over = covered_by(ORGANISE_ROLES, points_place, "points_is_organiser_over")
is_viewer_over = covered_by(VIEW_ROLES, points_place, "points_is_viewer_over")


# A resident may use their own community's store and activities.
lives_under = lives_under_place(points_place, "points_lives_under")


@rules.predicate
def holds_account(user, account):
    if not isinstance(account, Account) or not user.is_authenticated:
        return False
    if account.kind == Account.Kind.PERSON:
        return account.person_id is not None and account.person_id == user.person_id
    return account.household_id is not None and account.household_id == user.scope.household_id


@rules.predicate
def is_own_household(user, household):
    return isinstance(household, Household) and household.pk == user.scope.household_id


def may_award(user, rule, account) -> bool:
    """The rule names the role that may award it (held over the account's place); community staff always may."""
    return (isinstance(rule, PointsRule) and account.place.path.startswith(rule.place.path)
            and user.scope.covers(account.place, MANAGE_ROLES | {rule.award_role}))


@rules.predicate
def may_decide_claim(user, claim):
    return isinstance(claim, Claim) and claim.claimant_id != user.pk and may_award(user, claim.rule, claim.account)


@rules.predicate
def is_activity_organiser(user, activity):
    return isinstance(activity, Activity) and activity.organiser_id == user.pk


@rules.predicate
def is_item_merchant(user, redemption):
    """A partner merchant hands over their own items at their shop."""
    return (isinstance(redemption, Redemption) and user.pk is not None
            and redemption.item.merchant_user_id == user.pk)


@rules.predicate
def holds_redemption(user, redemption):
    return isinstance(redemption, Redemption) and holds_account(user, redemption.account)


rules.add_perm("points.manage", is_manager_over)
rules.add_perm("points.view_account", holds_account | is_viewer_over)
rules.add_perm("points.view_household", is_own_household | is_viewer_over)
rules.add_perm("points.spend", holds_account)
rules.add_perm("points.award", is_manager_over)
rules.add_perm("points.reverse_entry", is_manager_over)
rules.add_perm("points.claim", lives_under | is_organiser_over)
rules.add_perm("points.decide_claim", may_decide_claim)
rules.add_perm("points.create_activity", is_organiser_over)
rules.add_perm("points.run_activity", is_activity_organiser | is_manager_over)
rules.add_perm("points.sign_up", lives_under)
rules.add_perm("points.redeem", lives_under)
rules.add_perm("points.view_redemption", holds_redemption | is_manager_over)
rules.add_perm("points.cancel_redemption", holds_redemption | is_manager_over)
rules.add_perm("points.counter", is_manager_over | is_item_merchant)
rules.add_perm("points.report", is_viewer_over)
