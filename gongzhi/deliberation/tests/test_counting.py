"""The counting core: thresholds, ties, zero turnout, owners' assembly, silent majority."""

from decimal import Decimal
from fractions import Fraction

import pytest

from gongzhi.deliberation.counting import (ABSTAIN, NO, YES, RulesError, VoteRules, tally)


def households(n, area="100"):
    return {f"h:{i}": Decimal(area) for i in range(n)}


def run(rules, electorate, ballots):
    """ballots: key → option; areas looked up in the electorate, as the services do."""
    return tally(rules, electorate, list(ballots), [(o, electorate[k]) for k, o in ballots.items()])


def votes(yes=0, no=0, abstain=0):
    keys = iter(range(10_000))
    out = {}
    for option, n in ((YES, yes), (NO, no), (ABSTAIN, abstain)):
        for _ in range(n):
            out[f"h:{next(keys)}"] = option
    return out


class TestSimpleMajority:
    def test_more_than_half_passes(self):
        r = run(VoteRules(), households(10), votes(yes=4, no=3))
        assert r.passed and r.approval_share == Fraction(4, 7)

    def test_exactly_half_is_a_tie_and_fails(self):
        r = run(VoteRules(), households(10), votes(yes=3, no=3))
        assert not r.passed and r.approval_share == Fraction(1, 2)
        assert "majority not reached" in r.reasons

    def test_abstentions_count_in_cast_denominator(self):
        r = run(VoteRules(), households(10), votes(yes=3, no=1, abstain=2))
        assert not r.passed  # 3/6 is not more than half

    def test_electorate_denominator(self):
        rules = VoteRules(denominator="electorate")
        assert not run(rules, households(10), votes(yes=5, no=0)).passed   # 5/10
        assert run(rules, households(10), votes(yes=6)).passed              # 6/10


class TestQualifiedMajority:
    @pytest.mark.parametrize("majority,yes,no,passed", [
        ("two_thirds", 2, 1, True),        # exactly 2/3
        ("two_thirds", 3, 2, False),       # 3/5 < 2/3
        ("three_quarters", 3, 1, True),    # exactly 3/4
        ("three_quarters", 5, 2, False),   # 5/7 < 3/4
        ("three_quarters", 299, 100, False),
        ("three_quarters", 300, 100, True),
    ])
    def test_exact_thresholds(self, majority, yes, no, passed):
        assert run(VoteRules(majority=majority), households(yes + no), votes(yes=yes, no=no)).passed is passed


class TestQuorum:
    def test_exact_quorum_is_met(self):
        r = run(VoteRules(quorum="1/2"), households(10), votes(yes=5))
        assert r.quorum_met and r.passed

    def test_below_quorum_fails_even_if_unanimous(self):
        r = run(VoteRules(quorum=Fraction(1, 2)), households(10), votes(yes=4))
        assert not r.quorum_met and not r.passed and "quorum not met" in r.reasons

    def test_zero_turnout(self):
        r = run(VoteRules(), households(10), {})
        assert not r.passed and not r.quorum_met and r.approval_share == 0 and r.voted_heads == 0

    def test_empty_electorate(self):
        r = run(VoteRules(), {}, {})
        assert not r.passed and r.electorate_heads == 0

    def test_area_weighted_quorum(self):
        electorate = {"h:0": Decimal("150.5"), "h:1": Decimal("49.5"), "h:2": Decimal("100")}
        r = run(VoteRules(weighting="area", quorum="1/2"), electorate, {"h:0": YES})
        assert r.participation_share == Fraction(301, 600) and r.quorum_met and r.passed


class TestOwnersAssembly:
    rules = VoteRules(voter_unit="owner", owners_assembly=True)
    major = VoteRules(voter_unit="owner", owners_assembly=True, major_matter=True)

    def test_participation_needs_two_thirds_of_area_and_heads(self):
        # 3 owners; one big owner holds 2/3 of the area but is 1/3 of the heads.
        electorate = {"h:0": Decimal("200"), "h:1": Decimal("50"), "h:2": Decimal("50")}
        r = run(self.rules, electorate, {"h:0": YES})
        assert r.participation_share == Fraction(2, 3) and r.participation_heads_share == Fraction(1, 3)
        assert not r.quorum_met and not r.passed
        r = run(self.rules, electorate, {"h:0": YES, "h:1": YES})
        assert r.quorum_met and r.passed

    def test_exactly_two_thirds_participation_is_enough(self):
        r = run(self.rules, households(3), {"h:0": YES, "h:1": YES})
        assert r.quorum_met and r.passed

    def test_ordinary_needs_more_than_half_of_both(self):
        electorate = {"h:0": Decimal("300"), "h:1": Decimal("50"), "h:2": Decimal("50"), "h:3": Decimal("50")}
        # Area says yes (300/450), heads say 1/4: fails.
        r = run(self.rules, electorate, {"h:0": YES, "h:1": NO, "h:2": NO, "h:3": NO})
        assert r.quorum_met and not r.passed
        # Heads 2/4 is not more than half.
        r = run(self.rules, electorate, {"h:0": YES, "h:1": YES, "h:2": NO, "h:3": NO})
        assert not r.passed
        r = run(self.rules, electorate, {"h:0": YES, "h:1": YES, "h:2": YES, "h:3": NO})
        assert r.passed

    def test_major_matter_needs_three_quarters_of_both(self):
        r = run(self.major, households(4), {"h:0": YES, "h:1": YES, "h:2": YES, "h:3": NO})
        assert r.passed and r.approval_share == Fraction(3, 4)  # exactly 3/4 of area and heads
        r = run(self.major, households(5), {"h:0": YES, "h:1": YES, "h:2": NO, "h:3": YES})
        assert r.quorum_met and r.passed  # 3/4 of the four taking part
        r = run(self.major, households(5), {"h:0": YES, "h:1": YES, "h:2": NO, "h:3": YES, "h:4": NO})
        assert not r.passed  # 3/5

    def test_owner_without_area_is_refused(self):
        with pytest.raises(RulesError):
            run(self.rules, {"h:0": None, "h:1": Decimal(1)}, {})


