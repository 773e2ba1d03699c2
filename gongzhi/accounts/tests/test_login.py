"""Logins: staff by username, residents by phone; lockout after failures; session expiry; tokens."""

import time

import pytest
from django.test import override_settings

from gongzhi.core.models import AuditEvent
from gongzhi.core.testing import PASSWORD

pytestmark = pytest.mark.django_db


def login(client, username, password=PASSWORD):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_staff_and_resident_logins(client, world):
    assert login(client, "grid_a").status_code == 302
    client.logout()
    response = login(client, "138 0000 0001")  # the resident's phone, typed with spaces
    assert response.status_code == 302
    assert client.get("/").context["user"] == world.resident


def test_wrong_password_message_is_chinese(client, world):
    response = login(client, "grid_a", "wrong")
    assert response.status_code == 200
    assert "用户名/手机号或密码错误" in response.content.decode()
    assert AuditEvent.objects.filter(action="login_failed", username="grid_a").exists()


def test_lockout_after_repeated_failures(client, world, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "grid_a", "wrong")
    response = login(client, "grid_a")  # right password, but locked
    assert response.status_code == 429
    assert "锁定" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_api_token_lockout(client, world, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/api/auth/token", {"username": "grid_b", "password": "x"}, content_type="application/json")
    response = client.post("/api/auth/token", {"username": "grid_b", "password": PASSWORD}, content_type="application/json")
    assert response.status_code in (403, 429)


def test_api_token_round_trip(client, world):
    response = client.post("/api/auth/token", {"username": "grid_a", "password": PASSWORD}, content_type="application/json")
    token = response.json()["token"]
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["username"] == "grid_a"
    assert me["roles"][0]["role"] == "grid_worker"


def test_absolute_session_lifetime(client, world):
    login(client, "grid_a")
    with override_settings(GONGZHI_SESSION_ABSOLUTE_SECONDS=1):
        session = client.session
        session["gz_login_at"] = time.time() - 5
        session.save()
        response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_idle_timeout_is_configured(settings):
    assert settings.SESSION_COOKIE_AGE <= 30 * 60 and settings.SESSION_SAVE_EVERY_REQUEST


def test_idle_session_expires_and_activity_extends_it(client, world, settings):
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    login(client, "grid_a")
    Session.objects.update(expire_date=timezone.now() + timedelta(seconds=60))
    assert client.get("/").status_code == 200  # activity: the idle clock starts again
    expires = Session.objects.get().expire_date
    assert expires > timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))  # idle too long
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_api_token_refuses_nul_characters_in_chinese(client, world):
    """Found by the schemathesis run: a NUL in the username reached PostgreSQL and gave a 500."""
    response = client.post("/api/auth/token", {"username": "grid_a\x00", "password": PASSWORD},
                           content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == "文字中不能含有 NUL (\\x00) 字符。"
    assert response.json()["errors"] == {"username": ["文字中不能含有 NUL (\\x00) 字符。"]}


def test_api_body_that_is_not_json_is_a_clear_400(client, world):
    response = client.post("/api/auth/token", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "请求内容不是有效的 JSON。"}
