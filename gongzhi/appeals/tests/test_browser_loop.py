"""Done-when: one appeal from a resident's phone through grid → community → department, joint handling,
resolution, an unsatisfied rating, reopening, resolution again, a satisfied rating, and the metrics page."""

import pytest

from gongzhi.accounts.models import RoleAssignment
from gongzhi.accounts.roles import Role
from gongzhi.appeals.models import Appeal, SubTask, Tier
from gongzhi.core.testing import browser_login, follow, image_upload, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _phone(browser, base, username):
    """A fresh phone-sized browser context logged in as `username`."""
    page = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    page.set_default_timeout(15000)
    browser_login(page, base, username)
    return page


def _open(page, base, appeal):
    page.goto(f"{base}/appeals/{appeal.pk}/")


def _expand(page, action):
    """Open the action's form (the first one on the page is open already)."""
    if page.locator(f"[data-testid=do-{action}]").is_hidden():
        page.click(f"[data-testid=open-{action}]")


def _act(page, action, note=None):
    _expand(page, action)
    if note is not None:
        page.fill(f"[data-testid=note-{action}]", note)
    follow(page.locator(f"[data-testid=do-{action}]"))


def test_appeal_from_phone_to_department_joint_handling_rework_and_metrics(page, live_server, w):
    base, browser = live_server.url, page.context.browser
    cityman = make_user("cityman", Role.DEPARTMENT_LIAISON, w.district, full_name="城管 王队长")
    RoleAssignment.objects.filter(user=cityman).update(department="城管")

    # The resident submits on the phone, picking the spot on the map of grid boundaries, with a photo.
    browser_login(page, base, "resident")
    follow(page.locator("[data-testid=appeal-submit-link]"))
    page.select_option("#id_kind", "complaint")
    page.select_option("#id_category", label="噪音")
    page.fill("#id_description", "小区门口工地夜间施工噪音扰民，凌晨还在打桩")
    page.click(f"path[data-grid='{w.grid_a.pk}']")
    page.wait_for_selector("[data-testid=picked-grid]:has-text('第一网格')")
    assert page.input_value("#id_latitude") and page.input_value("#id_longitude")
    photo = image_upload("site.jpg")
    page.set_input_files("#id_photo", files=[{"name": "site.jpg", "mimeType": "image/jpeg", "buffer": photo.read()}])
    follow(page.locator("[data-testid=submit-appeal]"))
    appeal = Appeal.objects.get()
    assert appeal.place == w.grid_a and appeal.reporter == w.resident and appeal.photo

    # Grid: accept, then escalate to the community.
    grid = _phone(browser, base, "grid_a")
    follow(grid.locator("[data-testid=appeal-inbox-link]"))
    follow(grid.locator(f"a[href='/appeals/{appeal.pk}/']"))
    _act(grid, "accept")
    _act(grid, "escalate", "工地施工需社区协调")
    appeal.refresh_from_db()
    assert appeal.tier == Tier.COMMUNITY

    # Community: from the dispatch board, straight to the police liaison.
    community = _phone(browser, base, "community")
    follow(community.locator("[data-testid=appeal-inbox-link]"))
    follow(community.locator("[data-testid=board-link]"))
    community.select_option(f"[data-testid=board-department-{appeal.pk}]", "派出所")
    follow(community.locator(f"[data-testid=board-dispatch-{appeal.pk}]"))
    appeal.refresh_from_db()
    assert appeal.tier == Tier.DEPARTMENT and appeal.department == "派出所"

    # Department liaison: accept, lead the joint handling with 城管 assisting.
    police = _phone(browser, base, "police")
    follow(police.locator("[data-testid=appeal-inbox-link]"))
    follow(police.locator(f"a[href='/appeals/{appeal.pk}/']"))
    _act(police, "accept")
    _expand(police, "assign")
    police.select_option("[data-testid=assignee]", str(w.police.pk))
    police.fill("[data-testid=assisting-departments]", "城管")
    _act(police, "assign")
    assist = SubTask.objects.get(appeal=appeal, role=SubTask.Role.ASSIST)
    assert police.is_visible(f"[data-testid=subtask-{assist.pk}]")

    # The assisting unit finds its sub-task in its inbox and reports its part done.
    city = _phone(browser, base, "cityman")
    follow(city.locator("[data-testid=appeal-inbox-link]"))
    follow(city.locator("[data-testid=subtask-row] a"))
    city.fill(f"[data-testid=subtask-note-{assist.pk}]", "已查处工地夜间违规施工")
    follow(city.locator(f"[data-testid=subtask-done-{assist.pk}]"))
    assert "已查处工地夜间违规施工" in city.inner_text(f"[data-testid=subtask-{assist.pk}]")

    # The lead starts and resolves.
    _open(police, base, appeal)
    _act(police, "start")
    _act(police, "resolve", "已责令工地停止夜间施工")

    # The resident is not satisfied: it is reopened to the same unit.
    page.goto(f"{base}/appeals/mine/")
    follow(page.locator("[data-testid=please-rate]"))
    page.click("[data-testid=rating-unsatisfied]")
    _act(page, "rate", "昨晚还在打桩")
    assert page.inner_text("[data-testid=status]") == "已受理"
    appeal.refresh_from_db()
    assert appeal.tier == Tier.DEPARTMENT and appeal.reopen_count == 1

    # The lead resolves again; the resident is satisfied and it closes.
    _open(police, base, appeal)
    _act(police, "resolve", "联合城管现场督查，夜间已停工")
    page.goto(f"{base}/appeals/mine/")
    follow(page.locator("[data-testid=please-rate]"))
    page.click("[data-testid=rating-satisfied]")
    _act(page, "rate")
    assert page.inner_text("[data-testid=status]") == "已关闭"
    assert "联合城管现场督查" in page.inner_text("[data-testid=resolution]")
    timeline = page.inner_text("[data-testid=timeline]")
    assert timeline.index("已查处工地夜间违规施工") < timeline.index("联合城管现场督查")

    appeal.refresh_from_db()
    assert [e.action for e in appeal.events.all()] == [
        "submit", "accept", "escalate", "dispatch", "accept", "assign", "subtask", "start", "resolve", "reopen",
        "resolve", "rate"]

    # The metrics page counts it: resolved once, reworked once, and the latest rating is satisfied.
    community.goto(f"{base}/appeals/metrics/")
    metric = lambda key: community.inner_text(f"[data-testid=metric-{key}]")  # noqa: E731
    assert metric("total") == "1" and metric("resolved") == "1" and metric("reworked") == "1"
    assert metric("rework_rate") == "100%" and metric("satisfaction_rate") == "100%"
    assert metric("response_rate") == "100%" and metric("resolution_rate") == "100%"
    community.wait_for_function("window.gongzhiChartsReady === true")
    for other in (grid, community, police, city):
        other.context.close()
