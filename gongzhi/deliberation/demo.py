"""Deliberation demo records for 滨湖花园, made through the services: an adopted management statute, a topic on the
agenda, a held building meeting with minutes, a closed owners'-assembly vote with its resolution and tasks."""

from datetime import date, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from gongzhi.places.models import Kind
from gongzhi.registry.models import Household

from . import services
from .counting import VoteRules

STATUTE = """第一条 为维护滨湖花园全体业主的合法权益，根据《中华人民共和国民法典》和《物业管理条例》，制定本规约。
第七条 本小区户数百分之五以上的住户联署的议题，应当列入议事会议程（5%动议）。
第八条 经业主大会决定，未参与表决的业主视为同意多数人的意见（沉默从众）。
第九条 业主应当遵守小区公共秩序，爱护公共设施。"""


def _sheet(name):
    return SimpleUploadedFile(name, b"%PDF-1.4\n% demo scan\n", content_type="application/pdf")


def _paper_ballots(staff, vote, households, rng, share, yes_share):
    """Paper ballots from `share` of the households, `yes_share` of them in favour."""
    for household in rng.sample(households, k=round(len(households) * share)):
        option = "yes" if rng.random() < yes_share else rng.choice(["no", "abstain"])
        services.cast_ballot(staff, vote, option, channel="paper", household=household)


@transaction.atomic
def load(rng, district, users) -> dict:
    estate = district.__class__.objects.get(path__startswith=district.path, kind=Kind.ESTATE, name="滨湖花园")
    building = estate.children.get(name="1栋")
    secretary, worker, resident = users["secretary"], users["community"], users["resident"]
    owners = list(services.households_under(estate).filter(tenure=Household.Tenure.OWNER).order_by("pk"))
    now = timezone.now()

    # The estate's management statute: drafted, legally reviewed, adopted by the owners.
    convention = services.create_convention(secretary, place=estate, kind="management", title="滨湖花园管理规约")
    version = services.draft_version(secretary, convention, text=STATUTE, silent_majority=True, motion_percent=5,
                                     motion_clause="第七条", silent_majority_clause="第八条")
    services.legal_review(users["subdistrict"], version, opinion="经审查，规约内容符合法律法规，未发现违法条款。")
    adoption = services.open_vote(secretary, place=estate, title="表决《滨湖花园管理规约》",
                                  rules=VoteRules(voter_unit="owner", owners_assembly=True),
                                  convention_version=version)
    _paper_ballots(secretary, adoption, owners, rng, share=0.8, yes_share=0.9)
    services.close_vote(secretary, adoption)

    # A topic raised by the resident, co-signed online and on paper past the frozen 5% threshold.
    topic = services.raise_topic(resident, place=estate, title="1栋加装电梯",
                                 body="1栋老人多，上下楼困难，建议加装电梯，费用按楼层分摊。")
    services.cosign(resident, topic)
    others = [h for h in services.households_under(building) if h.pk != resident.person.household_id]
    services.add_paper_signatures(worker, topic, households=others[:topic.threshold], scan=_sheet("联署表.pdf"))
    services.comment(users["buildinghead"], topic, text="同意，建议先征求一楼住户意见。")

    # A building meeting held last week, with check-in and minutes.
    meeting = services.convene_meeting(worker, place=building, kind="building", title="1栋加装电梯楼栋会议",
                                       starts_at=now - timedelta(days=7), location="1栋架空层", agenda=[topic])
    services.invite_by_rule(worker, meeting, rule="households", place=building)
    services.check_in(resident, meeting)
    services.check_in(users["buildinghead"], meeting)
    for name in ("王秀英", "李建国"):
        services.check_in(worker, meeting, name=name)
    services.record_minutes(worker, meeting, minutes="楼栋长介绍加装电梯方案。\n王秀英：一楼采光受影响，希望补偿。\n"
                                                     "李建国：支持，费用按楼层分摊。\n会议同意提交业主大会表决。")

    # The owners' assembly vote (art. 278), closed; its resolution and tasks.
    vote = services.open_vote(secretary, place=estate, title="是否同意1栋加装电梯", topic=topic, meeting=meeting,
                              rules=VoteRules(voter_unit="owner", owners_assembly=True))
    _paper_ballots(secretary, vote, owners, rng, share=0.75, yes_share=0.85)
    vote = services.close_vote(secretary, vote)
    resolution = services.create_resolution(secretary, place=estate, title="1栋加装电梯决议", vote=vote,
                                            text="业主大会同意1栋加装电梯，由业委会组织招标，物业配合施工。")
    tender = services.add_task(secretary, resolution, title="组织招标", owner_name="滨湖花园业主委员会",
                               due=date.today() + timedelta(days=30))
    services.add_task(secretary, resolution, title="施工与验收", owner_name="鄂州安居物业服务有限公司",
                      due=date.today() + timedelta(days=120))
    services.report_progress(secretary, resolution, task=tender, text="已发布招标公告，三家单位报名。")

    # A second topic still collecting signatures.
    services.raise_topic(resident, place=estate, title="增设电动车充电桩", body="楼道充电有火灾隐患，建议在架空层增设充电桩。")
    return {"deliberation_topics": 2, "deliberation_votes": 2, "deliberation_meetings": 1}
