"""Password rules: length and character classes, no reuse of the last five, change page and API, age reminder."""

from datetime import timedelta

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from gongzhi.accounts import services
from gongzhi.accounts.models import PasswordHistory, User
from gongzhi.accounts.roles import Role
from gongzhi.core.testing import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("password", ["Ab1!", "abcdefgh12", "ABCDEFGH!!", "abcdefgh!!", "1234567890"])
def test_weak_passwords_are_refused_in_chinese(password):
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        validate_password(password)
    assert any("密码" in m for m in exc.value.messages)


@pytest.mark.parametrize("password", ["Qwh7#xtu", "gongzhi#2026x", "ZHANG-san-88"])
def test_three_of_four_classes_and_eight_characters_pass(password):
    validate_password(password)


def test_last_five_passwords_cannot_be_reused(world):
    user = world.grid_worker_a
    used = ["First#pass11", "Second#pass1", "Third#pass12", "Fourth#pass1", "Fifth#pass12", "Sixth#pass12"]
    current = PASSWORD
    for new in used:
        services.change_password(user, old_password=current, new_password=new)
        current = new
    for old in used[1:]:  # the current password and the four before it
        with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
            services.change_password(user, old_password=current, new_password=old)
        assert "最近 5 次" in str(exc.value.message_dict["new_password"])
    assert user.check_password(current)
    services.change_password(user, old_password=current, new_password=used[0])  # six changes back: allowed
    assert user.check_password(used[0])
    assert PasswordHistory.objects.filter(user=user).count() == 5


def test_wrong_current_password_changes_nothing(world):
    user = world.grid_worker_a
    with pytest.raises(ValidationError) as exc:
        services.change_password(user, old_password="nope", new_password="Brand#new2026")
    assert "当前密码" in exc.value.message_dict["old_password"][0]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_change_password_page(client, world):
    client.force_login(world.grid_worker_a)
    page = client.get("/accounts/password/")
    assert "至少" in page.content.decode()  # the rules are explained before the user types
    response = client.post("/accounts/password/", {"old_password": PASSWORD, "new_password": "abc",
                                                   "new_password2": "abc"})
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    response = client.post("/accounts/password/", {"old_password": PASSWORD, "new_password": "Brand#new2026",
                                                   "new_password2": "Brand#new2026"}, follow=True)
    assert "密码已修改" in response.content.decode()
    assert response.context["user"].is_authenticated  # still logged in after the change
    world.grid_worker_a.refresh_from_db()
    assert world.grid_worker_a.check_password("Brand#new2026")


def test_change_password_api(api_client, world):
    api = api_client.as_user(world.resident)
    bad = api.post("/api/auth/password", {"old_password": PASSWORD, "new_password": "12345678"})
    assert bad.status_code == 400 and "new_password" in bad.json()["errors"]
    ok = api.post("/api/auth/password", {"old_password": PASSWORD, "new_password": "Harbour#2027"})
    assert ok.status_code == 200
    world.resident.refresh_from_db()
    assert world.resident.check_password("Harbour#2027")


def test_reminder_after_login_when_password_is_old(client, world, settings):
    settings.GONGZHI_PASSWORD_MAX_AGE_DAYS = 90
    services.change_password(world.grid_worker_a, old_password=PASSWORD, new_password="Earlier#2026")
    PasswordHistory.objects.filter(user=world.grid_worker_a).update(created_at=timezone.now() - timedelta(days=91))
    response = client.post("/accounts/login/", {"username": "grid_a", "password": "Earlier#2026"}, follow=True)
    assert "密码已使用 91 天" in response.content.decode()
    assert 'href="/accounts/password/"' in response.content.decode()


def test_reminder_for_an_account_never_changed(client, world, settings):
    settings.GONGZHI_PASSWORD_MAX_AGE_DAYS = 90
    User.objects.filter(pk=world.grid_worker_a.pk).update(date_joined=timezone.now() - timedelta(days=91))
    response = client.post("/accounts/login/", {"username": "grid_a", "password": PASSWORD}, follow=True)
    assert "密码已使用 91 天" in response.content.decode()
    assert 'href="/accounts/password/"' in response.content.decode()


def test_no_reminder_for_a_recent_password(client, world):
    response = client.post("/accounts/login/", {"username": "grid_b", "password": PASSWORD}, follow=True)
    assert "密码已使用" not in response.content.decode()


def test_create_user_applies_the_rules(world):
    with pytest.raises(ValidationError):
        services.create_user(username="weak", password="password1", role=Role.GRID_WORKER, place=world.grid_a)
    assert not User.objects.filter(username="weak").exists()
