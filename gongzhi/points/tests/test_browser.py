"""A resident volunteers, earns points, redeems them; the organiser and the counter do their part."""

import re

import pytest

from gongzhi.accounts.roles import Role
from gongzhi.core.testing import browser_login as login
from gongzhi.core.testing import follow
from gongzhi.points.models import PointsRule

from .helpers import activity, funded_account, store_item

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_volunteer_earn_redeem_collect(world, page, live_server):
    act = activity(world, points_per_activity=40, points_per_hour=None)
    store_item(world, name="洗衣液", price=30, stock=2)
    rule = PointsRule.objects.create(place=world.community, name="门前三包", points=5,
                                     award_role=Role.COMMUNITY_WORKER, convention="村规民约第五条：门前三包")
    base = live_server.url

    # The resident signs up on their phone.
    login(page, base, "resident")
    page.click("[data-testid=points-link]")
    page.click("text=志愿活动")
    page.click("text=清理河道")
    page.click("button[value=sign_up]")
    page.wait_for_selector("[data-testid=my-status]")

    # The organiser checks them in and out and confirms.
    page.click("form[action*=logout] button")
    login(page, base, "grid_a")
    page.goto(f"{base}/points/activities/{act.pk}/")
    page.click("button[value=check_in]")
    page.click("button[value=check_out]")
    page.click("[data-testid=confirm]")
    page.wait_for_selector("text=已确认")

    # The resident also claims a village-rule award, which the community worker approves.
    page.click("form[action*=logout] button")
    login(page, base, "resident")
    page.goto(f"{base}/points/claim/")
    page.select_option("#id_rule", str(rule.pk))
    page.fill("#id_description", "清扫了单元门前的公共区域")
    page.click("main button[type=submit]")
    page.wait_for_selector("text=申报已提交")
    page.click("form[action*=logout] button")
    login(page, base, "community")
    page.goto(f"{base}/points/places/{world.community.pk}/claims/")
    page.click("button[value=approve]")
    page.wait_for_selector("button[value=approve]", state="detached")

    # The resident has the points and redeems an item.
    page.click("form[action*=logout] button")
    login(page, base, "resident")
    page.goto(f"{base}/points/")
    assert page.inner_text("[data-testid=balance]") == "45"
    page.click("text=积分超市")
    page.click("[data-testid=item] button[type=submit]")
    code = page.inner_text("[data-testid=code]").strip()
    assert re.fullmatch(r"\d{8}", code)

    # The counter hands it over.
    page.click("form[action*=logout] button")
    login(page, base, "community")
    page.goto(f"{base}/points/counter/")
    page.fill("#id_code", code)
    page.click("main button[type=submit]")
    page.wait_for_selector("text=已交付")

    # The ledger shows it.
    page.click("form[action*=logout] button")
    login(page, base, "resident")
    page.goto(f"{base}/points/")
    ledger = page.inner_text("[data-testid=ledger]")
    assert "+40" in ledger and "+5" in ledger and "-30" in ledger and "洗衣液" in ledger
    assert page.inner_text("[data-testid=balance]") == "15"


def test_village_counts_members_towards_household_and_publishes_leaderboard(world, page, live_server):
    """Staff open a household account, adjust it and switch the policy on; the resident's phone shows the same
    household total as the services; the public leaderboard shows surnames only."""
    funded_account(world, 20)
    base = live_server.url
    login(page, base, "community")
    page.goto(f"{base}/points/places/{world.community.pk}/households/")
    page.fill("#q", "101")
    follow(page.locator("main form button"))
    follow(page.locator("[data-testid=households] a"))
    follow(page.locator("[data-testid=open-account]"))
    follow(page.get_by_role("link", name="户积分账户", exact=True))
    page.fill("#id_amount", "30")
    page.fill("#id_reason", "文明家庭户")
    follow(page.locator("[data-testid=award]"))
    assert page.inner_text("[data-testid=balance]") == "30"
    page.goto(f"{base}/points/places/{world.community.pk}/")
    page.check("#id_household_includes_members")
    page.check("#id_public_leaderboard")
    follow(page.locator("[data-testid=save-policy]"))
    follow(page.locator("form[action*=logout] button"))

    login(page, base, "resident")
    page.goto(f"{base}/points/")
    assert page.inner_text("[data-testid=balance]") == "20"
    assert page.inner_text("[data-testid=household-total]") == "50"
    follow(page.locator("text=家庭积分明细"))
    assert page.inner_text("[data-testid=household-total]") == "50"
    ledger = page.inner_text("[data-testid=ledger]")
    assert "文明家庭户" in ledger and "开户测试" in ledger
    assert page.evaluate("document.documentElement.scrollWidth <= 390")  # fits the phone
    follow(page.locator("form[action*=logout] button"))

    page.goto(f"{base}/points/places/{world.community.pk}/leaderboard/")
    board = page.inner_text("[data-testid=leaderboard]")
    assert "张*家" in board and "50" in board and "张三" not in board
    # Styling comes from the points stylesheet, not inline styles.
    assert page.eval_on_selector("[data-testid=leaderboard] li", "e => getComputedStyle(e).display") == "flex"
