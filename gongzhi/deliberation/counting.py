"""The counting core: pure functions over explicit, recorded vote rules. No database, no floats.

A vote's rules (`VoteRules`) are frozen as JSON when the vote opens; `tally()` turns an electorate
snapshot plus the ballots cast into a `Result` holding the raw and the counted tallies and why the
motion passed or failed. Every share is a `Fraction`; floor areas come in as `Decimal` (or str/int)
and are converted exactly.

Rules in force:
- voter unit: ``person`` (adult residents), ``household``, or ``owner`` (owner-occupied
  households, one per exclusive part, weighted by floor area where the rules say so);
- weights: ``one`` each, or ``area`` (floor area in m²);
- quorum: the share of the electorate (by weight) that must take part; ``0`` for none;
- majority: ``simple`` (strictly more than 1/2), ``two_thirds`` (at least 2/3) or
  ``three_quarters`` (at least 3/4) of the ``cast`` votes or of the whole ``electorate``;
- owners' assembly (业主大会, Civil Code art. 278): participation by owners holding at least 2/3
  of the area AND at least 2/3 of the headcount; approval by more than half (or, for major
  matters — raising or using maintenance funds, rebuilding — at least 3/4) of the participating
  area AND of the participating headcount. Quorum/majority/weighting fields are then ignored;
- silent majority (沉默从众): only when enabled, those who did not vote are counted with the
  option that leads among the votes cast (by the rules' weight, and for an owners' assembly by
  both area and headcount). With no votes cast, or a tie for the lead, nobody is added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from fractions import Fraction

PERSON, HOUSEHOLD, OWNER = "person", "household", "owner"
VOTER_UNITS = (PERSON, HOUSEHOLD, OWNER)
ONE, AREA = "one", "area"
WEIGHTINGS = (ONE, AREA)
SIMPLE, TWO_THIRDS, THREE_QUARTERS = "simple", "two_thirds", "three_quarters"
MAJORITIES = {SIMPLE: Fraction(1, 2), TWO_THIRDS: Fraction(2, 3), THREE_QUARTERS: Fraction(3, 4)}
CAST, ELECTORATE = "cast", "electorate"
DENOMINATORS = (CAST, ELECTORATE)
YES, NO, ABSTAIN = "yes", "no", "abstain"
ASSEMBLY_PARTICIPATION = Fraction(2, 3)
ASSEMBLY_ORDINARY = Fraction(1, 2)   # strictly more than
ASSEMBLY_MAJOR = Fraction(3, 4)      # at least


class RulesError(ValueError):
    """The rules (or the ballots given to them) are inconsistent."""


def as_fraction(value) -> Fraction:
    if value is None:
        return Fraction(0)
    if isinstance(value, float):
        raise RulesError("floats are not accepted; use Decimal, int, str or Fraction")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, str):
        return Fraction(value.strip())
    return Fraction(Decimal(str(value)))


def fraction_str(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}" if value.denominator != 1 else str(value.numerator)


def meets(share: Fraction, threshold: Fraction, strictly: bool) -> bool:
    return share > threshold if strictly else share >= threshold


@dataclass(frozen=True)
class VoteRules:
    voter_unit: str = HOUSEHOLD
    weighting: str = ONE
    options: tuple[str, ...] = (YES, NO, ABSTAIN)
    approve_option: str = YES
    quorum: Fraction = Fraction(0)
    majority: str = SIMPLE
    denominator: str = CAST
    owners_assembly: bool = False
    major_matter: bool = False
    silent_majority: bool = False

    def __post_init__(self):
        object.__setattr__(self, "quorum", as_fraction(self.quorum))
        object.__setattr__(self, "options", tuple(self.options))
        self.validate()

    def validate(self):
        if self.voter_unit not in VOTER_UNITS:
            raise RulesError(f"unknown voter unit {self.voter_unit!r}")
        if self.weighting not in WEIGHTINGS:
            raise RulesError(f"unknown weighting {self.weighting!r}")
        if self.weighting == AREA and self.voter_unit == PERSON:
            raise RulesError("area weighting needs households or owners as voter unit")
        if self.majority not in MAJORITIES:
            raise RulesError(f"unknown majority {self.majority!r}")
        if self.denominator not in DENOMINATORS:
            raise RulesError(f"unknown denominator {self.denominator!r}")
        if not (0 <= self.quorum <= 1):
            raise RulesError("quorum must be a share between 0 and 1")
        if len(self.options) < 2 or len(set(self.options)) != len(self.options) or not all(self.options):
            raise RulesError("at least two distinct options are needed")
        if self.approve_option not in self.options:
            raise RulesError("the approving option must be one of the options")
        if self.owners_assembly and self.voter_unit != OWNER:
            raise RulesError("an owners' assembly vote is by owners")
        if self.major_matter and not self.owners_assembly:
            raise RulesError("major matters are an owners'-assembly rule")

    @property
    def threshold(self) -> Fraction:
        if self.owners_assembly:
            return ASSEMBLY_MAJOR if self.major_matter else ASSEMBLY_ORDINARY
        return MAJORITIES[self.majority]

    @property
    def strictly(self) -> bool:
        """Simple majorities need strictly more than half; qualified ones at least the share."""
        if self.owners_assembly:
            return not self.major_matter
        return self.majority == SIMPLE

    def to_json(self) -> dict:
        data = asdict(self)
        data["options"] = list(self.options)
        data["quorum"] = fraction_str(self.quorum)
        return data

    @classmethod
    def from_json(cls, data: Mapping) -> "VoteRules":
        data = dict(data)
        if "quorum" in data:
            data["quorum"] = Fraction(str(data["quorum"]))
        return cls(**data)


@dataclass
class Tally:
    """Per option: headcount and area (and the rules' weight), plus the totals."""
    heads: dict[str, int] = field(default_factory=dict)
    areas: dict[str, Fraction] = field(default_factory=dict)

    def add(self, option, area: Fraction, heads: int = 1):
        self.heads[option] = self.heads.get(option, 0) + heads
        self.areas[option] = self.areas.get(option, Fraction(0)) + area

    def weight(self, rules: VoteRules, option) -> Fraction:
        return self.areas.get(option, Fraction(0)) if rules.weighting == AREA else Fraction(self.heads.get(option, 0))

    @property
    def total_heads(self) -> int:
        return sum(self.heads.values())

    @property
    def total_area(self) -> Fraction:
        return sum(self.areas.values(), Fraction(0))

    def to_json(self, options) -> dict:
        return {"heads": {o: self.heads.get(o, 0) for o in options},
                "areas": {o: fraction_str(self.areas.get(o, Fraction(0))) for o in options}}


@dataclass
class Result:
    rules: VoteRules
    electorate_heads: int
    electorate_area: Fraction
    voted_heads: int
    voted_area: Fraction
    raw: Tally
    counted: Tally
    silent_added_to: str | None
    silent_heads: int
    quorum_met: bool
    passed: bool
    approval_share: Fraction          # of the counted tally, by the rules' weight (area for an assembly)
    approval_heads_share: Fraction    # assembly: of participating headcount
    participation_share: Fraction     # by the rules' weight (area for an assembly)
    participation_heads_share: Fraction
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        options = self.rules.options
        return {
            "electorate_heads": self.electorate_heads, "electorate_area": fraction_str(self.electorate_area),
            "voted_heads": self.voted_heads, "voted_area": fraction_str(self.voted_area),
            "raw": self.raw.to_json(options), "counted": self.counted.to_json(options),
            "silent_added_to": self.silent_added_to, "silent_heads": self.silent_heads,
            "quorum_met": self.quorum_met, "passed": self.passed,
            "approval_share": fraction_str(self.approval_share),
            "approval_heads_share": fraction_str(self.approval_heads_share),
            "participation_share": fraction_str(self.participation_share),
            "participation_heads_share": fraction_str(self.participation_heads_share),
            "reasons": list(self.reasons),
        }


def _share(part, whole) -> Fraction:
    whole = Fraction(whole)
    return Fraction(part) / whole if whole else Fraction(0)


def _leader(tally: Tally, rules: VoteRules) -> str | None:
    """The option leading the cast votes, or None on a tie for the lead or no votes."""
    def leader_by(key):
        scores = {o: key(o) for o in rules.options}
        best = max(scores.values())
        if best <= 0:
            return None
        leaders = [o for o, s in scores.items() if s == best]
        return leaders[0] if len(leaders) == 1 else None

    if rules.owners_assembly:
        by_area = leader_by(lambda o: tally.areas.get(o, Fraction(0)))
        by_heads = leader_by(lambda o: Fraction(tally.heads.get(o, 0)))
        return by_area if by_area is not None and by_area == by_heads else None
    return leader_by(lambda o: tally.weight(rules, o))


def tally(rules: VoteRules, electorate: Mapping[str, object], voted: Iterable[str],
          choices: Iterable[tuple[str, object]]) -> Result:
    """Count a vote.

    electorate: voter key → floor area (Decimal/str/int/None) for every voter unit entitled to vote.
    voted: the keys of those who cast a ballot (secret or not).
    choices: one (option, area) per ballot cast — without the voter, so secret ballots count too.
    """
    areas = {key: as_fraction(a) for key, a in electorate.items()}
    voted = list(voted)
    choices = list(choices)
    if len(set(voted)) != len(voted):
        raise RulesError("a voter unit voted twice")
    unknown = set(voted) - set(areas)
    if unknown:
        raise RulesError(f"ballots from outside the electorate: {sorted(unknown)}")
    if len(choices) != len(voted):
        raise RulesError("the number of choices does not match the number of ballots")
    if rules.weighting == AREA or rules.owners_assembly:
        missing = [k for k, a in areas.items() if a <= 0]
        if missing:
            raise RulesError(f"voter units without floor area: {sorted(missing)}")

    raw = Tally()
    for option, area in choices:
        if option not in rules.options:
            raise RulesError(f"unknown option {option!r}")
        raw.add(option, as_fraction(area))
    voted_area = sum((areas[k] for k in voted), Fraction(0))
    if voted_area != raw.total_area:
        raise RulesError("the areas of the choices do not match the areas of the voters")

    electorate_heads = len(areas)
    electorate_area = sum(areas.values(), Fraction(0))
    counted = Tally(dict(raw.heads), dict(raw.areas))
    silent_to, silent_heads = None, 0
    if rules.silent_majority:
        silent_to = _leader(raw, rules)
        if silent_to is not None:
            voted_set = set(voted)
            for key, area in areas.items():
                if key not in voted_set:
                    counted.add(silent_to, area)
                    silent_heads += 1

    reasons = []
    approve = rules.approve_option
    if rules.owners_assembly:
        part_area = _share(counted.total_area, electorate_area)
        part_heads = _share(counted.total_heads, electorate_heads)
        quorum_met = part_area >= ASSEMBLY_PARTICIPATION and part_heads >= ASSEMBLY_PARTICIPATION
        if not quorum_met:
            reasons.append("participation below 2/3 of area or of headcount")
        appr_area = _share(counted.areas.get(approve, 0), counted.total_area)
        appr_heads = _share(counted.heads.get(approve, 0), counted.total_heads)
        approved = (meets(appr_area, rules.threshold, rules.strictly)
                    and meets(appr_heads, rules.threshold, rules.strictly))
        if not approved:
            reasons.append("approval below the threshold of participating area or headcount")
        return Result(rules, electorate_heads, electorate_area, len(voted), voted_area, raw, counted, silent_to,
                      silent_heads, quorum_met, quorum_met and approved, appr_area, appr_heads, part_area,
                      part_heads, reasons)

    electorate_weight = electorate_area if rules.weighting == AREA else Fraction(electorate_heads)
    counted_weight = counted.total_area if rules.weighting == AREA else Fraction(counted.total_heads)
    participation = _share(counted_weight, electorate_weight)
    part_heads = _share(counted.total_heads, electorate_heads)
    quorum_met = electorate_heads > 0 and participation >= rules.quorum and counted.total_heads > 0
    if not quorum_met:
        reasons.append("quorum not met")
    denominator = counted_weight if rules.denominator == CAST else electorate_weight
    approval = _share(counted.weight(rules, approve), denominator)
    approved = meets(approval, rules.threshold, rules.strictly)
    if not approved:
        reasons.append("majority not reached")
    appr_heads = _share(counted.heads.get(approve, 0), counted.total_heads)
    return Result(rules, electorate_heads, electorate_area, len(voted), voted_area, raw, counted, silent_to,
                  silent_heads, quorum_met, quorum_met and approved, approval, appr_heads, participation,
                  part_heads, reasons)
