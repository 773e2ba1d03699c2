import pytest

from gongzhi.appeals.models import Appeal
from gongzhi.core.testing import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_resident_submits_staff_resolve_resident_rates(page, live_server, w):
    base = live_server.url
    browser_login(page, base, "resident")
    page.click("[data-testid=appeal-submit-link]")
    page.select_option("#id_kind", "complaint")
    page.select_option("#id_category", label="噪音")
    page.fill("#id_description", "小区门口夜间施工噪音扰民")
    page.fill("#id_latitude", "30.395")
    page.fill("#id_longitude", "114.885")
    page.click("[data-testid=submit-appeal]")
    page.wait_for_selector("[data-testid=timeline]")
    appeal = Appeal.objects.get()
    assert appeal.place == w.grid_a and appeal.reporter == w.resident

    staff = page.context.browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    browser_login(staff, base, "grid_a")
    staff.click("[data-testid=appeal-inbox-link]")
    staff.click(f"a[href='/appeals/{appeal.pk}/']")
    staff.click("[data-testid=do-accept]")
    staff.click("[data-testid=open-resolve]")
    staff.fill("[data-testid=note-resolve]", "已联系施工方，夜间停工")
    staff.click("[data-testid=do-resolve]")
    assert "已联系施工方" in staff.inner_text("[data-testid=resolution]")
    staff.context.close()

    page.goto(f"{base}/appeals/mine/")
    page.click(f"a[href='/appeals/{appeal.pk}/']")
    page.click("[data-testid=rating-satisfied]")
    with page.expect_navigation():
        page.click("[data-testid=do-rate]")
    assert page.inner_text("[data-testid=status]") == "已关闭"
    appeal.refresh_from_db()
    assert appeal.status == Appeal.Status.CLOSED and appeal.rating == "satisfied"
    assert [e.action for e in appeal.events.all()] == ["submit", "accept", "resolve", "rate"]
