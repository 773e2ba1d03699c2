"""Every change to points goes through here: one function per state change, the acting user first.

Ledger writes lock the account row (and the stock row for the store) with select_for_update, in
that order everywhere, inside one transaction; the balance cache and the entry are written together.
An idempotency key makes award, spend, redeem and refund safe to replay: the replay returns the
first result.
"""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from io import BytesIO

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from gongzhi.core import audit
from gongzhi.core.crypto import lookup_hash
from gongzhi.core.models import AuditEvent
from gongzhi.core.uploads import clean_image
from gongzhi.core.validators import normalise_phone
from gongzhi.places.models import COMMUNITY_KINDS, Place
from gongzhi.registry.models import Household, Person
from gongzhi.registry.services import require

from .models import Account, Activity, Claim, Entry, Item, Participation, PointsRule, Policy, Redemption
from .rules import VIEW_ROLES, may_award

RULE_FIELDS = ("name", "points", "award_role", "evidence_required", "cap", "period", "convention",
               "convention_url", "expiry_days", "active")
POLICY_FIELDS = ("household_includes_members", "public_leaderboard")
ITEM_FIELDS = ("name", "description", "price", "stock", "provider", "merchant", "merchant_user", "active")
ACTIVITY_FIELDS = ("title", "description", "location", "starts_at", "ends_at", "capacity", "points_per_hour",
                   "points_per_activity")
MAX_AMOUNT = 100000


def new_key() -> str:
    return uuid.uuid4().hex


# Accounts -------------------------------------------------------------------------------------------------

def account_for_person(person) -> Account:
    if person is None or not person.household_id:
        raise ValidationError(_("You are not in the household register yet; ask your community to register you."))
    account, _created = Account.objects.get_or_create(
        person=person, defaults={"kind": Account.Kind.PERSON, "place": person.household.place})
    return account


def account_for_household(household) -> Account:
    account, _created = Account.objects.get_or_create(
        household=household, defaults={"kind": Account.Kind.HOUSEHOLD, "place": household.place})
    return account


@transaction.atomic
def open_household_account(user, household) -> Account:
    """A household account (户积分), for villages that score the household rather than the person."""
    require(user, "points.award", household)
    return account_for_household(household)


def my_accounts(user) -> list[Account]:
    """The person's own account and, if one was opened, their household's."""
    accounts = [my_account(user)]
    household = Account.objects.filter(household_id=user.scope.household_id).first()
    return accounts + ([household] if household else [])


def my_account(user) -> Account:
    return account_for_person(getattr(user, "person", None))


def accounts_in(user, place: Place):
    return user.scope.filter(Account.objects.filter(place__path__startswith=place.path), VIEW_ROLES)


# Policy and households -----------------------------------------------------------------------------------

def policy_for(place: Place) -> Policy:
    """The policy of the community or village at or above a place; its defaults if none was set."""
    community = place.ancestor_of_kind(COMMUNITY_KINDS) if place is not None else None
    if community is None:
        return Policy()
    return Policy.objects.filter(place=community).first() or Policy(place=community)


@transaction.atomic
def set_policy(user, place: Place, **fields) -> Policy:
    """Record what the adopted village rules say about household balances and the public leaderboard."""
    require(user, "points.manage", place)
    if place.kind not in COMMUNITY_KINDS:
        raise ValidationError(_("A rulebook belongs to a community or village."))
    policy, _created = Policy.objects.select_for_update().get_or_create(place=place)
    for key in POLICY_FIELDS:
        if fields.get(key) is not None:
            setattr(policy, key, bool(fields[key]))
    policy.save()
    audit.record(AuditEvent.Action.CHANGE, user=user, obj=place,
                 detail="points policy: " + ", ".join(f"{k}={getattr(policy, k)}" for k in POLICY_FIELDS))
    return policy


@dataclass
class HouseholdPoints:
    """A household's points: its own account, its members' accounts, and the total its village counts."""

    household: Household
    account: Account | None
    members: list  # (person, account or None)
    includes_members: bool

    @property
    def own(self) -> int:
        return self.account.balance if self.account else 0

    @property
    def members_total(self) -> int:
        return sum(a.balance for _p, a in self.members if a is not None)

    @property
    def total(self) -> int:
        return self.own + (self.members_total if self.includes_members else 0)

    def accounts(self) -> list[Account]:
        members = [a for _p, a in self.members if a is not None] if self.includes_members else []
        return ([self.account] if self.account else []) + members

    def entries(self):
        """The history behind `total`: the household's entries, and its members' where they count."""
        return (Entry.objects.filter(account__in=self.accounts())
                .select_related("account__person", "account__household", "rule", "actor"))


def household_points(user, household: Household) -> HouseholdPoints:
    require(user, "points.view_household", household)
    members = list(household.members.order_by("id"))
    accounts = {a.person_id: a for a in Account.objects.filter(person__in=members)}
    return HouseholdPoints(household=household, account=Account.objects.filter(household=household).first(),
                           members=[(p, accounts.get(p.pk)) for p in members],
                           includes_members=policy_for(household.place).household_includes_members)


def households_in(user, place: Place, query: str = ""):
    """Households under a place for staff, with their account if one is open."""
    require(user, "points.report", place)
    households = user.scope.filter(Household.objects.filter(place__path__startswith=place.path), VIEW_ROLES)
    query = (query or "").strip()
    if query:
        households = households.filter(Q(door_no__icontains=query) | Q(place__name__icontains=query)
                                       | Q(members__name=query)).distinct()
    return households.select_related("place", "points_account").order_by("place__path", "door_no")


