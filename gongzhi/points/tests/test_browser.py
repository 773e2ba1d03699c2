"""A resident volunteers, earns points, redeems them; the organiser and the counter do their part."""

import re

import pytest

from gongzhi.accounts.roles import Role
from gongzhi.core.testing import browser_login as login
from gongzhi.points.models import PointsRule

from .helpers import activity, store_item

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
