"""Chromium on a phone, the issue's Done-when: a resident raises a topic in an estate, households co-sign online and
on paper past the frozen 5% threshold, a building meeting is convened with QR check-in and minutes, an owners'
assembly vote under the art. 278 double threshold passes with area weights, the resolution's tasks are done and
rated, and the public page shows it all."""

from decimal import Decimal
from fractions import Fraction

import pytest

from gongzhi.accounts.roles import Role
from gongzhi.core.testing import browser_login, follow, make_user
from gongzhi.deliberation import services
from gongzhi.deliberation.models import Ballot, Topic, Vote
from gongzhi.places.models import Kind
from gongzhi.places.services import create_place
from gongzhi.registry.models import Household, Person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF = {"name": "scan.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n% scanned sheet\n"}


def estate_with_owners(world):
    """滨湖花园 › 3栋 › 1单元 with 60 owner households: 301–341 (90 m²) will vote, 342–360 (60 m²) will not.
    Two of them have resident logins."""
    estate = create_place(kind=Kind.ESTATE, name="滨湖花园", parent=world.grid_a)
    building = create_place(kind=Kind.BUILDING, name="3栋", parent=estate)
    unit = create_place(kind=Kind.UNIT, name="1单元", parent=building)
    Household.objects.bulk_create([Household(place=unit, door_no=str(door), area_m2=Decimal(90 if door <= 341 else 60))
                                   for door in range(301, 361)])
    doors = {h.door_no: h for h in Household.objects.filter(place=unit)}
    logins = []
    for door, name in (("301", "王秀英"), ("302", "李建国")):
        person = Person.objects.create(household=doors[door], name=name, gender="F")
        logins.append(make_user(f"owner{door}", Role.RESIDENT, unit, person=person, full_name=name))
    return estate, building, doors, logins


