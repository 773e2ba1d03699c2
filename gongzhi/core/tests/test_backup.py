"""Backup and restore: back up a database with records of every app, destroy it, restore, find every record."""

import io
import tarfile

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection

from gongzhi.core import audit
from gongzhi.core.backup import BackupError, restore
from gongzhi.core.models import AuditEvent, AuditHead
from gongzhi.core.testing import add_activity, build_world
from gongzhi.registry.models import Person

pytestmark = pytest.mark.django_db(transaction=True)  # pg_dump, a separate process, sees committed data only


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def snapshot():
    """Every row of every table, with encrypted fields as the application reads them (decrypted)."""
    return {model._meta.label: list(model.objects.order_by("pk").values())
            for model in apps.get_models() if model is not AuditHead}


def destroy():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        else:
            cursor.execute("PRAGMA foreign_keys = OFF")
            for table in connection.introspection.table_names(cursor):
                cursor.execute(f'DROP TABLE "{table}"')
            cursor.execute("PRAGMA foreign_keys = ON")


def test_backup_destroy_restore_finds_every_record(tmp_path, settings):
    w = add_activity(build_world())
    photo = settings.MEDIA_ROOT / w.appeal.photo.name
    photo_bytes = photo.read_bytes()
    archive = tmp_path / "backup.tar.gz"
    call_command("backup", "-o", str(archive), stdout=open("/dev/null", "w"))
    before = snapshot()
    assert all(before[label] for label in ("registry.Person", "appeals.Appeal", "points.Entry", "deliberation.Ballot",
                                           "deliberation.CoSignature", "accounts.RoleAssignment", "places.Place"))
    assert oct(archive.stat().st_mode & 0o777) == "0o600"

    destroy()
    photo.unlink()
    assert "registry_person" not in connection.introspection.table_names()

    call_command("restore", str(archive), "--yes", stdout=open("/dev/null", "w"))
    after = snapshot()
    last_before = max(e["seq"] for e in before["core.AuditEvent"])
    after["core.AuditEvent"] = [e for e in after["core.AuditEvent"] if e["seq"] <= last_before]
    for label, rows in before.items():
        assert after[label] == rows, label
    assert Person.objects.get(pk=w.person_a.pk).id_number == w.person_a.id_number  # still decrypts
    assert photo.read_bytes() == photo_bytes
    assert AuditEvent.objects.filter(action="restore").count() == 1
    report = audit.verify()
    assert report.ok, report.problem


def test_a_damaged_or_foreign_archive_restores_nothing(tmp_path):
    build_world()
    with pytest.raises(CommandError, match="not a Gongzhi backup"):
        call_command("restore", str(tmp_path / "missing.tar.gz"), "--yes")
    archive = tmp_path / "b.tar.gz"
    call_command("backup", "-o", str(archive), stdout=open("/dev/null", "w"))
    # Same manifest, other engine: refused before anything is touched.
    other = tmp_path / "other.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(other, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == "manifest.json":
                data = data.replace(f'"{connection.vendor}"'.encode(), b'"oracle"')
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    persons = Person.objects.count()
    with pytest.raises(BackupError, match="oracle database"):
        restore(other)
    assert Person.objects.count() == persons
