"""Login flows in Debian's Chromium on a phone-sized screen: a community worker's first login enrols an
authenticator; the fifth wrong password locks the account with a Chinese message; no CSP violations on the way."""

import base64

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from gongzhi.accounts.roles import Role
from gongzhi.core.testing import PASSWORD, browser_login, follow, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def csp_violations(page):
    seen = []
    page.on("console", lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None)
    return seen


def test_community_worker_first_login_enrols_totp_then_reaches_home(page, live_server, world):
    make_user("liu", Role.COMMUNITY_WORKER, world.community, totp=False, full_name="刘社工")
    violations = csp_violations(page)
    browser_login(page, live_server.url, "liu")
    assert "/accounts/otp/" in page.url
    assert page.get_by_role("heading", name="绑定身份验证器").is_visible()
    assert page.get_by_role("img", name="用于绑定身份验证器的二维码").is_visible()
    # What the authenticator app does with the key typed in by hand.
    secret = page.get_by_test_id("otp-secret").inner_text().strip()
    page.get_by_label("身份验证器显示的 6 位验证码").fill(f"{totp(base64.b32decode(secret)):06d}")
    follow(page.get_by_role("button", name="确认并继续"))
    assert page.url == f"{live_server.url}/"
    assert "身份验证器已绑定" in page.get_by_role("status").inner_text()
    assert "社区工作者" in page.get_by_test_id("roles").inner_text()
    assert TOTPDevice.objects.get(user__username="liu").confirmed
    # The next login asks only for the code.
    follow(page.get_by_role("button", name="退出登录"))
    browser_login(page, live_server.url, "liu")
    assert page.url == f"{live_server.url}/"
    assert not violations


def test_lockout_after_five_wrong_passwords_shows_chinese_message(page, live_server, world, settings):
    violations = csp_violations(page)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        browser_login(page, live_server.url, "grid_b", "wrong-password")
        assert "用户名/手机号或密码错误" in page.get_by_role("alert").inner_text()
    browser_login(page, live_server.url, "grid_b", "wrong-password")  # the fifth failure locks the account
    assert "账号已被暂时锁定" in page.get_by_role("alert").inner_text()
    browser_login(page, live_server.url, "grid_b", PASSWORD)  # the right password, too late
    assert "账号已被暂时锁定" in page.get_by_role("alert").inner_text()
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url  # not logged in
    assert not violations
