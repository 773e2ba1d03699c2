"""One form (一表通): row-by-row errors write nothing; the same file twice changes nothing; changes update."""

import csv
import io

import pytest
from django.db import connection
from openpyxl import Workbook, load_workbook

from gongzhi.core.crypto import lookup_hash
from gongzhi.core.testing import valid_id
from gongzhi.registry.models import Household, Person
from gongzhi.registry.oneform import COLUMNS

pytestmark = pytest.mark.django_db
HEADERS = [h for _k, h, _r in COLUMNS]


def xlsx(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADERS)
    for row in rows:
        ws.append([row.get(h, "") for h in HEADERS])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def good_rows():
    return [
        {"网格": "第一网格", "楼栋": "1栋", "单元": "1单元", "房号/门牌号": "102", "建筑面积(㎡)": 76.5, "居住性质": "自住",
         "姓名": "赵一", "与户主关系": "户主", "身份证号": valid_id(seq="101"), "手机号": "13911110001", "政治面貌": "中共党员"},
        {"网格": "第一网格", "楼栋": "1栋", "单元": "1单元", "房号/门牌号": "102",
         "姓名": "钱二", "与户主关系": "配偶", "身份证号": valid_id(seq="202")},
        {"网格": "第二网格", "楼栋": "2栋", "单元": "1单元", "房号/门牌号": "301", "建筑面积(㎡)": "90",
         "姓名": "孙三", "与户主关系": "户主", "身份证号": valid_id(born="19500505", seq="303"), "特殊人群": "独居老人"},
    ]



def run_import(api, world, data, name="one.xlsx", dry_run=False):
    from django.core.files.uploadedfile import SimpleUploadedFile
    upload = SimpleUploadedFile(name, data)
    return api.post(f"/api/registry/places/{world.community.pk}/import",
                    {"file": upload, "dry_run": "true" if dry_run else "false"})


def test_good_file_imports_then_is_idempotent(api_client, world):
    api = api_client.as_user(world.community_worker)
    data = xlsx(good_rows())
    dry = run_import(api, world, data, dry_run=True).json()
    assert dry["ok"] and not dry["written"] and dry["persons_created"] == 3 and dry["households_created"] == 2
    assert not Person.objects.filter(name="赵一").exists()
    first = run_import(api, world, data).json()
    assert first["written"] and first["persons_created"] == 3
    household = Household.objects.get(place=world.unit_a, door_no="102")
    assert household.members.count() == 2 and float(household.area_m2) == 76.5
    # written in bulk: encrypted at rest, found by the lookup hashes like a person saved one by one
    head = Person.objects.get(id_number_hash=lookup_hash(valid_id(seq="101")))
    assert head.phone == "13911110001" and head == Person.objects.get(phone_hash=lookup_hash("13911110001"))
    assert head.household == household and head.gender and head.birth_date and head.departed == ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, phone FROM registry_person WHERE id = %s", [head.pk])
        stored = cursor.fetchone()
    assert valid_id(seq="101") not in stored and "13911110001" not in stored and stored[0].startswith("gAAAA")
    counts = (Household.objects.count(), Person.objects.count())
    second = run_import(api, world, data).json()
    assert second["persons_created"] == 0 and second["persons_updated"] == 0 and second["unchanged"] == 3
    assert second["households_created"] == 0 and second["households_updated"] == 0
    assert (Household.objects.count(), Person.objects.count()) == counts


def test_changed_row_updates_its_record(api_client, world):
    api = api_client.as_user(world.community_worker)
    rows = good_rows()
    run_import(api, world, xlsx(rows))
    rows[2]["手机号"] = "13922223333"
    report = run_import(api, world, xlsx(rows)).json()
    assert report["persons_updated"] == 1 and report["unchanged"] == 2
    assert Person.objects.get(name="孙三").phone == "13922223333"


def test_bad_file_reports_every_row_and_writes_nothing(api_client, world):
    api = api_client.as_user(world.community_worker)
    rows = good_rows() + [
        {"楼栋": "9栋", "房号/门牌号": "1", "姓名": "周四", "与户主关系": "户主", "身份证号": valid_id(seq="404")},
        {"网格": "第一网格", "楼栋": "1栋", "房号/门牌号": "103", "姓名": "吴五", "与户主关系": "户主",
         "身份证号": valid_id(seq="505")[:-1] + ("0" if valid_id(seq="505")[-1] != "0" else "1")},
        {"网格": "第一网格", "楼栋": "1栋", "房号/门牌号": "104", "姓名": "郑六", "与户主关系": "户主",
         "身份证号": valid_id(seq="101")},
        {"网格": "第一网格", "楼栋": "1栋", "房号/门牌号": "105", "与户主关系": "户主", "身份证号": valid_id(seq="606")},
    ]
    before = (Household.objects.count(), Person.objects.count())
    report = run_import(api, world, xlsx(rows)).json()
    assert not report["ok"] and not report["written"]
    by_row = {e["row"]: e for e in report["errors"]}
    assert "楼栋" in by_row[5]["message"] and by_row[5]["column"] == "楼栋"
    assert "校验位" in by_row[6]["message"]
    assert "重复" in by_row[7]["message"] and "2" in by_row[7]["message"]
    assert by_row[8]["column"] == "姓名" and "必填" in by_row[8]["message"]
    assert (Household.objects.count(), Person.objects.count()) == before


