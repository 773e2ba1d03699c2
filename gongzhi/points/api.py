"""API for points: my account and ledger, the rulebook and claims, volunteering, the store and counter, reports."""

from datetime import date, datetime
from decimal import Decimal

from django.shortcuts import get_object_or_404
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from gongzhi.accounts.models import ApiToken, User
from gongzhi.core.http import xlsx_response
from gongzhi.places.models import Place
from gongzhi.registry.models import Household, Person
from gongzhi.registry.services import require

from . import services
from .models import Account, Activity, Claim, Entry, Item, Participation, PointsRule, Redemption

router = Router(tags=["points"])


class EntryOut(Schema):
    id: int
    account_id: int
    kind: str
    amount: int
    balance_after: int
    reason: str
    rule_id: int | None
    source_type: str
    source_id: str
    created_at: datetime
    reverses_id: int | None


class AccountOut(Schema):
    id: int
    kind: str
    holder: str
    place_id: int
    balance: int

    @staticmethod
    def resolve_holder(obj):
        return str(obj)


class AwardIn(Schema):
    amount: int | None = None
    rule_id: int | None = None
    reason: str = ""
    key: str


class ReverseIn(Schema):
    reason: str


class RuleIn(Schema):
    name: str
    points: int
    award_role: str = "community_worker"
    evidence_required: bool = False
    cap: int | None = None
    period: str = ""
    convention: str = ""
    convention_url: str = ""
    expiry_days: int | None = None
    active: bool = True


class RulePatch(Schema):
    name: str | None = None
    points: int | None = None
    award_role: str | None = None
    evidence_required: bool | None = None
    cap: int | None = None
    period: str | None = None
    convention: str | None = None
    convention_url: str | None = None
    expiry_days: int | None = None
    active: bool | None = None


class RuleOut(RuleIn):
    id: int
    place_id: int


class ClaimOut(Schema):
    id: int
    rule_id: int
    account_id: int
    claimant_id: int
    description: str
    has_evidence: bool
    status: str
    decision_reason: str
    entry_id: int | None
    created_at: datetime

    @staticmethod
    def resolve_has_evidence(obj):
        return bool(obj.evidence)


class RejectIn(Schema):
    reason: str


class ActivityIn(Schema):
    title: str
    description: str = ""
    location: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    points_per_hour: int | None = None
    points_per_activity: int | None = None


class ActivityOut(ActivityIn):
    id: int
    place_id: int
    status: str
    organiser_id: int
    taken: int

    @staticmethod
    def resolve_taken(obj):
        return obj.participations.exclude(status=Participation.Status.CANCELLED).count()


class ParticipationOut(Schema):
    id: int
    activity_id: int
    account_id: int
    holder: str
    status: str
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    hours: Decimal | None
    entry_id: int | None

    @staticmethod
    def resolve_holder(obj):
        return str(obj.account)


class HoursIn(Schema):
    hours: Decimal


class CheckInIn(Schema):
    token: str


class ItemIn(Schema):
    name: str
    description: str = ""
    price: int
    stock: int = 0
    provider: str = Item.Provider.COUNTER
    merchant: str = ""
    merchant_user_id: int | None = None
    active: bool = True


class ItemPatch(Schema):
    name: str | None = None
    description: str | None = None
    price: int | None = None
    stock: int | None = None
    provider: str | None = None
    merchant: str | None = None
    merchant_user_id: int | None = None
    active: bool | None = None


class ItemOut(ItemIn):
    id: int
    place_id: int


class RedeemIn(Schema):
    quantity: int = 1
    key: str
    account_id: int | None = None


class RedemptionOut(Schema):
    id: int
    item_id: int
    item: str
    account_id: int
    quantity: int
    points: int
    code: str
    status: str
    created_at: datetime

    @staticmethod
    def resolve_item(obj):
        return obj.item.name


class CodeIn(Schema):
    code: str


class CancelIn(Schema):
    reason: str = ""


class ReportRow(Schema):
    account_id: int
    place: str
    holder: str
    kind: str
    earned: int
    spent: int
    expired: int
    balance: int

    @staticmethod
    def resolve_account_id(obj):
        return obj["account"].pk


class ReportTotals(Schema):
    earned: int
    spent: int
    expired: int
    balance: int


class ParticipationRates(Schema):
    persons: int
    active_persons: int
    persons_rate: float
    households: int
    active_households: int
    households_rate: float


class MerchantRow(Schema):
    merchant: str
    provider: str
    redemptions: int
    quantity: int
    points: int


