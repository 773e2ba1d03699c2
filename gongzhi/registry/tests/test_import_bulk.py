"""The fast one-form import: thousands of rows in batches give the same records as adding persons one by one."""

import hashlib
import hmac
import io
import random

import pytest
from cryptography.fernet import Fernet
from django.db import connection, transaction
from openpyxl import Workbook, load_workbook

from gongzhi.core import crypto
from gongzhi.core.crypto import decrypt, encrypt_many, lookup_hash
from gongzhi.core.models import AuditEvent
from gongzhi.core.testing import valid_id
from gongzhi.registry import oneform
from gongzhi.registry.models import Household, Person
from gongzhi.registry.oneform import COLUMNS, import_register
from gongzhi.registry.services import add_person

pytestmark = pytest.mark.django_db
HEADERS = [h for _k, h, _r in COLUMNS]
ROWS = 5000
PLACES = [("第一网格", "1栋", "1单元"), ("第二网格", "2栋", "1单元")]


def big_file(rows=ROWS, change=None) -> tuple[bytes, list[dict]]:
    """`rows` persons in households of 1–4, with and without phones, areas, tenures, tags and notes."""
    rng = random.Random(11)
    out, n, door = [], 0, 0
    while n < rows:
        grid, building, unit = PLACES[door % 2]
        for member in range(min(rng.randint(1, 4), rows - n)):
            born = f"19{rng.randint(30, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            out.append({"网格": grid, "楼栋": building, "单元": unit, "房号/门牌号": f"{door:05d}",
                        "建筑面积(㎡)": f"{60 + door % 50}.5" if member == 0 else "",
                        "居住性质": ["自住", "租住", ""][door % 3] if member == 0 else "",
                        "姓名": f"居民{n}", "与户主关系": ["户主", "配偶", "子女", "父母"][member],
                        "身份证号": valid_id(prefix=f"4207{n % 97:02d}", born=born, seq=f"{n % 1000:03d}"),
                        "手机号": f"139{n:08d}" if n % 5 else "", "民族": "回族" if n % 7 == 0 else "",
                        "政治面貌": ["群众", "中共党员", "共青团员"][n % 3], "特殊人群": "独居老人" if n % 11 == 0 else "",
                        "备注": f"备注{n}" if n % 13 == 0 else ""})
            n += 1
        door += 1
    if change:
        change(out)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(HEADERS)
    for row in out:
        ws.append([row.get(h, "") for h in HEADERS])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue(), out


@pytest.fixture
def small_batches(monkeypatch):
    """Several encryption batches and several write chunks even in a test-sized file."""
    from gongzhi.core import bulk
    monkeypatch.setattr(oneform, "_ENCRYPT_BATCH", 700)
    monkeypatch.setattr(bulk, "CHUNK", 1500)


def _record(person: Person) -> dict:
    """What a person's record holds, decrypted, without its id and timestamps."""
    return {"household": person.household_id, "name": person.name, "gender": person.gender,
            "birth_date": person.birth_date, "id_number": person.id_number, "id_number_hash": person.id_number_hash,
            "phone": person.phone, "phone_hash": person.phone_hash, "relation": person.relation,
            "ethnicity": person.ethnicity, "political": person.political, "tags": person.tags, "notes": person.notes,
            "departed": person.departed, "departed_on": person.departed_on, "anonymised_at": person.anonymised_at}


def counts():
    return Household.objects.count(), Person.objects.count()


def test_large_import_gives_the_records_adding_one_by_one_gives(world, small_batches):
    data, rows = big_file()
    before = counts()
    report = import_register(world.secretary, world.community, "big.xlsx", data, dry_run=False)
    assert report.ok and report.written, report.errors[:3]
    doors = {(r["网格"], r["房号/门牌号"]) for r in rows}
    assert (report.persons_created, report.households_created, report.rows) == (ROWS, len(doors), ROWS)
    assert counts() == (before[0] + len(doors), before[1] + ROWS)

    # Every row is found by its lookup hashes and decrypts to what the file said.
    people = {p.id_number_hash: p for p in Person.objects.select_related("household__place")
              .filter(household__place__path__startswith=world.community.path)}
    for row in rows:
        person = people[lookup_hash(row["身份证号"])]
        assert person.id_number == row["身份证号"] and person.name == row["姓名"]
        assert person.phone == (row["手机号"] or None)
        assert person.phone_hash == lookup_hash(row["手机号"] or None)
        assert person.household.door_no == row["房号/门牌号"] and person.household.place.name == row["单元"]
        assert person.ethnicity == (row["民族"] or "汉族") and person.tags == row["特殊人群"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, phone FROM registry_person")
        stored = cursor.fetchall()
    ciphertexts = [v for pair in stored for v in pair if v]
    assert all(v.startswith("gAAAAA") for v in ciphertexts)
    assert len(set(ciphertexts)) == len(ciphertexts)  # a fresh IV for every value

    # The same persons added one by one through the service: identical records.
    for row in rows[::250]:
        imported = people[lookup_hash(row["身份证号"])]
        with transaction.atomic():
            expected = _record(imported)
            household = imported.household
            imported.delete()
            again = add_person(world.secretary, household, name=row["姓名"], id_number=row["身份证号"],
                               phone=row["手机号"], relation=imported.relation, political=imported.political,
                               ethnicity=row["民族"] or "汉族", tags=row["特殊人群"], notes=row["备注"])
            assert _record(Person.objects.get(pk=again.pk)) == expected
            transaction.set_rollback(True)

    # The same file again changes nothing; a full export imports back unchanged and holds every row.
    second = import_register(world.secretary, world.community, "big.xlsx", data, dry_run=False)
    assert (second.unchanged, second.persons_created, second.persons_updated, second.households_created,
            second.households_updated) == (ROWS, 0, 0, 0, 0)
    exported = oneform.export_register(world.secretary, world.community, full=True)
    sheet = list(load_workbook(io.BytesIO(exported), read_only=True).active.iter_rows(values_only=True))
    by_id = {r[HEADERS.index("身份证号")]: r for r in sheet[1:]}
    for row in rows[::97]:
        out = by_id[row["身份证号"]]
        assert (out[HEADERS.index("姓名")], out[HEADERS.index("手机号")] or "", out[HEADERS.index("房号/门牌号")]) == (
            row["姓名"], row["手机号"], row["房号/门牌号"])
    round_trip = import_register(world.secretary, world.community, "export.xlsx", exported, dry_run=False)
    assert (round_trip.unchanged, round_trip.persons_created, round_trip.persons_updated) == (ROWS + 2, 0, 0)
    assert counts() == (before[0] + len(doors), before[1] + ROWS)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT).count() == 3


