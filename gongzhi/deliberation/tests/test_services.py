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

from .factories import add_households, passed_resolution

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


class TestTopicFollowThrough:
    def test_cosigners_are_told_when_the_topic_reaches_the_agenda(self, world):
        users = add_households(world, 38)  # threshold 2
        topic = services.raise_topic(world.resident, place=world.community, title="加装电梯", body="b")
        services.cosign(users[0], topic)
        services.cosign(users[1], topic)
        for u in (world.resident, users[0], users[1]):
            assert Notice.objects.filter(recipient=u, text__contains="必须列入议程").exists()

    def test_comment_thread(self, world):
        topic = services.raise_topic(world.resident, place=world.community, title="t", body="b")
        services.comment(world.resident, topic, text="赞成")
        services.comment(world.community_worker, topic, text="周五开会讨论")
        assert [c.text for c in topic.comments.all()] == ["赞成", "周五开会讨论"]
        with pytest.raises(ValidationError, match="不能为空"):
            services.comment(world.resident, topic, text="  ")
        with pytest.raises(PermissionDenied):
            services.comment(world.other_worker, topic, text="x")

    def test_merge_publishes_note_and_tells_followers(self, world):
        users = add_households(world, 38)
        dup = services.raise_topic(users[0], place=world.community, title="装电梯", body="b")
        keep = services.raise_topic(world.resident, place=world.community, title="加装电梯", body="b")
        services.merge_topic(world.community_worker, dup, keep, reason="与“加装电梯”重复")
        dup.refresh_from_db()
        assert dup.status == Topic.Status.MERGED and dup.merged_into == keep and dup.decline_reason
        assert Notice.objects.filter(recipient=users[0], text__contains="已合并到").exists()
        with pytest.raises(ValidationError, match="已经结束"):
            services.comment(world.resident, dup, text="x")
        with pytest.raises(ValidationError):
            services.merge_topic(world.community_worker, keep, keep)
        with pytest.raises(PermissionDenied):
            services.merge_topic(world.resident, keep, dup)

    def test_decline_needs_reason_and_not_on_agenda(self, world):
        topic = services.raise_topic(world.resident, place=world.building_a, title="t", body="b")
        with pytest.raises(ValidationError, match="理由"):
            services.decline_topic(world.community_worker, topic, reason="")
        services.decline_topic(world.community_worker, topic, reason="属于物业职责，已转物业")
        assert Notice.objects.filter(recipient=world.resident, text__contains="已转物业").exists()
        on_agenda = services.raise_topic(world.resident, place=world.building_a, title="t2", body="b")
        services.cosign(world.resident, on_agenda)  # 1 household under 1栋 → threshold 1
        with pytest.raises(ValidationError, match="必须"):
            services.decline_topic(world.community_worker, on_agenda, reason="x")


class TestMeetingFollowThrough:
    def meeting(self, world, **kw):
        return services.convene_meeting(world.community_worker, place=world.community, kind="representatives",
                                        title="居民代表会议", starts_at=timezone.now(), location="社区活动室", **kw)

    def test_invite_by_rule(self, world):
        from gongzhi.accounts.roles import Role
        from gongzhi.core.testing import make_user
        head = make_user("head2", Role.BUILDING_HEAD, world.building_b)
        rep = make_user("rep1", Role.REPRESENTATIVE, world.grid_a)
        residents_b = add_households(world, 2, place=world.unit_b)
        meeting = self.meeting(world)
        assert services.invite_by_rule(world.community_worker, meeting, rule="representatives",
                                       place=world.community) == 2
        assert set(meeting.invitees.all()) == {head, rep}
        assert services.invite_by_rule(world.community_worker, meeting, rule="households", place=world.building_b) == 2
        assert set(meeting.invitees.all()) == {head, rep, *residents_b}
        assert Notice.objects.filter(recipient=residents_b[0], text__contains="居民代表会议").exists()
        with pytest.raises(ValidationError, match="没有新的"):
            services.invite_by_rule(world.community_worker, meeting, rule="households", place=world.building_b)
        with pytest.raises(ValidationError):
            services.invite_by_rule(world.community_worker, meeting, rule="households", place=world.other_community)
        with pytest.raises(ValidationError):
            services.invite_by_rule(world.community_worker, meeting, rule="everyone", place=world.community)
        meeting.refresh_from_db()
        assert meeting.invitee_note == "全体居民代表和楼栋长 · 滨湖社区；全体住户（已注册账号的居民） · 2栋"

    def test_edit_tells_invitees_and_stops_after_minutes(self, world):
        meeting = self.meeting(world, invitees=[world.resident])
        later = timezone.now() + timedelta(days=2)
        services.update_meeting(world.community_worker, meeting, kind="representatives", title="居民代表会议（改期）",
                                starts_at=later, location="社区二楼")
        meeting.refresh_from_db()
        assert meeting.starts_at == later and meeting.location == "社区二楼"
        assert Notice.objects.filter(recipient=world.resident, text__contains="有变更").exists()
        services.record_minutes(world.community_worker, meeting, minutes="议定……")
        with pytest.raises(ValidationError, match="纪要"):
            services.update_meeting(world.community_worker, meeting, kind="representatives", title="x",
                                    starts_at=later, location="y")

    def test_qr_check_in_needs_the_meetings_code(self, world):
        meeting = self.meeting(world)
        other = self.meeting(world)
        with pytest.raises(ValidationError, match="签到码"):
            services.check_in(world.resident, meeting, code=other.checkin_code)
        services.check_in(world.resident, meeting, code=meeting.checkin_code)
        assert meeting.attendance.get().method == "self"

    def test_documents_are_pdf_or_clean_photos(self, world):
        meeting = self.meeting(world)
        doc = services.attach_document(world.community_worker, meeting, title="加装电梯方案", file=scan())
        assert doc.file.name.endswith(".pdf")
        photo = services.attach_document(world.community_worker, meeting, title="现场照片",
                                         file=image_upload(exif_gps=True))
        assert photo.file.name.endswith(".jpg")
        with pytest.raises(ValidationError, match="PDF"):
            services.attach_document(world.community_worker, meeting, title="x",
                                     file=SimpleUploadedFile("x.exe", b"MZ\x90\x00", content_type="application/pdf"))
        with pytest.raises(PermissionDenied):
            services.attach_document(world.resident, meeting, title="x", file=scan())