# The ledger -----------------------------------------------------------------------------------------------

def _source(source):
    if source is None:
        return "", ""
    return source._meta.label_lower, str(source.pk)


def _lock(account) -> Account:
    return Account.objects.select_for_update().get(pk=account.pk)


def _post(account, amount, *, kind, reason, actor, key, rule=None, source=None, reverses=None, expires_at=None):
    """Append one entry; the caller holds a transaction. Returns (entry, created)."""
    locked = _lock(account)
    existing = Entry.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if existing.account_id != locked.pk or existing.amount != amount:
            raise ValidationError(_("This request was already used for a different operation."))
        return existing, False
    if not amount:
        raise ValidationError({"amount": _("The number of points must not be zero.")})
    if abs(amount) > MAX_AMOUNT:
        raise ValidationError({"amount": _("The number of points is too large.")})
    balance = locked.balance + amount
    if balance < 0:
        raise ValidationError(_("Not enough points: the balance is %(balance)d, %(needed)d are needed.")
                              % {"balance": locked.balance, "needed": -amount})
    source_type, source_id = _source(source)
    entry = Entry.objects.create(account=locked, kind=kind, amount=amount, balance_after=balance, reason=reason[:200],
                                 rule=rule, source_type=source_type, source_id=source_id, actor=actor,
                                 idempotency_key=key, reverses=reverses, expires_at=expires_at)
    Account.objects.filter(pk=locked.pk).update(balance=balance)
    account.balance = balance
    return entry, True


def _period_start(period, now):
    local = timezone.localtime(now)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        PointsRule.Period.DAY: day,
        PointsRule.Period.WEEK: day - timedelta(days=day.weekday()),
        PointsRule.Period.MONTH: day.replace(day=1),
        PointsRule.Period.YEAR: day.replace(month=1, day=1),
    }.get(period)


def _check_cap(account, rule, now):
    if not rule.cap or not rule.period:
        return
    used = (Entry.objects.filter(account=account, rule=rule, reverses__isnull=True, reversed_by__isnull=True,
                                 created_at__gte=_period_start(rule.period, now)).count())
    if used >= rule.cap:
        raise ValidationError(_("“%(rule)s” may be awarded at most %(cap)d times %(period)s; that is reached.")
                              % {"rule": rule.name, "cap": rule.cap, "period": rule.get_period_display()})


@transaction.atomic
def award(user, account: Account, *, amount=None, rule: PointsRule | None = None, reason="", key: str,
          source=None) -> Entry:
    """Add (or, for a conduct rule, deduct) points. Under a rule the rule sets the amount and who may award."""
    now = timezone.now()
    if rule is not None:
        if not account.place.path.startswith(rule.place.path):
            raise ValidationError(_("This rule belongs to another community."))
        if not may_award(user, rule, account):
            audit.record(AuditEvent.Action.DENIED, user=user, obj=rule, detail="points.award_rule")
            raise PermissionDenied(_("You do not have permission to do this here."))
        if not rule.active:
            raise ValidationError(_("This rule is no longer in force."))
        if rule.evidence_required and not isinstance(source, Claim):
            raise ValidationError(_("This rule needs evidence: submit a claim with a photo."))
        amount = rule.points
        reason = reason or rule.name
    elif isinstance(source, Activity):
        require(user, "points.run_activity", source)
    else:
        require(user, "points.award", account)
        if amount is None or amount <= 0:
            raise ValidationError({"amount": _("Enter a positive number of points.")})
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Write down the reason.")})
    with transaction.atomic():
        replay = Entry.objects.filter(idempotency_key=key).first()
        if rule is not None and replay is None:
            _lock(account)
            _check_cap(account, rule, now)
        expires = now + timedelta(days=rule.expiry_days) if rule is not None and rule.expiry_days and amount > 0 else None
        kind = Entry.Kind.DEDUCTION if amount < 0 else Entry.Kind.AWARD
        entry, _created = _post(account, amount, kind=kind, reason=reason.strip(), actor=user, key=key, rule=rule,
                                source=source, expires_at=expires)
    return entry


@transaction.atomic
def spend(user, account: Account, *, amount: int, reason: str, key: str, source=None) -> Entry:
    """Spend points from one's own account (the store uses redeem, which also takes stock)."""
    require(user, "points.spend", account)
    if amount is None or amount <= 0:
        raise ValidationError({"amount": _("Enter a positive number of points.")})
    entry, _created = _post(account, -amount, kind=Entry.Kind.SPEND, reason=reason or _("Spent"), actor=user, key=key,
                            source=source)
    return entry


@transaction.atomic
def reverse_entry(user, entry: Entry, *, reason: str) -> Entry:
    """Correct a mistake: a new entry of the opposite amount. The original stays in the ledger."""
    require(user, "points.reverse_entry", entry.account)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Write down why the entry is reversed.")})
    if entry.reverses_id:
        raise ValidationError(_("A reversing entry cannot itself be reversed."))
    if Redemption.objects.filter(spend_entry=entry).exists():
        raise ValidationError(_("This entry belongs to a store redemption; cancel the redemption instead."))
    _lock(entry.account)
    previous = Entry.objects.filter(reverses=entry).first()
    if previous is not None:
        return previous
    result, _created = _post(entry.account, -entry.amount, kind=Entry.Kind.REVERSAL,
                             reason=_("Reversal: %(reason)s") % {"reason": reason.strip()},
                             actor=user, key=f"reverse:{entry.pk}", reverses=entry, rule=entry.rule)
    audit.record(AuditEvent.Action.CHANGE, user=user, obj=entry, detail=f"points reversed: {reason}")
    return result


