"""Chromium on a phone: a resident raises a topic, households co-sign past the threshold, a vote passes,
and the public page shows the result."""

import pytest

from gongzhi.core.testing import browser_login
from gongzhi.deliberation import services
from gongzhi.deliberation.models import Topic, Vote

from .factories import add_households

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_topic_to_public_result(world, page, live_server):
    neighbours = add_households(world, 20)  # 22 households → threshold ceil(5% × 22) = 2
    base = live_server.url

    browser_login(page, base, "resident")
    page.wait_for_selector("[data-testid=roles]", state="attached")  # the home page, after the login POST
    page.click("[data-testid=deliberation-link]")
    page.click("[data-testid=raise-topic]")
    page.select_option("#id_place", str(world.community.pk))
    page.fill("#id_title", "加装电梯")
    page.fill("#id_body", "1栋老人上下楼困难")
    page.click("main button[type=submit]")
    page.click("[data-testid=cosign]")
    assert "1 / 2" in page.inner_text("[data-testid=signatures]")
    topic = Topic.objects.get()

    page.context.clear_cookies()
    browser_login(page, base, neighbours[0].username)
    page.wait_for_selector("[data-testid=roles]", state="attached")  # the home page, after the login POST
    page.goto(f"{base}/deliberation/topics/{topic.pk}/")
    page.click("[data-testid=cosign]")
    assert page.inner_text("[data-testid=topic-status]") == "已列入议程"

    vote = services.open_vote(world.secretary, place=world.community, title="是否加装电梯",
                              rules={"voter_unit": "household"}, topic=topic)
    page.goto(f"{base}/deliberation/votes/{vote.pk}/")
    page.click("[data-testid=option-yes]")
    page.wait_for_selector("[data-testid=voted]")

    page.context.clear_cookies()
    browser_login(page, base, "secretary")
    page.wait_for_selector("[data-testid=roles]", state="attached")  # the home page, after the login POST
    page.goto(f"{base}/deliberation/votes/{vote.pk}/")
    page.click("[data-testid=close-vote]")
    assert page.inner_text("[data-testid=outcome]") == "通过"
    assert Vote.objects.get().passed

    page.context.clear_cookies()
    page.goto(f"{base}/deliberation/public/{world.community.pk}/")
    assert "是否加装电梯" in page.inner_text("[data-testid=public-vote]")
    assert "通过" in page.inner_text("[data-testid=public-vote]")
