"""The register's page flows in Debian's Chromium, on a phone-sized screen."""

import re

import pytest
from openpyxl import Workbook

from gongzhi.core.models import AuditEvent
from gongzhi.core.testing import browser_login, follow, valid_id
from gongzhi.registry.models import Person, Visit
from gongzhi.registry.oneform import COLUMNS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_each_role_lands_on_its_home(page, live_server, world):
    expectations = {"grid_a": "网格员", "community": "社区工作者", "subdistrict": "街道干部", "bureau": "民政局干部",
                    "13800000001": "居民"}
    for login, badge in expectations.items():
        browser_login(page, live_server.url, login)
        assert page.url == f"{live_server.url}/"
        assert badge in page.get_by_test_id("roles").inner_text()
        follow(page.get_by_role("button", name="退出登录"))
        page.wait_for_url("**/accounts/login/")
    # the resident's home leads to her own household
    browser_login(page, live_server.url, "13800000001")
    follow(page.get_by_role("link", name=re.compile("1单元 101")))
    assert "张三" in page.content()


def test_wrong_password_shows_chinese_message(page, live_server, world):
    browser_login(page, live_server.url, "grid_a", "wrong-password")
    assert "用户名/手机号或密码错误" in page.get_by_role("alert").inner_text()


def test_place_tree_household_and_person(page, live_server, world):
    browser_login(page, live_server.url, "community")
    follow(page.get_by_role("link", name=re.compile("滨湖社区")).first)
    page.wait_for_selector("#map path.leaflet-interactive")
    assert page.locator("#map path.leaflet-interactive").count() == 2  # both grid boundaries drawn
    follow(page.get_by_role("link", name="第一网格"))
    follow(page.get_by_role("link", name="1栋"))
    follow(page.get_by_role("link", name="1单元", exact=True))
    follow(page.get_by_role("link", name=re.compile("101")))
    body = page.content()
    assert world.person_a.masked_id_number in body and world.person_a.id_number not in body
    follow(page.get_by_role("link", name="张三"))
    assert page.get_by_test_id("id-number").inner_text() == world.person_a.id_number
    assert AuditEvent.objects.filter(action="view_personal", user=world.community_worker).count() == 1
    # edit with a bad phone: a Chinese message, nothing saved
    page.fill("#id_phone", "12345")
    follow(page.get_by_role("button", name="保存"))
    assert "手机号应为11位" in page.content()
    assert Person.objects.get(pk=world.person_a.pk).phone == "13800000001"
    page.fill("#id_phone", "13912345678")
    follow(page.get_by_role("button", name="保存"))
    assert "已保存" in page.content()
    assert Person.objects.get(pk=world.person_a.pk).phone == "13912345678"


def test_register_household_and_add_member(page, live_server, world):
    browser_login(page, live_server.url, "grid_a")
    page.goto(f"{live_server.url}/places/{world.unit_a.pk}/")
    page.fill("#id_door_no", "102")
    page.fill("#id_area_m2", "66")
    follow(page.get_by_role("button", name="登记"))
    assert "住户已登记" in page.content()
    page.fill("#id_name", "王小明")
    page.fill("#id_id_number", valid_id(seq="771"))
    page.select_option("#id_relation", "head")
    follow(page.get_by_role("button", name="添加"))
    assert "已添加人员" in page.content()
    assert Person.objects.get(name="王小明").household.door_no == "102"


def test_visit_log_from_phone(page, live_server, world):
    browser_login(page, live_server.url, "grid_a")
    follow(page.get_by_role("link", name="敲门走访清单"))
    follow(page.get_by_role("link", name="登记走访").first)
    follow(page.get_by_role("button", name="保存走访记录"))
    assert "请填写见到的人或走访发现" in page.content()
    assert Visit.objects.count() == 0
    page.fill("#id_met", "户主张三")
    page.fill("#id_findings", "老人独居，行动不便")
    page.fill("#id_needs", "希望有人定期上门")
    follow(page.get_by_role("button", name="保存走访记录"))
    assert "所有住户均已走访" in page.content()
    page.goto(f"{live_server.url}/registry/households/{world.household_a.pk}/")
    assert "老人独居" in page.content()


def _sheet(rows, path):
    headers = [h for _k, h, _r in COLUMNS]
    wb = Workbook()
    wb.active.append(headers)
    for row in rows:
        wb.active.append([row.get(h, "") for h in headers])
    wb.save(path)


def test_import_page_dry_run_then_write(page, live_server, world, tmp_path):
    good = [{"网格": "第一网格", "楼栋": "1栋", "单元": "1单元", "房号/门牌号": "302", "姓名": "赵一",
             "与户主关系": "户主", "身份证号": valid_id(seq="901")}]
    bad = good + [{"楼栋": "99栋", "房号/门牌号": "1", "姓名": "钱二", "与户主关系": "户主", "身份证号": valid_id(seq="902")}]
    _sheet(bad, tmp_path / "bad.xlsx")
    _sheet(good, tmp_path / "good.xlsx")
    browser_login(page, live_server.url, "community")
    follow(page.get_by_role("link", name=re.compile("导入一表通")))
    page.select_option("#id_community", str(world.community.pk))
    page.set_input_files("#id_file", str(tmp_path / "bad.xlsx"))
    follow(page.get_by_role("button", name="检查文件"))
    report = page.get_by_test_id("import-report").inner_text()
    assert "未写入任何数据" in report and "系统中没有该楼栋：99栋" in report
    page.select_option("#id_community", str(world.community.pk))
    page.set_input_files("#id_file", str(tmp_path / "good.xlsx"))
    follow(page.get_by_role("button", name="检查文件"))
    assert page.get_by_test_id("p-created").inner_text() == "1"
    assert not Person.objects.filter(name="赵一").exists()
    follow(page.get_by_role("button", name="确认写入"))
    assert "导入完成" in page.content()
    assert Person.objects.filter(name="赵一").count() == 1
    with page.expect_download() as download:
        page.goto(f"{live_server.url}/places/{world.community.pk}/")
        page.get_by_role("link", name="导出（脱敏）.xlsx").click()
    assert download.value.suggested_filename.endswith(".xlsx")


def test_language_switch_and_large_type(page, live_server, world):
    browser_login(page, live_server.url, "grid_a")
    small = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    follow(page.get_by_test_id("large-type"))
    large = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert large >= small * 1.25
    follow(page.get_by_role("button", name="English"))
    assert "My grids" in page.content()
    follow(page.get_by_role("button", name="中文"))
    assert "我的网格" in page.content()