def balance_from_entries(account) -> int:
    return Entry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"] or 0


def audit_ledger():
    """Recompute every balance from its entries; returns the accounts whose cache or chain disagrees.

    One grouped query: the sum of each account's entries against its cached balance and against the running
    balance written on its last entry (found through the (account, -id) index)."""
    last = Entry.objects.filter(account=OuterRef("pk")).order_by("-id").values("balance_after")[:1]
    accounts = (Account.objects.annotate(computed=Coalesce(Sum("entries__amount"), 0), last=Subquery(last))
                .filter(~Q(balance=F("computed")) | ~Q(last=F("computed")) | Q(computed__lt=0))
                .order_by("pk").values_list("pk", "balance", "computed", "last"))
    return [{"account": pk, "cached": cached, "computed": computed, "last_balance_after": last}
            for pk, cached, computed, last in accounts]


@transaction.atomic
def expire_points(now=None) -> int:
    """Take back points past their rule's expiry that are still unspent (spending uses the oldest points first)."""
    now = now or timezone.now()
    count = 0
    for account_id in (Entry.objects.filter(expires_at__lte=now).values_list("account", flat=True).distinct()):
        account = _lock(Account(pk=account_id))
        expired = Entry.objects.filter(account=account, expires_at__lte=now, amount__gt=0,
                                       reversed_by__isnull=True).aggregate(t=Sum("amount"))["t"] or 0
        debits = -(Entry.objects.filter(account=account, amount__lt=0, reverses__isnull=True)
                   .aggregate(t=Sum("amount"))["t"] or 0)
        refunds = Entry.objects.filter(account=account, amount__gt=0, reverses__isnull=False,
                                       reverses__amount__lt=0).aggregate(t=Sum("amount"))["t"] or 0
        due = min(expired - (debits - refunds), account.balance)
        if due > 0:
            _post(account, -due, kind=Entry.Kind.EXPIRY, reason=_("Points expired"), actor=None,
                  key=f"expire:{account.pk}:{now.isoformat()}")
            count += 1
    return count


@transaction.atomic
def cancel_activity(user, activity: Activity, *, reason: str) -> Activity:
    """Call off an activity whose hours are not yet confirmed; no points are awarded for it."""
    require(user, "points.run_activity", activity)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Write down why the activity is cancelled.")})
    activity = Activity.objects.select_for_update().get(pk=activity.pk)
    if activity.status != Activity.Status.OPEN:
        raise ValidationError(_("The hours of this activity are already confirmed."))
    activity.status = Activity.Status.CANCELLED
    activity.save(update_fields=["status"])
    audit.record(AuditEvent.Action.CHANGE, user=user, obj=activity, detail=f"activity cancelled: {reason}")
    return activity


# The rulebook and claims ----------------------------------------------------------------------------------

def _clean_rule(fields):
    if "points" in fields and (fields["points"] in (None, 0) or abs(fields["points"]) > MAX_AMOUNT):
        raise ValidationError({"points": _("Points must be a non-zero whole number.")})
    if fields.get("cap") and not fields.get("period"):
        raise ValidationError({"period": _("Choose the period the cap applies to.")})
    if not (fields.get("name") or "x").strip():
        raise ValidationError({"name": _("Name is required.")})


@transaction.atomic
def create_rule(user, place: Place, **fields) -> PointsRule:
    require(user, "points.manage", place)
    if place.kind not in COMMUNITY_KINDS:
        raise ValidationError(_("A rulebook belongs to a community or village."))
    fields = {k: v for k, v in fields.items() if k in RULE_FIELDS}
    _clean_rule(fields)
    if PointsRule.objects.filter(place=place, name=fields.get("name", "").strip()).exists():
        raise ValidationError({"name": _("A rule with this name already exists here.")})
    rule = PointsRule(place=place, **fields)
    rule.name = rule.name.strip()
    rule.full_clean()
    rule.save()
    return rule


@transaction.atomic
def update_rule(user, rule: PointsRule, **fields) -> PointsRule:
    """Changes apply to later awards; entries already in the ledger keep their amount."""
    require(user, "points.manage", rule)
    fields = {k: v for k, v in fields.items() if k in RULE_FIELDS}
    _clean_rule({**{f: getattr(rule, f) for f in RULE_FIELDS}, **fields})
    for key, value in fields.items():
        setattr(rule, key, value)
    rule.full_clean(validate_constraints=False)
    rule.save()
    return rule


def rules_for(place: Place):
    """The rules in force for someone living at a place: those of the community or village above it."""
    ids = [int(p) for p in place.path.strip("/").split("/") if p]
    return PointsRule.objects.filter(place_id__in=ids, active=True)


