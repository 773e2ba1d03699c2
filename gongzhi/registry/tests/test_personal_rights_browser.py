"""Personal-information rights in Debian's Chromium on a phone: the resident downloads their data, the secretary
anonymises a departed person's record after confirming."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gongzhi.core.models import AuditEvent
from gongzhi.core.testing import add_activity, browser_login, build_world, follow
from gongzhi.registry import services
from gongzhi.registry.models import Person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_resident_reads_the_notice_and_downloads_their_data(page, live_server):
    w = add_activity(build_world())
    page.goto(f"{live_server.url}/accounts/login/")
    follow(page.locator("main").get_by_role("link", name="个人信息保护说明"))
    assert page.get_by_role("heading", name="您的权利").is_visible()
    browser_login(page, live_server.url, "13800000001")
    follow(page.locator("footer").get_by_role("link", name="我的个人信息"))
    assert w.person_a.id_number in page.get_by_test_id("section-person").inner_text()
    assert "楼下夜里施工噪音" in page.get_by_test_id("section-appeals").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
    with page.expect_download() as download:
        page.get_by_test_id("download-xlsx").click()
    assert download.value.suggested_filename == "my-data.xlsx"
    assert AuditEvent.objects.filter(action="export", user=w.resident, detail="own personal data (xlsx)").count() == 1


def test_secretary_anonymises_after_confirming(page, live_server, settings):
    w = build_world()
    services.record_departure(w.community_worker, w.person_b, departed="deceased",
                              departed_on=timezone.localdate() - timedelta(days=settings.GONGZHI_PERSON_RETENTION_DAYS + 5))
    browser_login(page, live_server.url, "secretary")
    page.goto(f"{live_server.url}/registry/persons/{w.person_b.pk}/")
    assert "已去世" in page.get_by_test_id("departed").inner_text()
    follow(page.get_by_role("link", name="匿名化此记录"))
    page.get_by_label("原因").fill("去世满三年")
    follow(page.get_by_test_id("anonymise"))  # the box is not ticked: nothing happens
    assert Person.objects.get(pk=w.person_b.pk).anonymised_at is None
    page.get_by_label("我了解此操作无法撤销。").check()
    follow(page.get_by_test_id("anonymise"))
    assert "该记录已匿名化" in page.content()
    person = Person.objects.get(pk=w.person_b.pk)
    assert person.name == f"已匿名居民{person.pk}" and person.id_number is None
    assert "李四" not in page.content()