class TestVoteFollowThrough:
    def test_not_voted_and_my_votes(self, world):
        add_households(world, 2)
        vote = services.open_vote(world.secretary, place=world.community, title="t", rules={}, secret=True)
        services.cast_ballot(world.resident, vote, "yes")
        missing = services.not_voted(world.secretary, vote)
        assert world.household_b in missing and world.household_a not in missing and len(missing) == 3
        with pytest.raises(PermissionDenied):
            services.not_voted(world.resident, vote)
        assert services.my_votes(world.resident) == [(vote, True)]
        other = add_households(world, 1, start=900)[0]  # registered after the vote opened: not in its electorate
        assert services.my_votes(other) == []

    def test_rating_opens_when_tasks_are_done_and_residents_are_told(self, world):
        resolution = passed_resolution(world, "修路")
        with pytest.raises(ValidationError, match="完成后"):
            services.rate(world.resident, resolution, score=4)  # no tasks yet
        a = services.add_task(world.secretary, resolution, title="a", owner_name="物业", due=date.today(),
                              owner=world.grid_worker_a)
        b = services.add_task(world.secretary, resolution, title="b", owner_name="社区", due=date.today())
        with pytest.raises(ValidationError, match="选择"):
            services.report_progress(world.secretary, resolution, text="x", done=True)
        services.report_progress(world.grid_worker_a, resolution, task=a, text="完成", done=True)  # task owner
        with pytest.raises(PermissionDenied):
            services.report_progress(world.grid_worker_a, resolution, task=b, text="x", done=True)
        assert not Notice.objects.filter(text__contains="已办结").exists()
        services.report_progress(world.secretary, resolution, task=b, text="完成", done=True)
        assert Notice.objects.filter(recipient=world.resident, text__contains="已办结").exists()
        services.rate(world.resident, resolution, score=4)

    def test_silent_majority_clause_is_required(self, world):
        convention = services.create_convention(world.secretary, place=world.community, kind="residents", title="公约")
        with pytest.raises(ValidationError, match="条款"):
            services.draft_version(world.secretary, convention, text="……", silent_majority=True)
        with pytest.raises(ValidationError, match="0"):
            services.draft_version(world.secretary, convention, text="……", motion_percent="abc")

    def test_rejected_convention_vote(self, world):
        convention = services.create_convention(world.secretary, place=world.community, kind="residents", title="公约")
        version = services.draft_version(world.secretary, convention, text="……")
        with pytest.raises(PermissionDenied):
            services.legal_review(world.community_worker, version, opinion="ok")
        services.legal_review(world.subdistrict_officer, version, opinion="符合法律法规。")
        vote = services.open_vote(world.secretary, place=world.community, title="t", rules={},
                                  convention_version=version)
        services.cast_ballot(world.resident, vote, "no")
        services.close_vote(world.secretary, vote)
        version.refresh_from_db()
        assert version.status == ConventionVersion.Status.REJECTED and services.adopted_version(world.community) is None