@transaction.atomic
def submit_claim(user, rule: PointsRule, *, description: str, evidence=None, account: Account | None = None) -> Claim:
    require(user, "points.claim", rule)
    if account is None:
        account = my_account(user)
    elif not (user.has_perm("points.spend", account) or user.has_perm("points.run_activity", rule)):
        raise PermissionDenied(_("You do not have permission to do this here."))
    if not rule.active:
        raise ValidationError(_("This rule is no longer in force."))
    if not account.place.path.startswith(rule.place.path):
        raise ValidationError(_("This rule belongs to another community."))
    if not (description or "").strip():
        raise ValidationError({"description": _("Describe what was done.")})
    if rule.evidence_required and not evidence:
        raise ValidationError({"evidence": _("This rule needs an evidence photo.")})
    evidence = clean_image(evidence or None, "evidence")
    claim = Claim(rule=rule, account=account, claimant=user, description=description.strip())
    if evidence:
        claim.evidence = evidence
    claim.full_clean(exclude=["entry", "decided_by"])
    claim.save()
    return claim


def _locked_pending_claim(claim) -> Claim:
    locked = Claim.objects.select_for_update().select_related("rule__place", "account__place").get(pk=claim.pk)
    return locked


@transaction.atomic
def approve_claim(user, claim: Claim) -> Claim:
    require(user, "points.decide_claim", claim)
    claim = _locked_pending_claim(claim)
    if claim.status == Claim.Status.APPROVED:
        return claim
    if claim.status != Claim.Status.PENDING:
        raise ValidationError(_("This claim has already been decided."))
    claim.entry = award(user, claim.account, rule=claim.rule, reason=claim.rule.name, key=f"claim:{claim.pk}",
                        source=claim)
    claim.status, claim.decided_by, claim.decided_at = Claim.Status.APPROVED, user, timezone.now()
    claim.save()
    return claim


@transaction.atomic
def reject_claim(user, claim: Claim, *, reason: str) -> Claim:
    require(user, "points.decide_claim", claim)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Write down why the claim is rejected.")})
    claim = _locked_pending_claim(claim)
    if claim.status != Claim.Status.PENDING:
        raise ValidationError(_("This claim has already been decided."))
    claim.status, claim.decided_by, claim.decided_at = Claim.Status.REJECTED, user, timezone.now()
    claim.decision_reason = reason.strip()
    claim.save()
    return claim


def pending_claims(user, place: Place):
    claims = (Claim.objects.filter(status=Claim.Status.PENDING, rule__place__path__startswith=place.path)
              .select_related("rule", "account__person", "account__household", "claimant"))
    return [c for c in claims if user.has_perm("points.decide_claim", c)]


# Volunteering ---------------------------------------------------------------------------------------------