class ReportOut(Schema):
    totals: ReportTotals
    participation: ParticipationRates
    top: list[ReportRow]
    merchants: list[MerchantRow]
    rows: list[ReportRow]


class PolicyIO(Schema):
    household_includes_members: bool = False
    public_leaderboard: bool = False


class LeaderRow(Schema):
    rank: int
    name: str
    household: bool
    points: int


class MemberOut(Schema):
    person_id: int
    name: str
    account_id: int | None
    balance: int


class HouseholdOut(Schema):
    household_id: int
    account: AccountOut | None
    members: list[MemberOut]
    includes_members: bool
    own: int
    members_total: int
    total: int

    @staticmethod
    def resolve_household_id(obj):
        return obj.household.pk

    @staticmethod
    def resolve_members(obj):
        return [{"person_id": p.pk, "name": p.name, "account_id": a.pk if a else None, "balance": a.balance if a else 0}
                for p, a in obj.members]


class HouseholdRow(Schema):
    id: int
    place: str
    door_no: str
    account_id: int | None
    balance: int | None

    @staticmethod
    def resolve_place(obj):
        return obj.place.name

    @staticmethod
    def resolve_account_id(obj):
        return getattr(getattr(obj, "points_account", None), "pk", None)

    @staticmethod
    def resolve_balance(obj):
        return getattr(getattr(obj, "points_account", None), "balance", None)


class VolunteerIn(Schema):
    person_id: int


def _place(user, place_id) -> Place:
    return get_object_or_404(Place, pk=place_id)


def _account(user, account_id) -> Account:
    account = get_object_or_404(Account.objects.select_related("place"), pk=account_id)
    require(user, "points.view_account", account)
    return account


# Accounts and the ledger

@router.get("/me", response=AccountOut)
def my_account(request):
    return services.my_account(request.user)


@router.get("/me/accounts", response=list[AccountOut])
def my_accounts(request):
    """My own account and my household's, if the community scores households."""
    return services.my_accounts(request.user)


@router.post("/households/{household_id}/account", response={201: AccountOut})
def open_household_account(request, household_id: int):
    return Status(201, services.open_household_account(request.user, _household(household_id)))


def _household(household_id):
    return get_object_or_404(Household.objects.select_related("place"), pk=household_id)


@router.get("/me/household", response=HouseholdOut)
def my_household(request):
    """My household's points: its account, its members' balances, and the total the village rules count."""
    return services.household_points(request.user, services.my_account(request.user).person.household)


@router.get("/households/{household_id}", response=HouseholdOut)
def household(request, household_id: int):
    return services.household_points(request.user, _household(household_id))


@router.get("/households/{household_id}/entries", response=list[EntryOut])
@paginate
def household_entries(request, household_id: int):
    """The entries behind the household total (its members' too where the village rules count them)."""
    return services.household_points(request.user, _household(household_id)).entries()


@router.get("/places/{place_id}/households", response=list[HouseholdRow])
@paginate
def households(request, place_id: int, q: str = ""):
    return services.households_in(request.user, _place(request.user, place_id), q)


@router.get("/me/entries", response=list[EntryOut])
@paginate
def my_entries(request):
    return services.my_account(request.user).entries.all()


@router.get("/accounts/{account_id}", response=AccountOut)
def account_detail(request, account_id: int):
    return _account(request.user, account_id)


@router.get("/accounts/{account_id}/entries", response=list[EntryOut])
@paginate
def account_entries(request, account_id: int):
    return _account(request.user, account_id).entries.all()


@router.post("/accounts/{account_id}/award", response={201: EntryOut})
def award(request, account_id: int, payload: AwardIn):
    account = _account(request.user, account_id)
    rule = get_object_or_404(PointsRule, pk=payload.rule_id) if payload.rule_id else None
    return Status(201, services.award(request.user, account, amount=payload.amount, rule=rule, reason=payload.reason,
                                      key=payload.key))


@router.post("/entries/{entry_id}/reverse", response={201: EntryOut})
def reverse(request, entry_id: int, payload: ReverseIn):
    entry = get_object_or_404(Entry.objects.select_related("account__place"), pk=entry_id)
    return Status(201, services.reverse_entry(request.user, entry, reason=payload.reason))


# The rulebook and claims

@router.get("/places/{place_id}/rules", response=list[RuleOut])
def list_rules(request, place_id: int):
    """The rules in force at a place (those of its community or village); anyone logged in may read them."""
    return list(services.rules_for(_place(request.user, place_id)))


