"""The audit trail: every kind of security event lands in one keyed-hash chain that detects tampering."""

import gzip
import json
import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone

from gongzhi.accounts.models import RoleAssignment
from gongzhi.accounts.roles import Role
from gongzhi.core import audit
from gongzhi.core.models import AuditArchive, AuditEvent
from gongzhi.core.testing import PASSWORD, make_user

pytestmark = pytest.mark.django_db
ON_POSTGRES = connection.vendor == "postgresql"


def events(action, **filters):
    return AuditEvent.objects.filter(action=action, **filters)


def verify_command():
    call_command("audit", "verify", stdout=open("/dev/null", "w"))


def test_logins_denials_roles_changes_and_exports_are_recorded(client, api_client, world):
    client.post("/accounts/login/", {"username": "grid_a", "password": "wrong"})
    failed = events("login_failed", username="grid_a").get()
    assert (failed.outcome, failed.client_ip) == ("failure", "127.0.0.1")

    client.post("/accounts/login/", {"username": "grid_a", "password": PASSWORD})
    assert events("login", user=world.grid_worker_a).exists()

    # A page denial and an API denial, each with the user, the view and the outcome.
    assert client.get(f"/registry/households/{world.household_b.pk}/").status_code == 403
    page_denial = events("denied", user=world.grid_worker_a).get()
    assert (page_denial.outcome, page_denial.object_id) == ("denied", str(world.household_b.pk))
    api = api_client.as_user(world.grid_worker_b)
    assert api.get(f"/api/registry/persons/{world.person_a.pk}").status_code == 403
    assert events("denied", user=world.grid_worker_b, detail="registry.view_person_full").exists()

    # A staff change through a page: the view and its arguments are the object.
    response = client.post(f"/registry/households/{world.household_a.pk}/visit/", {"met": "张三", "findings": "好"})
    assert response.status_code == 302
    change = events("change", user=world.grid_worker_a).get()
    assert change.object_id == f"registry:visit household_pk={world.household_a.pk}"

    # Role granted and revoked.
    assignment = RoleAssignment.objects.create(user=world.grid_worker_a, role=Role.GRID_LEADER, place=world.grid_a)
    assignment.delete()
    details = events("role_change").filter(detail__contains="grid_leader").order_by("seq").values_list("detail", flat=True)
    assert [d.split(":")[0] for d in details] == ["granted", "revoked"]

    # A download nobody recorded itself is recorded by the hook (appeal metrics), the register export once.
    client.force_login(world.community_worker)
    assert client.get(f"/registry/places/{world.community.pk}/export/").status_code == 200
    assert events("export", user=world.community_worker).count() == 1
    assert client.get("/appeals/metrics/?format=xlsx").status_code == 200
    assert events("export", user=world.community_worker, object_id="appeals:metrics").count() == 1
    assert audit.verify().ok


def test_resident_actions_are_not_staff_changes(client, world):
    client.force_login(world.resident)
    client.post("/large-type/", {"next": "/"})
    client.post("/appeals/new/", {})
    assert not events("change").exists()


def tamper(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def make_entries(n=5):
    return [audit.record(AuditEvent.Action.CHANGE, detail=f"entry {i}") for i in range(n)]


def test_verify_catches_an_edited_entry(world):
    entries = make_entries()
    verify_command()
    tamper("UPDATE core_auditevent SET detail = %s WHERE seq = %s", ["nothing to see", entries[2].seq])
    with pytest.raises(CommandError, match=f"entry #{entries[2].seq}: content does not match"):
        verify_command()


def test_verify_catches_a_deleted_entry(world):
    entries = make_entries()
    tamper("DELETE FROM core_auditevent WHERE seq = %s", [entries[1].seq])
    with pytest.raises(CommandError, match=f"entry #{entries[1].seq}: missing"):
        verify_command()


def test_verify_catches_a_deleted_last_entry_and_an_inserted_one(world):
    entries = make_entries()
    tamper("DELETE FROM core_auditevent WHERE seq = %s", [entries[-1].seq])
    with pytest.raises(CommandError, match=f"entry #{entries[-1].seq}: missing"):
        verify_command()
    # Someone without the key writes an entry in its place, linked to the previous one: its hash cannot match.
    tamper("INSERT INTO core_auditevent (seq, at, username, action, outcome, object_type, object_id, detail, "
           "prev_hash, hash) VALUES (%s, %s, 'x', 'change', 'success', '', '', 'forged', %s, %s)",
           [entries[-1].seq, timezone.now(), entries[-2].hash, "f" * 64])
    with pytest.raises(CommandError, match=f"entry #{entries[-1].seq}: content does not match"):
        verify_command()


def test_archive_moves_old_entries_and_both_halves_still_verify(world, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    old = make_entries(3)
    later = timezone.now() + timedelta(days=settings.GONGZHI_AUDIT_RETENTION_DAYS + 1)
    archived = audit.archive(now=later)
    assert archived.last_seq >= old[-1].seq
    assert not AuditEvent.objects.filter(seq__lte=archived.last_seq).exists()
    header, rows = audit.read_archive(tmp_path / "audit" / archived.file)
    assert rows[-1]["detail"] == "entry 2" and header["count"] == len(rows) == archived.count
    make_entries(2)  # the live chain continues from the archive's anchor
    verify_command()
    assert audit.verify_archives() == []

    # An edited archive file is caught too.
    path = tmp_path / "audit" / archived.file
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    entry = json.loads(lines[-1])
    entry["detail"] = "rewritten"
    path.write_bytes(gzip.compress(("\n".join(lines[:-1] + [json.dumps(entry)]) + "\n").encode()))
    with pytest.raises(CommandError, match="changed since it was archived"):
        verify_command()


def test_retention_below_six_months_is_refused(world):
    with pytest.raises(CommandError, match="at least 183 days"):
        call_command("audit", "archive", "--days", "30")


def test_admin_lists_and_searches_but_nobody_edits(client, world):
    admin = make_user("root", is_superuser=True, is_staff=True)
    event = make_entries(1)[0]
    client.force_login(admin)
    assert "entry 0" in client.get("/admin/core/auditevent/?q=entry").content.decode()
    assert client.get("/admin/core/auditevent/add/").status_code == 403
    assert client.get(f"/admin/core/auditevent/{event.pk}/delete/").status_code == 403
    client.post(f"/admin/core/auditevent/{event.pk}/change/", {"detail": "edited"})
    event.refresh_from_db()
    assert event.detail == "entry 0"


@pytest.mark.skipif(not ON_POSTGRES, reason="parallel writers need PostgreSQL (SQLite serialises writers itself)")
@pytest.mark.django_db(transaction=True)
def test_parallel_writers_keep_one_unbroken_chain():
    writers, each = 8, 25
    start = threading.Barrier(writers)
    errors = []

    def write(n):
        try:
            start.wait()
            for i in range(each):
                audit.record(AuditEvent.Action.CHANGE, detail=f"writer {n} entry {i}")
        except Exception as exc:  # reported below; a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert len(seqs) == writers * each and seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    report = audit.verify()
    assert report.ok, report.problem
    assert report.checked == writers * each
    assert AuditArchive.objects.count() == 0