def _clean_activity(fields):
    errors = {}
    if not (fields.get("title") or "").strip():
        errors["title"] = _("Say what the activity is.")
    if not (fields.get("location") or "").strip():
        errors["location"] = _("Say where it takes place.")
    if fields.get("starts_at") and fields.get("ends_at") and fields["ends_at"] <= fields["starts_at"]:
        errors["ends_at"] = _("The end must be after the start.")
    if not fields.get("capacity") or fields["capacity"] < 1:
        errors["capacity"] = _("At least one place is needed.")
    if not fields.get("points_per_hour") and not fields.get("points_per_activity"):
        errors["points_per_hour"] = _("Set points per hour or points for taking part.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_activity(user, place: Place, **fields) -> Activity:
    require(user, "points.create_activity", place)
    fields = {k: v for k, v in fields.items() if k in ACTIVITY_FIELDS}
    _clean_activity(fields)
    activity = Activity(place=place, organiser=user, checkin_token=secrets.token_urlsafe(24), **fields)
    activity.full_clean()
    activity.save()
    return activity


def activities_for(user):
    """Open activities a resident may join: those at or above their home."""
    person = getattr(user, "person", None)
    if person is None or not person.household_id:
        return Activity.objects.none()
    ids = [int(p) for p in person.household.place.path.strip("/").split("/") if p]
    return Activity.objects.filter(place_id__in=ids, status=Activity.Status.OPEN).order_by("starts_at")


def _join(activity, account) -> Participation:
    """Put an account on an activity's list if there is room; the caller holds the activity's row lock."""
    existing = Participation.objects.filter(activity=activity, account=account).first()
    if existing and existing.status != Participation.Status.CANCELLED:
        return existing
    taken = activity.participations.exclude(status=Participation.Status.CANCELLED).count()
    if taken >= activity.capacity:
        raise ValidationError(_("This activity is full."))
    if existing:
        existing.status = Participation.Status.SIGNED_UP
        existing.save(update_fields=["status"])
        return existing
    return Participation.objects.create(activity=activity, account=account)


@transaction.atomic
def sign_up(user, activity: Activity) -> Participation:
    require(user, "points.sign_up", activity)
    account = my_account(user)
    activity = Activity.objects.select_for_update().get(pk=activity.pk)
    if activity.status != Activity.Status.OPEN or activity.ends_at < timezone.now():
        raise ValidationError(_("Sign-up for this activity is closed."))
    return _join(activity, account)


def _community_of(activity) -> Place:
    """Volunteers come from the community or village the activity belongs to."""
    return activity.place.ancestor_of_kind(COMMUNITY_KINDS) or activity.place


def find_volunteer(user, activity: Activity, number: str) -> Person:
    """A registered person of the activity's community, found by their phone or ID number (exact match)."""
    require(user, "points.run_activity", activity)
    community = _community_of(activity)
    digest = lookup_hash(normalise_phone(number or ""))
    person = (Person.objects.filter(Q(phone_hash=digest) | Q(id_number_hash=digest),
                                    household__place__path__startswith=community.path).first() if digest else None)
    if person is None:
        raise ValidationError({"number": _("Nobody with this phone or ID number is registered in this community.")})
    return person


@transaction.atomic
def add_volunteer(user, activity: Activity, person: Person) -> Participation:
    """The organiser puts a volunteer on the list who came without signing up (no phone, or on the day); this
    stays possible after the activity ended, until its hours are confirmed."""
    require(user, "points.run_activity", activity)
    community = _community_of(activity)
    account = account_for_person(person)
    if not account.place.path.startswith(community.path):
        raise ValidationError(_("This person does not live in the community of the activity."))
    activity = Activity.objects.select_for_update().get(pk=activity.pk)
    if activity.status != Activity.Status.OPEN:
        raise ValidationError(_("The hours of this activity are already confirmed."))
    return _join(activity, account)


@transaction.atomic
def cancel_sign_up(user, participation: Participation) -> Participation:
    if not user.has_perm("points.spend", participation.account):
        require(user, "points.run_activity", participation.activity)
    participation = Participation.objects.select_for_update().get(pk=participation.pk)
    if participation.status != Participation.Status.SIGNED_UP:
        raise ValidationError(_("Only a sign-up not yet checked in can be cancelled."))
    participation.status = Participation.Status.CANCELLED
    participation.save(update_fields=["status"])
    return participation


def _hours_between(start, end) -> Decimal:
    return (Decimal((end - start).total_seconds()) / 3600).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _running(participation) -> Participation:
    participation = Participation.objects.select_for_update().select_related("activity").get(pk=participation.pk)
    if participation.activity.status != Activity.Status.OPEN:
        raise ValidationError(_("The hours of this activity are already confirmed."))
    return participation


@transaction.atomic
def check_in(user, participation: Participation, *, at=None) -> Participation:
    require(user, "points.run_activity", participation.activity)
    participation = _running(participation)
    if participation.status == Participation.Status.CANCELLED:
        raise ValidationError(_("This sign-up was cancelled."))
    if participation.status == Participation.Status.SIGNED_UP:
        participation.status, participation.checked_in_at = Participation.Status.CHECKED_IN, at or timezone.now()
        participation.save(update_fields=["status", "checked_in_at"])
    return participation


@transaction.atomic
def self_check_in(user, token: str) -> Participation:
    """A resident scans the activity's QR code: signs up if there is room, and checks in."""
    activity = Activity.objects.filter(checkin_token=token).first()
    if activity is None:
        raise ValidationError(_("This check-in code is not valid."))
    participation = sign_up(user, activity)
    participation = _running(participation)
    if participation.status == Participation.Status.SIGNED_UP:
        participation.status, participation.checked_in_at = Participation.Status.CHECKED_IN, timezone.now()
        participation.save(update_fields=["status", "checked_in_at"])
    return participation


@transaction.atomic
def check_out(user, participation: Participation, *, at=None) -> Participation:
    require(user, "points.run_activity", participation.activity)
    participation = _running(participation)
    if participation.status != Participation.Status.CHECKED_IN:
        raise ValidationError(_("Check the volunteer in first."))
    participation.status, participation.checked_out_at = Participation.Status.CHECKED_OUT, at or timezone.now()
    participation.hours = _hours_between(participation.checked_in_at, participation.checked_out_at)
    participation.save(update_fields=["status", "checked_out_at", "hours"])
    return participation


@transaction.atomic
def set_hours(user, participation: Participation, hours) -> Participation:
    require(user, "points.run_activity", participation.activity)
    participation = _running(participation)
    hours = Decimal(str(hours or 0))
    if hours <= 0 or hours > 24:
        raise ValidationError({"hours": _("Hours must be between 0 and 24.")})
    if participation.status not in (Participation.Status.CHECKED_IN, Participation.Status.CHECKED_OUT):
        raise ValidationError(_("Check the volunteer in first."))
    participation.hours = hours
    participation.save(update_fields=["hours"])
    return participation


def points_for(participation) -> int:
    activity = participation.activity
    if activity.points_per_activity:
        return activity.points_per_activity
    return int((Decimal(participation.hours or 0) * activity.points_per_hour).to_integral_value(ROUND_HALF_UP))


@transaction.atomic
def confirm_activity(user, activity: Activity) -> list[Entry]:
    """Confirm the hours of everyone checked out and award their points, all or nothing."""
    require(user, "points.run_activity", activity)
    activity = Activity.objects.select_for_update().get(pk=activity.pk)
    if activity.status == Activity.Status.CONFIRMED:
        return [p.entry for p in activity.participations.filter(entry__isnull=False)]
    if activity.status != Activity.Status.OPEN:
        raise ValidationError(_("This activity was cancelled."))
    still_in = activity.participations.filter(status=Participation.Status.CHECKED_IN).count()
    if still_in:
        raise ValidationError(_("%(n)d volunteers are still checked in; check them out first.") % {"n": still_in})
    entries = []
    for participation in activity.participations.filter(status=Participation.Status.CHECKED_OUT).select_related(
            "account__place", "activity"):
        amount = points_for(participation)
        if amount <= 0:
            continue
        entry = award(user, participation.account, amount=amount, key=f"activity:{participation.pk}",
                      reason=_("Volunteering: %(title)s") % {"title": activity.title}, source=activity)
        participation.entry = entry
        participation.save(update_fields=["entry"])
        entries.append(entry)
    activity.status = Activity.Status.CONFIRMED
    activity.save(update_fields=["status"])
    return entries


# The points store -----------------------------------------------------------------------------------------

def _clean_item(fields):
    errors = {}
    if "name" in fields and not (fields["name"] or "").strip():
        errors["name"] = _("Name is required.")
    if "price" in fields and (not fields["price"] or fields["price"] < 1):
        errors["price"] = _("The price must be at least 1 point.")
    if "stock" in fields and (fields["stock"] is None or fields["stock"] < 0):
        errors["stock"] = _("Stock cannot be negative.")
    if fields.get("provider") == Item.Provider.MERCHANT and not (fields.get("merchant") or "").strip():
        errors["merchant"] = _("Name the partner merchant.")
    if fields.get("merchant_user") and fields.get("provider") != Item.Provider.MERCHANT:
        errors["merchant_user"] = _("Only a partner merchant's item is handed over by a merchant's login.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_item(user, place: Place, **fields) -> Item:
    require(user, "points.manage", place)
    fields = {k: v for k, v in fields.items() if k in ITEM_FIELDS}
    _clean_item({"name": "", "price": 0, "stock": 0, **fields})
    item = Item(place=place, **fields)
    item.full_clean()
    item.save()
    return item


@transaction.atomic
def update_item(user, item: Item, **fields) -> Item:
    require(user, "points.manage", item)
    item = Item.objects.select_for_update().get(pk=item.pk)
    fields = {k: v for k, v in fields.items() if k in ITEM_FIELDS}
    _clean_item({**{f: getattr(item, f) for f in ITEM_FIELDS}, **fields})
    for key, value in fields.items():
        setattr(item, key, value)
    item.save()
    return item


def items_for(user):
    person = getattr(user, "person", None)
    if person is None or not person.household_id:
        return Item.objects.none()
    ids = [int(p) for p in person.household.place.path.strip("/").split("/") if p]
    return Item.objects.filter(place_id__in=ids, active=True)


def _new_code() -> str:
    while True:
        code = f"{secrets.randbelow(10 ** 8):08d}"
        if not Redemption.objects.filter(code=code).exists():
            return code


@transaction.atomic
def redeem(user, item: Item, *, key: str, quantity: int = 1, account: Account | None = None) -> Redemption:
    """Spend points on a store item: the balance and the stock change together or not at all."""
    account = account or my_account(user)
    require(user, "points.spend", account)
    require(user, "points.redeem", item)
    if not quantity or quantity < 1 or quantity > 100:
        raise ValidationError({"quantity": _("Choose a quantity between 1 and 100.")})
    entry_key = f"redeem:{key}"
    _lock(account)  # account first, then stock: the same order everywhere
    replay = Redemption.objects.filter(spend_entry__idempotency_key=entry_key).first()
    if replay is not None:
        if replay.item_id != item.pk or replay.quantity != quantity or replay.account_id != account.pk:
            raise ValidationError(_("This request was already used for a different operation."))
        return replay
    item = Item.objects.select_for_update().get(pk=item.pk)
    if not item.active:
        raise ValidationError(_("This item is no longer offered."))
    if item.stock < quantity:
        raise ValidationError(_("Sorry, “%(item)s” is out of stock (%(stock)d left).")
                              % {"item": item.name, "stock": item.stock})
    points = item.price * quantity
    entry, _created = _post(account, -points, kind=Entry.Kind.SPEND,
                            reason=_("Store: %(item)s × %(n)d") % {"item": item.name, "n": quantity},
                            actor=user, key=entry_key, source=item)
    Item.objects.filter(pk=item.pk).update(stock=F("stock") - quantity)
    return Redemption.objects.create(item=item, account=account, redeemed_by=user, quantity=quantity, points=points,
                                     code=_new_code(), spend_entry=entry)


def counter_queue(user):
    """Redemptions waiting for collection that this user's counter serves: the staff's area, or the items of a
    partner merchant's login."""
    merchant = user.is_authenticated and Item.objects.filter(merchant_user=user).exists()
    if not (user.is_superuser or user.scope.paths(VIEW_ROLES) or merchant):
        raise PermissionDenied(_("You do not have permission to do this here."))
    pending = Redemption.objects.filter(status=Redemption.Status.PENDING).select_related("item__place", "account")
    mine = pending.filter(item__merchant_user=user) if merchant else pending.none()
    return (user.scope.filter(pending, VIEW_ROLES, path_field="item__place__path") | mine).order_by("-created_at")


@transaction.atomic
def confirm_redemption(user, code: str) -> Redemption:
    """At the counter (or the partner merchant): hand over the goods against the collection code."""
    code = (code or "").strip()
    redemption = Redemption.objects.select_for_update().filter(code=code).first()
    if redemption is None:
        raise ValidationError({"code": _("No redemption has this collection code.")})
    require(user, "points.counter", redemption)
    if redemption.status == Redemption.Status.CANCELLED:
        raise ValidationError({"code": _("This redemption was cancelled.")})
    if redemption.status == Redemption.Status.COLLECTED:
        raise ValidationError({"code": _("This redemption was already collected on %(at)s.")
                               % {"at": timezone.localtime(redemption.handled_at).strftime("%Y-%m-%d %H:%M")}})
    redemption.status, redemption.handled_by, redemption.handled_at = (Redemption.Status.COLLECTED, user,
                                                                       timezone.now())
    redemption.save(update_fields=["status", "handled_by", "handled_at"])
    return redemption


@transaction.atomic
def cancel_redemption(user, redemption: Redemption, *, reason: str = "") -> Redemption:
    """Cancel an uncollected redemption: points come back (a reversing entry) and so does the stock."""
    require(user, "points.cancel_redemption", redemption)
    _lock(redemption.account)
    Item.objects.select_for_update().get(pk=redemption.item_id)
    redemption = Redemption.objects.select_for_update().select_related("spend_entry", "item").get(pk=redemption.pk)
    if redemption.status == Redemption.Status.CANCELLED:
        return redemption
    if redemption.status != Redemption.Status.PENDING:
        raise ValidationError(_("This redemption was already collected and cannot be cancelled."))
    refund, _created = _post(redemption.account, redemption.points, kind=Entry.Kind.REFUND, actor=user,
                             key=f"refund:{redemption.pk}",
                             reason=(_("Refund: %(item)s %(reason)s") % {"item": redemption.item.name,
                                                                          "reason": reason}).strip(),
                             reverses=redemption.spend_entry, source=redemption.item)
    Item.objects.filter(pk=redemption.item_id).update(stock=F("stock") + redemption.quantity)
    redemption.status, redemption.refund_entry = Redemption.Status.CANCELLED, refund
    redemption.handled_by, redemption.handled_at = user, timezone.now()
    redemption.save(update_fields=["status", "refund_entry", "handled_by", "handled_at"])
    return redemption


# Reports, the leaderboard and the volunteer record -------------------------------------------------------

# Points earned by conduct (awards, deductions and their reversals); points that went to the store (net of refunds).
EARNED = (Q(kind__in=[Entry.Kind.AWARD, Entry.Kind.DEDUCTION])
          | Q(kind=Entry.Kind.REVERSAL, reverses__kind__in=[Entry.Kind.AWARD, Entry.Kind.DEDUCTION]))
SPENT = Q(kind__in=[Entry.Kind.SPEND, Entry.Kind.REFUND]) | Q(kind=Entry.Kind.REVERSAL, reverses__kind=Entry.Kind.SPEND)
EXPIRED = Q(kind=Entry.Kind.EXPIRY)


def day_start(day):
    """Midnight (local time) at the start of a date, for period filters; None stays None."""
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time.min))