class TestSilentMajority:
    def test_off_leaves_non_voters_out(self):
        r = run(VoteRules(quorum="1/2"), households(10), votes(yes=3, no=1))
        assert not r.quorum_met and r.silent_added_to is None and r.counted.heads == r.raw.heads

    def test_on_counts_non_voters_with_the_leader(self):
        r = run(VoteRules(quorum="1/2", silent_majority=True), households(10), votes(yes=3, no=1))
        assert r.raw.heads == {YES: 3, NO: 1}
        assert r.counted.heads == {YES: 9, NO: 1} and r.silent_added_to == YES and r.silent_heads == 6
        assert r.quorum_met and r.passed
        assert r.to_json()["raw"]["heads"][YES] == 3 and r.to_json()["counted"]["heads"][YES] == 9

    def test_on_with_leading_no(self):
        r = run(VoteRules(silent_majority=True), households(10), votes(yes=1, no=2))
        assert r.silent_added_to == NO and not r.passed

    def test_on_but_tie_adds_nobody(self):
        r = run(VoteRules(silent_majority=True), households(10), votes(yes=2, no=2))
        assert r.silent_added_to is None and r.counted.total_heads == 4 and not r.passed

    def test_on_but_zero_turnout_adds_nobody(self):
        r = run(VoteRules(silent_majority=True), households(10), {})
        assert r.silent_added_to is None and not r.passed

    def test_assembly_leader_must_lead_by_area_and_heads(self):
        rules = VoteRules(voter_unit="owner", owners_assembly=True, silent_majority=True)
        electorate = {"h:0": Decimal("300"), "h:1": Decimal("50"), "h:2": Decimal("50"), "h:3": Decimal("50")}
        r = run(rules, electorate, {"h:0": YES, "h:1": NO, "h:2": NO})
        assert r.silent_added_to is None and not r.passed
        r = run(rules, electorate, {"h:0": YES, "h:1": YES})
        assert r.silent_added_to == YES and r.counted.heads[YES] == 4 and r.passed


class TestRules:
    def test_json_round_trip(self):
        rules = VoteRules(voter_unit="owner", owners_assembly=True, major_matter=True, quorum="2/3",
                          silent_majority=True, options=("yes", "no"))
        assert VoteRules.from_json(rules.to_json()) == rules

    @pytest.mark.parametrize("kwargs", [
        {"voter_unit": "dog"}, {"weighting": "area", "voter_unit": "person"}, {"majority": "most"},
        {"quorum": "3/2"}, {"options": ("yes",)}, {"approve_option": "maybe"},
        {"owners_assembly": True}, {"major_matter": True}, {"quorum": 0.5},
    ])
    def test_invalid_rules(self, kwargs):
        with pytest.raises(RulesError):
            VoteRules(**kwargs)

    def test_ballot_outside_electorate_or_twice(self):
        with pytest.raises(RulesError):
            tally(VoteRules(), households(2), ["h:9"], [(YES, 0)])
        with pytest.raises(RulesError):
            tally(VoteRules(), households(2), ["h:0", "h:0"], [(YES, 100), (YES, 100)])
        with pytest.raises(RulesError):
            tally(VoteRules(), households(2), ["h:0"], [("maybe", 100)])


