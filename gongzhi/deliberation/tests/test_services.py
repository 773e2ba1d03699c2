"""Services: topics and the 5% motion, meetings, votes with frozen rules, resolutions, conventions."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from gongzhi.core.testing import image_upload
from gongzhi.deliberation import services
from gongzhi.deliberation.counting import VoteRules
from gongzhi.deliberation.models import (Ballot, Choice, ConventionVersion, CoSignature, Notice, Topic, Vote)
from gongzhi.registry.models import Household

from .factories import add_households

pytestmark = pytest.mark.django_db


def scan():
    return SimpleUploadedFile("sheet.pdf", b"%PDF-1.4 sheet", content_type="application/pdf")


def adopt(world, place, *, silent=False, percent="5"):
    convention = services.create_convention(world.secretary, place=place, kind="management", title="管理规约")
    version = services.draft_version(world.secretary, convention, text="第一条……", silent_majority=silent,
                                     motion_percent=percent, motion_clause="第七条",
                                     silent_majority_clause="第八条" if silent else "")
    services.legal_review(world.subdistrict_officer, version, opinion="符合法律法规。")
    vote = services.open_vote(world.secretary, place=place, title="表决管理规约", rules={"voter_unit": "household"},
                              convention_version=version)
    for h in Household.objects.filter(place__path__startswith=place.path):
        services.cast_ballot(world.secretary, vote, "yes", channel="paper", household=h)
    services.close_vote(world.secretary, vote)
    version.refresh_from_db()
    assert version.status == ConventionVersion.Status.ADOPTED
    return version


class TestTopics:
    def test_threshold_frozen_at_opening(self, world):
        add_households(world, 38)  # 40 households under the community → ceil(5% × 40) = 2
        topic = services.raise_topic(world.resident, place=world.community, title="加装电梯", body="1栋老人多")
        assert topic.threshold == 2 and topic.households_at_opening == 40
        add_households(world, 20, start=500)
        topic.refresh_from_db()
        assert topic.threshold == 2

    def test_ceiling_of_five_percent(self, world):
        add_households(world, 19)  # 21 → 1.05 → 2
        assert services.raise_topic(world.resident, place=world.community, title="t", body="b").threshold == 2

    def test_threshold_from_adopted_convention(self, world):
        add_households(world, 18)  # 20 households
        adopt(world, world.community, percent="10")
        assert services.raise_topic(world.resident, place=world.community, title="t", body="b").threshold == 2

    def test_cosign_reaches_agenda_and_notifies(self, world):
        users = add_households(world, 38)
        topic = services.raise_topic(world.resident, place=world.community, title="加装电梯", body="b")
        services.cosign(users[0], topic)
        topic.refresh_from_db()
        assert topic.status == Topic.Status.OPEN
        services.cosign(users[1], topic)
        topic.refresh_from_db()
        assert topic.status == Topic.Status.ON_AGENDA and topic.on_agenda_at
        assert Notice.objects.filter(recipient=world.resident).exists()
        assert Notice.objects.filter(recipient=world.secretary).exists()
        with pytest.raises(ValidationError, match="不再征集"):
            services.cosign(users[2], topic)

    def test_one_signature_per_household(self, world):
        topic = services.raise_topic(world.resident, place=world.community, title="t", body="b")
        topic.threshold = 5
        topic.save()
        services.cosign(world.resident, topic)
        with pytest.raises(ValidationError, match="您家已经联署"):
            services.cosign(world.resident, topic)
        assert CoSignature.objects.count() == 1

    def test_outsider_cannot_sign(self, world):
        users = add_households(world, 1, place=world.unit_b)
        topic = services.raise_topic(world.resident, place=world.building_a, title="t", body="b")
        with pytest.raises(PermissionDenied):
            services.cosign(users[0], topic)

    def test_paper_signatures_with_scan(self, world):
        add_households(world, 38)
        topic = services.raise_topic(world.resident, place=world.community, title="t", body="b")
        services.cosign(world.resident, topic)
        sheet, added, skipped = services.add_paper_signatures(
            world.community_worker, topic, households=[world.household_a, world.household_b], scan=scan())
        assert (added, skipped) == (1, 1) and sheet.scan.name
        topic.refresh_from_db()
        assert topic.status == Topic.Status.ON_AGENDA

    def test_paper_signatures_rejected_whole_when_outsider(self, world):
        other = add_households(world, 1, place=world.unit_b)[0].person.household
        topic = services.raise_topic(world.resident, place=world.building_a, title="t", body="b")
        with pytest.raises(ValidationError):
            services.add_paper_signatures(world.community_worker, topic, households=[world.household_a, other],
                                          scan=scan())
        assert not CoSignature.objects.exists() and not topic.sheets.exists()

    def test_empty_title_is_a_clear_error(self, world):
        with pytest.raises(ValidationError) as exc:
            services.raise_topic(world.resident, place=world.community, title=" ", body="b")
        assert "标题" in str(exc.value.message_dict["title"])


class TestMeetings:
    def test_convene_check_in_minutes(self, world):
        topic = services.raise_topic(world.resident, place=world.community, title="t", body="b")
        meeting = services.convene_meeting(world.community_worker, place=world.community, kind="village_night",
                                           title="村湾夜话", starts_at=timezone.now(), location="活动室",
                                           agenda=[topic], invitees=[world.resident])
        topic.refresh_from_db()
        assert topic.status == Topic.Status.ON_AGENDA
        services.check_in(world.resident, meeting)
        with pytest.raises(ValidationError, match="已经签到"):
            services.check_in(world.resident, meeting)
        services.check_in(world.community_worker, meeting, name="王五")
        assert meeting.attendance.count() == 2
        services.record_minutes(world.community_worker, meeting, minutes="议定加装电梯。")
        with pytest.raises(PermissionDenied):
            services.record_minutes(world.resident, meeting, minutes="x")

    def test_needs_place_to_meet(self, world):
        with pytest.raises(ValidationError):
            services.convene_meeting(world.community_worker, place=world.community, kind="hearing", title="听证",
                                     starts_at=timezone.now())


class TestVotes:
    def open(self, world, **rules):
        return services.open_vote(world.secretary, place=world.community, title="是否加装电梯",
                                  rules={"voter_unit": "household", **rules})

    def test_one_ballot_per_household_across_channels(self, world):
        vote = self.open(world)
        services.cast_ballot(world.resident, vote, "yes")
        with pytest.raises(ValidationError, match="该户已经投票"):
            services.cast_ballot(world.secretary, vote, "no", channel="paper", household=world.household_a)
        with pytest.raises(ValidationError, match="该户已经投票"):
            services.cast_ballot(world.resident, vote, "no")
        services.cast_ballot(world.secretary, vote, "no", channel="proxy", household=world.household_b,
                             proxy_name="李四之子", authorisation=image_upload("委托书.jpg"))
        assert Ballot.objects.get(vote=vote, channel="proxy").authorisation.name.endswith(".jpg")
        assert Ballot.objects.filter(vote=vote).count() == 2 and Choice.objects.filter(vote=vote).count() == 2

    def test_proxy_needs_name_and_written_authorisation_and_paper_needs_staff(self, world):
        vote = self.open(world)
        with pytest.raises(ValidationError, match="代投人姓名"):
            services.cast_ballot(world.secretary, vote, "yes", channel="proxy", household=world.household_b,
                                 authorisation=image_upload())
        with pytest.raises(ValidationError, match="委托书"):
            services.cast_ballot(world.secretary, vote, "yes", channel="proxy", household=world.household_b,
                                 proxy_name="李四之子")
        not_a_scan = SimpleUploadedFile("auth.jpg", b"not an image", content_type="image/jpeg")
        with pytest.raises(ValidationError, match="PDF"):
            services.cast_ballot(world.secretary, vote, "yes", channel="proxy", household=world.household_b,
                                 proxy_name="李四之子", authorisation=not_a_scan)
        assert not Ballot.objects.filter(vote=vote).exists()
        with pytest.raises(PermissionDenied):
            services.cast_ballot(world.resident, vote, "yes", channel="paper", household=world.household_b)

    def test_rules_frozen(self, world):
        vote = self.open(world)
        vote.rules = {**vote.rules, "majority": "two_thirds"}
        with pytest.raises(ValidationError):
            vote.save()

    def test_electorate_snapshot(self, world):
        vote = self.open(world)
        add_households(world, 1)
        vote.refresh_from_db()
        assert len(vote.electorate) == 2
        new_user = add_households(world, 1, start=900)[0]
        with pytest.raises(ValidationError, match="无权"):
            services.cast_ballot(new_user, vote, "yes")

    def test_close_and_recount(self, world):
        add_households(world, 2)
        vote = self.open(world)
        services.cast_ballot(world.resident, vote, "yes")
        services.cast_ballot(world.secretary, vote, "yes", channel="paper", household=world.household_b)
        vote = services.close_vote(world.secretary, vote)
        assert vote.passed and vote.result["raw"]["heads"]["yes"] == 2
        assert services.recount(vote).to_json() == vote.result
        with pytest.raises(ValidationError, match="已结束"):
            services.cast_ballot(world.resident, vote, "no")

    def test_secret_ballot_keeps_who_not_how(self, world):
        vote = services.open_vote(world.secretary, place=world.community, title="t", secret=True,
                                  rules={"voter_unit": "household"})
        services.cast_ballot(world.resident, vote, "no")
        ballot = Ballot.objects.get(vote=vote)
        assert ballot.household == world.household_a and ballot.choice == ""
        assert [f.name for f in Choice._meta.get_fields()] == ["id", "vote", "option", "area"]
        vote = services.close_vote(world.secretary, vote)
        assert vote.result["raw"]["heads"]["no"] == 1

    def test_silent_majority_needs_adopted_convention(self, world):
        with pytest.raises(ValidationError, match="沉默从众"):
            self.open(world, silent_majority=True)
        adopt(world, world.community, silent=True)
        add_households(world, 4)  # 6 households
        vote = self.open(world, silent_majority=True, quorum="1/2")
        services.cast_ballot(world.resident, vote, "yes")
        vote = services.close_vote(world.secretary, vote)
        assert vote.passed and vote.result["raw"]["heads"]["yes"] == 1 and vote.result["counted"]["heads"]["yes"] == 6

    def test_owners_assembly_area_electorate(self, world):
        Household.objects.filter(pk=world.household_b.pk).update(tenure="tenant")
        vote = services.open_vote(world.secretary, place=world.community, title="使用维修资金",
                                  rules=VoteRules(voter_unit="owner", owners_assembly=True, major_matter=True))
        assert vote.electorate == {f"h:{world.household_a.pk}": "88.00"}

    def test_invalid_rules_are_a_clear_error(self, world):
        with pytest.raises(ValidationError, match="规则"):
            self.open(world, majority="most")

    def test_convention_needs_legal_review(self, world):
        convention = services.create_convention(world.secretary, place=world.community, kind="residents", title="公约")
        version = services.draft_version(world.secretary, convention, text="……")
        with pytest.raises(ValidationError, match="法制审核"):
            services.open_vote(world.secretary, place=world.community, title="t", rules={},
                               convention_version=version)
        assert not Vote.objects.exists()


class TestResolutions:
    def test_resolution_tasks_progress_rating(self, world):
        vote = services.open_vote(world.secretary, place=world.community, title="t", rules={})
        services.cast_ballot(world.resident, vote, "yes")
        with pytest.raises(ValidationError):
            services.create_resolution(world.secretary, place=world.community, title="r", text="x", vote=vote)
        vote = services.close_vote(world.secretary, vote)
        resolution = services.create_resolution(world.secretary, place=world.community, title="加装电梯",
                                                text="通过", vote=vote)
        task = services.add_task(world.secretary, resolution, title="招标", owner_name="物业",
                                 due=date.today() + timedelta(days=30))
        with pytest.raises(ValidationError, match="完成后"):
            services.rate(world.resident, resolution, score=5)
        services.report_progress(world.secretary, resolution, text="已招标", task=task, done=True)
        task.refresh_from_db()
        assert task.done_at
        services.rate(world.resident, resolution, score=5)
        with pytest.raises(ValidationError):
            services.rate(world.resident, resolution, score=4)
        with pytest.raises(ValidationError):
            services.rate(world.resident, resolution, score=9)