@router.post("/places/{place_id}/rules", response={201: RuleOut})
def create_rule(request, place_id: int, payload: RuleIn):
    return Status(201, services.create_rule(request.user, _place(request.user, place_id), **payload.dict()))


@router.patch("/rules/{rule_id}", response=RuleOut)
def update_rule(request, rule_id: int, payload: RulePatch):
    rule = get_object_or_404(PointsRule.objects.select_related("place"), pk=rule_id)
    return services.update_rule(request.user, rule, **payload.dict(exclude_unset=True))


@router.post("/rules/{rule_id}/claims", response={201: ClaimOut})
def submit_claim(request, rule_id: int, description: Form[str], account_id: Form[int | None] = None,
                 evidence: File[UploadedFile] = None):
    rule = get_object_or_404(PointsRule.objects.select_related("place"), pk=rule_id)
    account = _account(request.user, account_id) if account_id else None
    return Status(201, services.submit_claim(request.user, rule, description=description, evidence=evidence,
                                             account=account))


@router.get("/places/{place_id}/claims", response=list[ClaimOut])
def pending_claims(request, place_id: int):
    return services.pending_claims(request.user, _place(request.user, place_id))


@router.post("/claims/{claim_id}/approve", response=ClaimOut)
def approve_claim(request, claim_id: int):
    return services.approve_claim(request.user, get_object_or_404(Claim, pk=claim_id))


@router.post("/claims/{claim_id}/reject", response=ClaimOut)
def reject_claim(request, claim_id: int, payload: RejectIn):
    return services.reject_claim(request.user, get_object_or_404(Claim, pk=claim_id), reason=payload.reason)


# Volunteering

@router.get("/activities", response=list[ActivityOut])
def open_activities(request):
    return list(services.activities_for(request.user))


@router.post("/places/{place_id}/activities", response={201: ActivityOut})
def create_activity(request, place_id: int, payload: ActivityIn):
    return Status(201, services.create_activity(request.user, _place(request.user, place_id), **payload.dict()))


@router.post("/activities/{activity_id}/sign-up", response={201: ParticipationOut})
def sign_up(request, activity_id: int):
    return Status(201, services.sign_up(request.user, get_object_or_404(Activity.objects.select_related("place"),
                                                                        pk=activity_id)))


@router.post("/activities/{activity_id}/participants", response={201: ParticipationOut})
def add_volunteer(request, activity_id: int, payload: VolunteerIn):
    """The organiser puts a registered resident on the list (came without signing up)."""
    activity = get_object_or_404(Activity.objects.select_related("place"), pk=activity_id)
    require(request.user, "points.run_activity", activity)
    person = get_object_or_404(Person.objects.select_related("household__place"), pk=payload.person_id)
    return Status(201, services.add_volunteer(request.user, activity, person))


@router.post("/check-in", response=ParticipationOut)
def self_check_in(request, payload: CheckInIn):
    return services.self_check_in(request.user, payload.token)


@router.get("/activities/{activity_id}/participants", response=list[ParticipationOut])
def participants(request, activity_id: int):
    activity = get_object_or_404(Activity.objects.select_related("place"), pk=activity_id)
    require(request.user, "points.run_activity", activity)
    return list(activity.participations.select_related("account__person", "account__household"))


def _participation(activity_id, participation_id) -> Participation:
    return get_object_or_404(Participation.objects.select_related("activity__place"), pk=participation_id,
                             activity_id=activity_id)


@router.post("/activities/{activity_id}/participants/{participation_id}/check-in", response=ParticipationOut)
def check_in(request, activity_id: int, participation_id: int):
    return services.check_in(request.user, _participation(activity_id, participation_id))


@router.post("/activities/{activity_id}/participants/{participation_id}/check-out", response=ParticipationOut)
def check_out(request, activity_id: int, participation_id: int):
    return services.check_out(request.user, _participation(activity_id, participation_id))


@router.post("/activities/{activity_id}/participants/{participation_id}/hours", response=ParticipationOut)
def set_hours(request, activity_id: int, participation_id: int, payload: HoursIn):
    return services.set_hours(request.user, _participation(activity_id, participation_id), payload.hours)


@router.post("/activities/{activity_id}/cancel", response=ActivityOut)
def cancel_activity(request, activity_id: int, payload: RejectIn):
    activity = get_object_or_404(Activity.objects.select_related("place"), pk=activity_id)
    return services.cancel_activity(request.user, activity, reason=payload.reason)


@router.post("/activities/{activity_id}/confirm", response=list[EntryOut])
def confirm_activity(request, activity_id: int):
    activity = get_object_or_404(Activity.objects.select_related("place"), pk=activity_id)
    return services.confirm_activity(request.user, activity)