def _in_period(queryset, since=None, until=None, field="created_at"):
    if since:
        queryset = queryset.filter(**{f"{field}__gte": since})
    if until:
        queryset = queryset.filter(**{f"{field}__lt": until})
    return queryset


def _rate(part, whole) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def report(user, place: Place, since=None, until=None) -> dict:
    """Per account under the place: earned, spent, expired in the period, and balance now; totals; the top
    contributors; participation of persons and households; what each counter or partner merchant handed over."""
    require(user, "points.report", place)
    entries = _in_period(Entry.objects.filter(account__place__path__startswith=place.path), since, until)
    sums = {row["account"]: row for row in entries.values("account").annotate(
        earned=Sum("amount", filter=EARNED), spent=Sum("amount", filter=SPENT), expired=Sum("amount", filter=EXPIRED))}
    rows, place_names = [], {}  # accounts share units and buildings: name each place once
    for account in accounts_in(user, place).select_related("person", "household", "place").order_by("place__path", "pk"):
        s = sums.get(account.pk, {})
        if account.place_id not in place_names:
            place_names[account.place_id] = account.place.full_name()
        rows.append({"account": account, "place": place_names[account.place_id], "holder": str(account),
                     "kind": account.get_kind_display(), "earned": s.get("earned") or 0,
                     "spent": -(s.get("spent") or 0), "expired": -(s.get("expired") or 0),
                     "balance": account.balance})
    totals = {k: sum(r[k] for r in rows) for k in ("earned", "spent", "expired", "balance")}
    top = sorted((r for r in rows if r["earned"] > 0), key=lambda r: (-r["earned"], r["account"].pk))[:10]
    active = [r["account"] for r in rows if r["earned"] > 0]
    active_persons = {a.person_id for a in active if a.person_id}
    active_households = ({a.household_id for a in active if a.household_id}
                         | set(Person.objects.filter(pk__in=active_persons).values_list("household_id", flat=True)))
    persons = user.scope.filter(Person.objects.filter(household__place__path__startswith=place.path), VIEW_ROLES,
                                path_field="household__place__path").count()
    households = user.scope.filter(Household.objects.filter(place__path__startswith=place.path), VIEW_ROLES).count()
    participation = {"persons": persons, "active_persons": len(active_persons),
                     "persons_rate": _rate(len(active_persons), persons),
                     "households": households, "active_households": len(active_households),
                     "households_rate": _rate(len(active_households), households)}
    collected = _in_period(Redemption.objects.filter(item__place__path__startswith=place.path,
                                                     status=Redemption.Status.COLLECTED), since, until, "handled_at")
    merchants = [{"merchant": row["item__merchant"] or str(Item.Provider.COUNTER.label),
                  "provider": row["item__provider"], "redemptions": row["n"], "quantity": row["quantity"],
                  "points": row["points"]}
                 for row in collected.values("item__provider", "item__merchant").annotate(
                     n=Count("id"), quantity=Sum("quantity"), points=Sum("points")).order_by("item__provider",
                                                                                             "item__merchant")]
    return {"place": place, "since": since, "until": until, "rows": rows, "totals": totals, "top": top,
            "participation": participation, "merchants": merchants}