def test_topic_to_rated_resolution_on_the_public_page(world, page, live_server):
    estate, building, doors, (owner_a, owner_b) = estate_with_owners(world)
    base = live_server.url

    # 民事民提: owner A raises the topic in the estate and co-signs; 60 households → threshold ceil(5% × 60) = 3.
    browser_login(page, base, owner_a.username)
    page.goto(f"{base}/deliberation/")
    follow(page.locator("[data-testid=raise-topic]"))
    page.select_option("#id_place", str(estate.pk))
    page.fill("#id_title", "3栋加装电梯")
    page.fill("#id_body", "3栋老人多，上下楼困难。")
    follow(page.locator("main button[type=submit]"))
    follow(page.locator("[data-testid=cosign]"))
    assert "1 / 3" in page.inner_text("[data-testid=signatures]")
    page.fill("#id_text", "建议费用按楼层分摊。")
    follow(page.locator("[data-testid=comment]"))
    assert "按楼层分摊" in page.inner_text("[data-testid=comments]")
    topic = Topic.objects.get()
    assert (topic.threshold, topic.households_at_opening) == (3, 60)

    page.context.clear_cookies()
    browser_login(page, base, owner_b.username)
    page.goto(f"{base}/deliberation/topics/{topic.pk}/")
    follow(page.locator("[data-testid=cosign]"))
    assert "2 / 3" in page.inner_text("[data-testid=signatures]")

    # Staff enter a paper sheet (door 303, scanned): the threshold is crossed and the topic is on the agenda.
    page.context.clear_cookies()
    browser_login(page, base, "community")
    page.goto(f"{base}/deliberation/topics/{topic.pk}/")
    page.fill("#id_households", "303")
    page.set_input_files("#id_scan", files=[PDF])
    follow(page.locator("[data-testid=paper-form] button"))
    assert "3 / 3" in page.inner_text("[data-testid=signatures]")
    assert page.inner_text("[data-testid=topic-status]") == "已列入议程"

    # 民事民议: a building meeting on the estate's topic; all households of 3栋 invited (in-app notice).
    page.goto(f"{base}/deliberation/places/{building.pk}/desk/")
    page.select_option("#id_m-kind", "building")
    page.fill("#id_m-title", "3栋加装电梯楼栋会议")
    page.fill("#id_m-starts_at", "2026-12-01T19:00")
    page.fill("#id_m-location", "3栋架空层")
    page.check(f"[data-testid=meeting-form] input[value='{topic.pk}']")
    follow(page.locator("[data-testid=meeting-form] button"))
    page.select_option("#id_rule", "households")
    page.select_option("#id_place", str(building.pk))
    follow(page.locator("[data-testid=invite-form] button"))
    assert "王秀英" in page.inner_text("main") and "李建国" in page.inner_text("main")
    checkin_url = page.inner_text("[data-testid=checkin-url]")
    assert page.locator("[data-testid=qr] svg").count() == 1
    page.fill("#name", "张大爷")
    follow(page.locator("[data-testid=record-attendee]"))

    # Owner A scans the QR code at the venue and checks in; the invitation is among the notices.
    page.context.clear_cookies()
    browser_login(page, base, owner_a.username)
    page.goto(f"{base}/deliberation/notices/")
    notices = page.inner_text("[data-testid=notices]")
    assert "邀请您参加3栋加装电梯楼栋会议" in notices and "必须列入议程" in notices
    page.goto(checkin_url)
    follow(page.locator("[data-testid=qr-check-in]"))
    assert page.inner_text("[data-testid=attendance-count]") == "2"

    page.context.clear_cookies()
    browser_login(page, base, "community")
    page.goto(f"{base}/deliberation/meetings/{topic.meetings.get().pk}/")
    page.fill("#id_minutes", "王秀英：支持加装。\n张大爷：一楼采光受影响。\n会议同意提交业主大会表决。")
    follow(page.locator("[data-testid=minutes-form] button"))
    assert "提交业主大会表决" in page.inner_text("[data-testid=minutes]")

    # 民事民决: an owners'-assembly vote at the estate, art. 278 rules frozen at opening.
    page.goto(f"{base}/deliberation/places/{estate.pk}/desk/")
    page.fill("#id_v-title", "是否同意3栋加装电梯")
    page.select_option("#id_v-voter_unit", "owner")
    page.check("#id_v-owners_assembly")
    page.select_option("#id_v-topic", str(topic.pk))
    follow(page.locator("[data-testid=vote-form] button"))
    assert "民法典第二百七十八条" in page.inner_text("[data-testid=rules]")
    vote = Vote.objects.get()
    # A paper ballot and a proxy ballot with its written authorisation, entered on the page.
    page.fill("#id_door_no", "303")
    page.select_option("#id_option", "yes")
    follow(page.locator("[data-testid=paper-ballot-form] button"))
    page.fill("#id_door_no", "304")
    page.select_option("#id_option", "yes")
    page.select_option("#id_channel", "proxy")
    page.fill("#id_proxy_name", "304户主之子")
    page.set_input_files("#id_authorisation", files=[PDF])
    follow(page.locator("[data-testid=paper-ballot-form] button"))
    assert Ballot.objects.get(vote=vote, channel="proxy").authorisation
    # The rest of the paper ballots (bulk, through the service): 305–341, ten of them against.
    for door in range(305, 342):
        services.cast_ballot(world.community_worker, vote, "no" if door <= 314 else "yes", channel="paper",
                             household=doors[str(door)])

    # The two owners with logins vote on their phones; their household shows under "my votes".
    for owner in (owner_a, owner_b):
        page.context.clear_cookies()
        browser_login(page, base, owner.username)
        page.goto(f"{base}/deliberation/my-votes/")
        assert "尚未投票" in page.inner_text("[data-testid=my-votes]")
        follow(page.locator("[data-testid=my-votes] a"))
        follow(page.locator("[data-testid=option-yes]"))
        assert page.locator("[data-testid=voted]").is_visible()

    # Staff see who has not voted (342–360), close and count: 41 of 60 owners, 3690 of 4830 m² took part;
    # 31 of 41 heads and 2790 of 3690 m² in favour → passed under the double threshold.
    page.context.clear_cookies()
    browser_login(page, base, "community")
    page.goto(f"{base}/deliberation/votes/{vote.pk}/")
    assert page.locator("[data-testid=not-voted] li").count() == 19
    assert "360" in page.inner_text("[data-testid=not-voted]")
    follow(page.locator("[data-testid=close-vote]"))
    assert page.inner_text("[data-testid=outcome]") == "通过"
    tally = page.inner_text("[data-testid=tally]")
    assert "2790" in tally and "900" in tally  # area cast for and against
    vote.refresh_from_db()
    assert Fraction(vote.result["participation_share"]) == Fraction(3690, 4830)
    assert Fraction(vote.result["participation_heads_share"]) == Fraction(41, 60)
    assert Fraction(vote.result["approval_share"]) == Fraction(2790, 3690)
    assert Fraction(vote.result["approval_heads_share"]) == Fraction(31, 41)

    # 民事民办: the resolution with two tasks, both reported done.
    page.fill("#id_title", "3栋加装电梯决议")
    page.fill("#id_text", "业主大会同意3栋加装电梯，业委会组织招标。")
    follow(page.locator("[data-testid=resolution-form] button"))
    for title, owner in (("组织招标", "业主委员会"), ("施工验收", "物业公司")):
        page.fill("#id_title", title)
        page.fill("#id_owner_name", owner)
        page.fill("#id_due", "2027-03-31")
        follow(page.locator("[data-testid=task-form] button"))
    for text in ("已完成招标。", "电梯已验收投用。"):
        page.select_option("#id_task", index=1)
        page.fill("#id_text", text)
        page.check("#id_done")
        follow(page.locator("[data-testid=progress-form] button"))
    assert page.locator("[data-testid=carried-out]").is_visible()
    resolution_url = page.url

    # 民事民评: owner A is told and rates the result.
    page.context.clear_cookies()
    browser_login(page, base, owner_a.username)
    page.goto(f"{base}/deliberation/notices/")
    assert "已办结" in page.inner_text("[data-testid=notices]")
    page.goto(resolution_url)
    page.select_option("#id_score", "5")
    follow(page.locator("[data-testid=rating-form] button"))
    assert "平均5.0分" in page.inner_text("[data-testid=ratings]")

    # The public page, without a login, shows it all.
    page.context.clear_cookies()
    page.goto(f"{base}/deliberation/public/{estate.pk}/")
    resolution = page.inner_text("[data-testid=public-resolution]")
    assert "3栋加装电梯决议" in resolution and resolution.count("· 已完成") == 2 and "5★" in resolution
    assert "通过" in page.inner_text("[data-testid=public-vote]")
    assert "提交业主大会表决" in page.inner_text("[data-testid=public-minutes]")
    assert "3栋加装电梯 · 已列入议程" in page.inner_text("[data-testid=public-topics]")