def test_changed_rows_in_a_large_file_update_only_those(world, small_batches):
    data, rows = big_file()
    import_register(world.secretary, world.community, "big.xlsx", data, dry_run=False)

    def change(out):
        out[1234]["手机号"] = "13700001234"
        out[0]["建筑面积(㎡)"] = "123.45"
    changed, _rows = big_file(change=change)
    dry = import_register(world.secretary, world.community, "big.xlsx", changed, dry_run=True)
    assert (dry.persons_updated, dry.households_updated, dry.unchanged, dry.written) == (1, 1, ROWS - 1, False)
    assert Person.objects.get(id_number_hash=lookup_hash(rows[1234]["身份证号"])).phone == rows[1234]["手机号"]
    report = import_register(world.secretary, world.community, "big.xlsx", changed, dry_run=False)
    assert (report.persons_updated, report.households_updated, report.unchanged) == (1, 1, ROWS - 1)
    assert Person.objects.get(id_number_hash=lookup_hash(rows[1234]["身份证号"])).phone == "13700001234"
    assert str(Household.objects.get(place=world.unit_a, door_no="00000").area_m2) == "123.45"


def test_error_rows_in_the_middle_of_a_large_file_write_nothing(world, small_batches):
    def spoil(out):
        out[2500]["身份证号"] = out[2500]["身份证号"][:-1] + ("1" if out[2500]["身份证号"][-1] != "1" else "2")
        out[4000]["楼栋"] = "9栋"
    data, _rows = big_file(change=spoil)
    before = counts()
    report = import_register(world.secretary, world.community, "big.xlsx", data, dry_run=False)
    assert not report.written
    assert [(e.row, e.column) for e in report.errors] == [(2502, "身份证号"), (4002, "楼栋")]
    assert "校验位" in report.errors[0].message and "9栋" in report.errors[1].message
    assert counts() == before


def test_a_failure_while_writing_leaves_nothing_written(world, small_batches, monkeypatch):
    data, _rows = big_file()
    calls = []

    def failing(values):
        calls.append(len(values))
        if len(calls) == 3:  # rows of two batches are already on their way to the database
            raise RuntimeError("disk full")
        return encrypt_many(values)

    monkeypatch.setattr(oneform, "encrypt_many", failing)
    before = counts()
    with pytest.raises(RuntimeError):
        import_register(world.secretary, world.community, "big.xlsx", data, dry_run=False)
    assert counts() == before and len(calls) == 3
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT).exists()


def test_batch_encryption_makes_fernet_tokens_byte_for_byte(settings, monkeypatch):
    values = ["", "1", "13900000000", "4207041980010100" + "1X", "x" * 15, "y" * 16, "z" * 17, "居民" * 20]
    ivs = bytes(random.Random(3).randrange(256) for _ in range(16 * len(values)))
    monkeypatch.setattr(crypto, "urandom", lambda n: ivs[:n])
    monkeypatch.setattr(crypto, "time", lambda: 1_700_000_000.7)
    tokens = encrypt_many(values)
    fernet = Fernet(settings.GONGZHI_DATA_KEYS[0].encode())
    assert tokens == [fernet._encrypt_from_parts(v.encode(), 1_700_000_000, ivs[16 * i:16 * i + 16]).decode()
                      for i, v in enumerate(values)]
    assert [decrypt(t) for t in tokens] == values
    assert encrypt_many([]) == []


def test_lookup_hash_is_the_keyed_hmac(settings):
    for value in ["42070419800101001x ", "13900000000", "长" * 100]:
        assert lookup_hash(value) == hmac.new(settings.GONGZHI_HASH_KEY.encode(), value.strip().upper().encode(),
                                              hashlib.sha256).hexdigest()
    settings.GONGZHI_HASH_KEY = "another key"
    assert lookup_hash("13900000000") == hmac.new(b"another key", b"13900000000", hashlib.sha256).hexdigest()
