"""Second factor: who needs it, first-login enrolment, wrong codes, the admin site and the token endpoint."""

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from gongzhi.accounts.otp import current_code
from gongzhi.accounts.roles import Role
from gongzhi.core.models import AuditEvent
from gongzhi.core.testing import PASSWORD, fresh_totp_code, make_user, totp_device

pytestmark = pytest.mark.django_db


def password_login(client, username):
    return client.post("/accounts/login/", {"username": username, "password": PASSWORD})


def test_who_needs_a_second_factor(world):
    assert world.community_worker.needs_otp and world.secretary.needs_otp
    assert world.subdistrict_officer.needs_otp and world.bureau.needs_otp
    liaison = make_user("police", Role.DEPARTMENT_LIAISON, world.subdistrict)
    assert liaison.needs_otp
    assert not world.grid_worker_a.needs_otp and not world.resident.needs_otp


def test_residents_and_grid_workers_need_only_the_password(world):
    for username in ("grid_a", "13800000001"):
        client = Client()
        password_login(client, username)
        assert client.get("/").status_code == 200


def test_staff_login_asks_for_the_code_and_refuses_a_wrong_one(world):
    client = Client()
    response = password_login(client, "community")
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 302 and home["Location"].startswith("/accounts/otp/")
    assert client.get("/registry/households/%d/" % world.household_a.pk).status_code == 302
    assert client.get("/api/auth/me").status_code == 401  # the session is not enough for the API either
    step = client.get("/accounts/otp/")
    assert "验证器" in step.content.decode() and "otp-secret" not in step.content.decode()  # no secret shown again
    wrong = client.post("/accounts/otp/", {"otp": "000000" if fresh_totp_code(world.community_worker) != "000000"
                                           else "111111"})
    assert wrong.status_code == 200 and "验证码错误" in wrong.content.decode()
    assert client.get("/").status_code == 302
    assert AuditEvent.objects.filter(action="login_failed", username="community").exists()
    right = client.post("/accounts/otp/", {"otp": fresh_totp_code(world.community_worker), "next": "/"})
    assert right.status_code == 302 and right["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.get("/api/auth/me").json()["username"] == "community"


def test_first_login_enrols_an_authenticator(world):
    worker = make_user("newworker", Role.COMMUNITY_WORKER, world.community, totp=False)
    client = Client()
    password_login(client, "newworker")
    page = client.get("/accounts/otp/").content.decode()
    assert 'src="data:image/svg+xml;base64,' in page  # the QR code
    device = TOTPDevice.objects.get(user=worker, confirmed=False)
    assert device.config_url.split("secret=")[1].split("&")[0] in page  # the key to type by hand
    client.get("/accounts/otp/")
    assert TOTPDevice.objects.filter(user=worker).count() == 1  # reloading keeps the same secret
    assert client.post("/accounts/otp/", {"otp": "12345"}).status_code == 200
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)  # as if the back-off had passed
    response = client.post("/accounts/otp/", {"otp": current_code(device)})
    assert response.status_code == 302
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.get("/").status_code == 200


def test_admin_site_needs_the_second_factor(world):
    admin = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)  # password only
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/otp/")
    client.get(response["Location"])  # the enrolment page makes the device
    client.post("/accounts/otp/", {"otp": current_code(TOTPDevice.objects.get(user=admin))})
    assert client.get("/admin/").status_code == 200


def test_test_client_fixture_logs_staff_in_verified(client, world):
    client.force_login(world.secretary)
    assert client.get("/").status_code == 200


def test_token_endpoint_requires_the_code_for_staff(world):
    client = Client()
    url = "/api/auth/token"
    missing = client.post(url, {"username": "secretary", "password": PASSWORD}, content_type="application/json")
    assert missing.status_code == 400 and "otp" in missing.json()["errors"]
    wrong = client.post(url, {"username": "secretary", "password": PASSWORD, "otp": "abc"},
                        content_type="application/json")
    assert wrong.status_code == 400
    ok = client.post(url, {"username": "secretary", "password": PASSWORD, "otp": fresh_totp_code(world.secretary)},
                     content_type="application/json")
    assert ok.status_code == 200
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {ok.json()['token']}"})
    assert me.json()["username"] == "secretary"
    # Grid workers and residents: username/phone and password are enough.
    plain = client.post(url, {"username": "grid_b", "password": PASSWORD}, content_type="application/json")
    assert plain.status_code == 200


def test_token_endpoint_refuses_staff_who_never_enrolled(world):
    make_user("fresh", Role.SUBDISTRICT_OFFICER, world.subdistrict, totp=False)
    response = Client().post("/api/auth/token", {"username": "fresh", "password": PASSWORD, "otp": "123456"},
                             content_type="application/json")
    assert response.status_code == 400 and "网站" in response.json()["detail"]


def test_repeated_wrong_codes_are_throttled(world):
    device = totp_device(world.bureau)
    client = Client()
    password_login(client, "bureau")
    for _ in range(3):
        client.post("/accounts/otp/", {"otp": "999999" if current_code(device) != "999999" else "888888"})
    # Right after failures django-otp refuses even the right code until the back-off has passed.
    response = client.post("/accounts/otp/", {"otp": current_code(device)})
    assert response.status_code == 200 and client.get("/").status_code == 302


def test_five_wrong_codes_lock_the_account_like_wrong_passwords(world, settings):
    device = totp_device(world.bureau)
    client = Client()
    password_login(client, "bureau")
    wrong = "999999" if current_code(device) != "999999" else "888888"
    statuses = []
    for _ in range(settings.AXES_FAILURE_LIMIT):
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)  # past django-otp's back-off
        statuses.append(client.post("/accounts/otp/", {"otp": wrong}).status_code)
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    late = client.post("/accounts/otp/", {"otp": fresh_totp_code(world.bureau)})  # the right code, too late
    assert "锁定" in late.content.decode()
    assert client.get("/").status_code == 302
    assert password_login(Client(), "bureau").status_code == 429  # and the password too