class TestMoreEdgeCases:
    """Edges the issue names: exact thresholds, ties, zero turnout, silent majority on and off, in each rule."""

    def test_area_quorum_exactly_met_and_just_missed(self):
        electorate = {"h:0": Decimal("60.25"), "h:1": Decimal("39.75"), "h:2": Decimal("100")}
        rules = VoteRules(weighting="area", quorum="1/2")
        assert run(rules, electorate, {"h:0": YES, "h:1": NO}).quorum_met          # exactly 100 of 200 m²
        r = run(rules, electorate, {"h:0": YES})
        assert r.participation_share == Fraction(241, 800) and not r.quorum_met

    def test_area_weighting_decides_against_headcount(self):
        electorate = {"h:0": Decimal("150"), "h:1": Decimal("40"), "h:2": Decimal("40")}
        ballots = {"h:0": NO, "h:1": YES, "h:2": YES}
        assert run(VoteRules(), electorate, ballots).passed                        # 2 of 3 heads
        r = run(VoteRules(weighting="area"), electorate, ballots)
        assert not r.passed and r.approval_share == Fraction(80, 230)              # 80 of 230 m²

    def test_area_tie_fails_a_simple_majority(self):
        electorate = {"h:0": Decimal("100"), "h:1": Decimal("60"), "h:2": Decimal("40")}
        r = run(VoteRules(weighting="area"), electorate, {"h:0": YES, "h:1": NO, "h:2": NO})
        assert r.approval_share == Fraction(1, 2) and not r.passed

    def test_assembly_exactly_half_of_area_is_not_more_than_half(self):
        rules = VoteRules(voter_unit="owner", owners_assembly=True)
        electorate = {"h:0": Decimal("100"), "h:1": Decimal("50"), "h:2": Decimal("50")}
        r = run(rules, electorate, {"h:0": NO, "h:1": YES, "h:2": YES})
        assert r.quorum_met and r.approval_share == Fraction(1, 2) and r.approval_heads_share == Fraction(2, 3)
        assert not r.passed

    def test_assembly_just_below_two_thirds_participation(self):
        rules = VoteRules(voter_unit="owner", owners_assembly=True)
        r = run(rules, households(100), {f"h:{i}": YES for i in range(66)})
        assert r.participation_heads_share == Fraction(66, 100) and not r.quorum_met and not r.passed
        r = run(rules, households(99), {f"h:{i}": YES for i in range(66)})
        assert r.participation_heads_share == Fraction(2, 3) and r.passed

    def test_assembly_zero_turnout(self):
        r = run(VoteRules(voter_unit="owner", owners_assembly=True), households(5), {})
        assert not r.quorum_met and not r.passed and r.approval_share == 0 and r.participation_share == 0

    def test_zero_turnout_with_no_quorum_still_fails(self):
        r = run(VoteRules(quorum=0), households(3), {})
        assert not r.passed and "quorum not met" in r.reasons

    def test_all_abstain(self):
        r = run(VoteRules(), households(4), votes(abstain=3))
        assert r.quorum_met and not r.passed and r.approval_share == 0

    def test_electorate_denominator_exactly_half_fails_and_silent_majority_lifts_it(self):
        assert not run(VoteRules(denominator="electorate"), households(8), votes(yes=4, no=1)).passed
        r = run(VoteRules(denominator="electorate", silent_majority=True), households(8), votes(yes=4, no=1))
        assert r.counted.heads[YES] == 7 and r.silent_heads == 3 and r.passed

    def test_silent_majority_follows_the_abstention_when_it_leads(self):
        r = run(VoteRules(silent_majority=True), households(10), votes(yes=1, no=1, abstain=2))
        assert r.silent_added_to == ABSTAIN and r.counted.heads[ABSTAIN] == 8 and not r.passed

    def test_silent_majority_three_way_tie_adds_nobody(self):
        r = run(VoteRules(silent_majority=True, quorum="1/2"), households(9), votes(yes=1, no=1, abstain=1))
        assert r.silent_added_to is None and not r.quorum_met and r.counted.heads == r.raw.heads

    def test_silent_majority_by_area_follows_the_area_leader(self):
        electorate = {"h:0": Decimal("150"), "h:1": Decimal("40"), "h:2": Decimal("40"), "h:3": Decimal("70")}
        r = run(VoteRules(weighting="area", silent_majority=True), electorate, {"h:0": NO, "h:1": YES, "h:2": YES})
        assert r.silent_added_to == NO and r.counted.areas[NO] == Fraction(220) and not r.passed

    def test_silent_majority_off_and_on_same_ballots(self):
        ballots = votes(yes=3, no=2)
        off = run(VoteRules(quorum="2/3"), households(9), ballots)
        on = run(VoteRules(quorum="2/3", silent_majority=True), households(9), ballots)
        assert not off.quorum_met and not off.passed
        assert on.quorum_met and on.passed and on.raw.heads == off.raw.heads and on.counted.heads[YES] == 7

    def test_multiple_choice_options(self):
        rules = VoteRules(options=("a", "b", "c"), approve_option="b")
        electorate = households(5)
        r = tally(rules, electorate, ["h:0", "h:1", "h:2"], [("b", 100), ("b", 100), ("a", 100)])
        assert r.passed and r.approval_share == Fraction(2, 3)