def _workbook(sheets) -> bytes:
    """An .xlsx file from (title, header, rows) triples."""
    from openpyxl import Workbook
    wb = Workbook()
    wb.remove(wb.active)
    for title, header, rows in sheets:
        ws = wb.create_sheet(title)
        ws.append(header)
        for row in rows:
            ws.append(row)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def report_workbook(user, place: Place, since=None, until=None) -> bytes:
    data = report(user, place, since, until)
    totals, part = data["totals"], data["participation"]
    period = f"{since or '…'} – {until or '…'}"
    accounts = [[r["place"], r["holder"], r["kind"], r["earned"], r["spent"], r["expired"], r["balance"]]
                for r in data["rows"]]
    accounts.append([_("Total"), "", "", totals["earned"], totals["spent"], totals["expired"], totals["balance"]])
    content = _workbook([
        (_("Summary"), [_("Item"), _("Value")], [
            [_("Place"), place.full_name()], [_("Period"), period],
            [_("Points issued"), totals["earned"]], [_("Points spent"), totals["spent"]],
            [_("Points expired"), totals["expired"]], [_("Balance now"), totals["balance"]],
            [_("Persons registered"), part["persons"]], [_("Persons who earned points"), part["active_persons"]],
            [_("Participation rate of persons (%)"), part["persons_rate"]],
            [_("Households registered"), part["households"]],
            [_("Households that earned points"), part["active_households"]],
            [_("Participation rate of households (%)"), part["households_rate"]]]),
        (_("Accounts"), [_("Place"), _("Holder"), _("Kind"), _("Earned"), _("Spent"), _("Expired"), _("Balance")],
         accounts),
        (_("Top contributors"), [_("Rank"), _("Holder"), _("Place"), _("Earned")],
         [[n, r["holder"], r["place"], r["earned"]] for n, r in enumerate(data["top"], 1)]),
        (_("Handed over"), [_("Collected at"), _("Redemptions"), _("Quantity"), _("Points")],
         [[m["merchant"], m["redemptions"], m["quantity"], m["points"]] for m in data["merchants"]]),
    ])
    audit.record(AuditEvent.Action.EXPORT, user=user, obj=place, detail="points report")
    return content