def test_csv_in_gbk_and_missing_columns(api_client, world):
    api = api_client.as_user(world.community_worker)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    row = good_rows()[0]
    writer.writerow([row.get(h, "") for h in HEADERS])
    report = run_import(api, world, out.getvalue().encode("gb18030"), name="one.csv").json()
    assert report["written"] and report["persons_created"] == 1
    response = run_import(api, world, "姓名,身份证号\n张,1\n".encode(), name="bad.csv")
    assert response.status_code == 400 and "缺少" in response.json()["detail"]
    response = run_import(api, world, b"not a spreadsheet", name="x.xlsx")
    assert response.status_code == 400


def test_grid_worker_cannot_import(api_client, world):
    response = run_import(api_client.as_user(world.grid_worker_a), world, xlsx(good_rows()))
    assert response.status_code == 403


def test_export_masked_by_default_full_for_secretary(api_client, world):
    worker = api_client.as_user(world.community_worker)
    data = worker.get(f"/api/registry/places/{world.community.pk}/export").content
    rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    assert rows[0] == tuple(HEADERS)
    ids = {r[HEADERS.index("身份证号")] for r in rows[1:]}
    assert world.person_a.masked_id_number in ids and world.person_a.id_number not in ids
    assert worker.get(f"/api/registry/places/{world.community.pk}/export?full=true").status_code == 403
    full = api_client.as_user(world.secretary).get(f"/api/registry/places/{world.community.pk}/export?full=true").content
    ids = {r[HEADERS.index("身份证号")] for r in load_workbook(io.BytesIO(full)).active.iter_rows(values_only=True)}
    assert world.person_a.id_number in ids


def test_export_reimports_cleanly(api_client, world):
    secretary = api_client.as_user(world.secretary)
    data = secretary.get(f"/api/registry/places/{world.community.pk}/export?full=true").content
    report = run_import(secretary, world, data).json()
    assert report["ok"], report["errors"]
    assert (report["unchanged"], report["persons_created"], report["persons_updated"]) == (2, 0, 0), report


def _csv(rows, encoding="utf-8"):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    for row in rows:
        writer.writerow([row.get(h, "") for h in HEADERS])
    return out.getvalue().encode(encoding)


@pytest.mark.parametrize("name, data, message", [
    ("one.xlsx", bytes(range(256)) * 40, "不是可读取的 .xlsx"),                     # random bytes named .xlsx
    ("one.xlsx", b"PK\x03\x04" + b"\x00" * 200, "不是可读取的 .xlsx"),              # a broken zip
    ("one.csv", "网格,楼栋\n".encode("utf-16"), "UTF-8"),                            # UTF-16: neither UTF-8 nor GBK
    ("one.csv", _csv(good_rows()).replace("赵一".encode(), "赵\x00一".encode()), "NUL"),  # a NUL in a cell
    ("one.csv", _csv(good_rows()).replace("赵一".encode(), b"x" * 200_000), "无法读取"),  # a cell over csv's limit
    ("one.pdf", b"%PDF-1.4", ".xlsx"),
], ids=["random-bytes", "zip-not-xlsx", "utf-16-csv", "nul-in-csv", "huge-csv-cell", "pdf"])
def test_malformed_spreadsheets_are_refused_clearly_and_write_nothing(api_client, world, name, data, message):
    """Found by fuzzing uploads: a NUL in a CSV cell reached PostgreSQL, and an over-long cell was a 500."""
    import zipfile

    if name == "one.xlsx" and data.startswith(b"PK"):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:  # a real zip, but not a spreadsheet
            archive.writestr("readme.txt", "not a workbook")
        data = out.getvalue()
    before = (Household.objects.count(), Person.objects.count())
    response = run_import(api_client.as_user(world.community_worker), world, data, name=name)
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]
    assert (Household.objects.count(), Person.objects.count()) == before


def test_import_over_the_size_limit_is_refused_through_the_api(api_client, world, settings):
    settings.GONGZHI_IMPORT_MAX_BYTES = 1000
    response = run_import(api_client.as_user(world.community_worker), world, xlsx(good_rows()))
    assert response.status_code == 400
    assert response.json()["detail"] == "文件超过 20 MB，请拆分后导入。"
    assert not Person.objects.filter(name="赵一").exists()


@pytest.mark.parametrize("name, data, message", [
    ("one.xlsx", b"PK\x03\x04 truncated", "不是可读取的 .xlsx"),
    ("one.csv", _csv(good_rows()).replace("赵一".encode(), "赵\x00一".encode()), "NUL"),
    ("big.xlsx", None, "文件超过 20 MB"),
], ids=["broken-zip", "nul-in-csv", "too-big"])
def test_import_page_shows_the_chinese_reason_and_writes_nothing(client, world, settings, name, data, message):
    from django.core.files.uploadedfile import SimpleUploadedFile

    if data is None:
        settings.GONGZHI_IMPORT_MAX_BYTES = 1000
        data = xlsx(good_rows())
    client.force_login(world.community_worker)
    before = (Household.objects.count(), Person.objects.count())
    response = client.post("/registry/import/", {"community": world.community.pk,
                                                 "file": SimpleUploadedFile(name, data)})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert (Household.objects.count(), Person.objects.count()) == before
    assert not client.session.get("import_stash")
