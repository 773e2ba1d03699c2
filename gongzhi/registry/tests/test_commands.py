"""The command line: demo data once, user creation, one-form import/export, the worker."""

import io
import re
from base64 import b32encode

import pytest
from django.core.management import CommandError, call_command
from django_otp.plugins.otp_totp.models import TOTPDevice
from openpyxl import load_workbook

from gongzhi.accounts.models import User
from gongzhi.places.models import Place
from gongzhi.registry.models import Household, Person

pytestmark = pytest.mark.django_db


def test_demo_loads_once_and_is_kept(tmp_path):
    call_command("demo", stdout=io.StringIO())
    counts = (Place.objects.count(), Household.objects.count(), Person.objects.count(), User.objects.count())
    assert 1900 <= counts[1] <= 2100
    out = io.StringIO()
    call_command("demo", stdout=out)
    assert "already loaded" in out.getvalue()
    assert (Place.objects.count(), Household.objects.count(), Person.objects.count(), User.objects.count()) == counts
    # the admin and staff above grid worker have fixed demo authenticator secrets, printed as otpauth URIs
    uris = dict(re.findall(r"^\s+(\S+)\s+(otpauth://\S+)$", out.getvalue(), re.M))
    assert set(uris) == {"admin", "bureau", "subdistrict", "secretary", "community", "village", "police"}
    device = TOTPDevice.objects.get(user__username="secretary", confirmed=True)
    assert f"secret={b32encode(device.bin_key).decode()}" in uris["secretary"]
    # every demo person has a valid, decryptable ID number; the export round-trips through import unchanged
    path = tmp_path / "export.xlsx"
    call_command("register_export", place="420704001001", user="secretary", output=str(path), full=True, stdout=io.StringIO())
    rows = list(load_workbook(path).active.iter_rows(values_only=True))
    assert len(rows) - 1 == Person.objects.filter(household__place__path__startswith=Place.objects.get(code="420704001001").path).count()
    out = io.StringIO()
    call_command("register_import", str(path), community="420704001001", user="community", stdout=out)
    assert "+0" in out.getvalue() and "nothing written" in out.getvalue()


def test_adduser_command(world):
    call_command("adduser", "newgrid", password="Strong@pass99", role="grid_worker", place=str(world.grid_a.pk),
                 stdout=io.StringIO())
    user = User.objects.get(username="newgrid")
    assert user.scope.covers(world.grid_a) and not user.scope.covers(world.grid_b)
    with pytest.raises(CommandError):
        call_command("adduser", "weak", password="123", stdout=io.StringIO())


def test_worker_clears_expired_sessions(world):
    from datetime import timedelta

    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    old, fresh = SessionStore(), SessionStore()
    old.create()
    fresh.create()
    Session.objects.filter(session_key=old.session_key).update(expire_date=timezone.now() - timedelta(minutes=1))
    call_command("worker", once=True)
    assert list(Session.objects.values_list("session_key", flat=True)) == [fresh.session_key]