# The store and the counter

@router.get("/items", response=list[ItemOut])
def store(request):
    return list(services.items_for(request.user))


def _item_fields(fields: dict) -> dict:
    """The merchant's login comes as an id; services take the user."""
    if "merchant_user_id" in fields:
        user_id = fields.pop("merchant_user_id")
        fields["merchant_user"] = get_object_or_404(User, pk=user_id, is_active=True) if user_id else None
    return fields


@router.post("/places/{place_id}/items", response={201: ItemOut})
def create_item(request, place_id: int, payload: ItemIn):
    place = _place(request.user, place_id)
    return Status(201, services.create_item(request.user, place, **_item_fields(payload.dict())))


@router.patch("/items/{item_id}", response=ItemOut)
def update_item(request, item_id: int, payload: ItemPatch):
    item = get_object_or_404(Item.objects.select_related("place"), pk=item_id)
    return services.update_item(request.user, item, **_item_fields(payload.dict(exclude_unset=True)))


@router.post("/items/{item_id}/redeem", response={201: RedemptionOut})
def redeem(request, item_id: int, payload: RedeemIn):
    item = get_object_or_404(Item.objects.select_related("place"), pk=item_id)
    account = _account(request.user, payload.account_id) if payload.account_id else None
    return Status(201, services.redeem(request.user, item, key=payload.key, quantity=payload.quantity, account=account))


@router.get("/me/redemptions", response=list[RedemptionOut])
def my_redemptions(request):
    return list(services.my_account(request.user).redemptions.select_related("item"))


@router.get("/counter/pending", response=list[RedemptionOut])
@paginate
def counter_pending(request):
    """What this counter (or partner merchant) has waiting for collection."""
    return services.counter_queue(request.user)


@router.post("/counter/confirm", response=RedemptionOut)
def counter_confirm(request, payload: CodeIn):
    return services.confirm_redemption(request.user, payload.code)


@router.post("/redemptions/{redemption_id}/cancel", response=RedemptionOut)
def cancel_redemption(request, redemption_id: int, payload: CancelIn):
    redemption = get_object_or_404(Redemption.objects.select_related("item__place", "account"), pk=redemption_id)
    return services.cancel_redemption(request.user, redemption, reason=payload.reason)


# Reports, the leaderboard and the volunteer record

@router.get("/places/{place_id}/report", response=ReportOut)
def report(request, place_id: int, since: date | None = None, until: date | None = None):
    """Points issued, spent and expired in the period (``until`` exclusive), balances now, the top contributors,
    participation of persons and households, and what counters and partner merchants handed over."""
    return services.report(request.user, _place(request.user, place_id), services.day_start(since),
                           services.day_start(until))


@router.get("/places/{place_id}/report.xlsx")
def report_xlsx(request, place_id: int, since: date | None = None, until: date | None = None):
    place = _place(request.user, place_id)
    return xlsx_response(services.report_workbook(request.user, place, services.day_start(since),
                                                  services.day_start(until)), f"points-{place.pk}.xlsx")


def _caller(request):
    """The token's user when one is sent (this endpoint is open to anyone), else the session's."""
    header = request.headers.get("Authorization", "")
    user = ApiToken.user_for(header[7:]) if header.startswith("Bearer ") else None
    return user or request.user


@router.get("/places/{place_id}/leaderboard", response=list[LeaderRow], auth=None)
def leaderboard(request, place_id: int, since: date | None = None):
    """Public where the community switched its leaderboard on; names show the surname only."""
    return services.leaderboard(_caller(request), _place(request.user, place_id), since=services.day_start(since))


@router.get("/places/{place_id}/policy", response=PolicyIO)
def get_policy(request, place_id: int):
    return services.policy_for(_place(request.user, place_id))


@router.put("/places/{place_id}/policy", response=PolicyIO)
def set_policy(request, place_id: int, payload: PolicyIO):
    return services.set_policy(request.user, _place(request.user, place_id), **payload.dict())


@router.get("/accounts/{account_id}/volunteer-record", response=list[ParticipationOut])
def volunteer_record(request, account_id: int):
    return services.volunteer_record(request.user, _account(request.user, account_id))


@router.get("/accounts/{account_id}/volunteer-record.xlsx")
def volunteer_record_xlsx(request, account_id: int):
    account = _account(request.user, account_id)
    return xlsx_response(services.volunteer_record_workbook(request.user, account), f"volunteer-{account.pk}.xlsx")