def _public_name(holder) -> str:
    """A public board shows only the surname: 张*, or 张*'s household."""
    if isinstance(holder, Household):
        head = holder.head
        return _("%(name)s's household") % {"name": _public_name(head) if head else "*"}
    return (holder.name[:1] + "*" * max(len(holder.name) - 1, 1)) if holder.name else "*"


def leaderboard(user, place: Place, *, since=None, limit=20) -> list[dict]:
    """Contributors under a place ranked by points earned (spending does not lower the rank). Anyone may see it
    where the community switched it on; staff who see the report always may. Where the village counts
    members towards the household, households are ranked."""
    policy = policy_for(place)
    if not policy.public_leaderboard and not (user.is_authenticated and user.has_perm("points.report", place)):
        raise PermissionDenied(_("This community has not published a points leaderboard."))
    earned = _in_period(Entry.objects.filter(EARNED, account__place__path__startswith=place.path), since)
    totals = dict(earned.values_list("account").annotate(t=Sum("amount")).values_list("account", "t"))
    scores, holders = {}, {}
    for account in Account.objects.filter(pk__in=totals).select_related("person__household", "household"):
        if account.household_id or policy.household_includes_members:
            holder = account.household or account.person.household
        else:
            holder = account.person
        key = (type(holder).__name__, holder.pk)
        holders[key] = holder
        scores[key] = scores.get(key, 0) + totals[account.pk]
    ranked = sorted(((k, t) for k, t in scores.items() if t > 0), key=lambda kt: (-kt[1], kt[0]))[:limit]
    return [{"rank": n, "name": _public_name(holders[k]), "household": k[0] == "Household", "points": t}
            for n, (k, t) in enumerate(ranked, 1)]


def volunteer_record(user, account: Account) -> list[Participation]:
    """Every activity the account's holder took part in, with hours and points (志愿服务记录)."""
    require(user, "points.view_account", account)
    return list(account.participations.exclude(status=Participation.Status.CANCELLED)
                .select_related("activity__place", "entry").order_by("activity__starts_at", "pk"))


def volunteer_record_workbook(user, account: Account) -> bytes:
    record = volunteer_record(user, account)
    rows = [[timezone.localtime(p.activity.starts_at).strftime("%Y-%m-%d %H:%M"), p.activity.title,
             p.activity.place.full_name(), p.activity.location, p.get_status_display(),
             float(p.hours) if p.hours is not None else None, p.entry.amount if p.entry_id else 0] for p in record]
    confirmed = [p for p in record if p.entry_id]
    rows.append([_("Total"), "", "", "", "", float(sum(p.hours or 0 for p in confirmed)),
                 sum(p.entry.amount for p in confirmed)])
    content = _workbook([(_("Volunteer record"), [_("Date"), _("Activity"), _("Organised by"), _("Where"), _("Status"),
                                                  _("Hours"), _("Points")], rows)])
    audit.record(AuditEvent.Action.EXPORT, user=user, obj=account, detail="volunteer record")
    return content
