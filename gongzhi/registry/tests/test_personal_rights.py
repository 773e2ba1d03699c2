"""Personal-information rights: the privacy notice, seeing and downloading one's data, anonymisation, minimised
exports."""

import io
import json
from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from openpyxl import load_workbook

from gongzhi.accounts.models import User
from gongzhi.appeals.models import Appeal
from gongzhi.core.models import AuditEvent
from gongzhi.core.testing import PASSWORD, add_activity
from gongzhi.deliberation.models import Ballot, CoSignature, Vote
from gongzhi.points.models import Entry
from gongzhi.registry import services
from gongzhi.registry.models import Person

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def w(world):
    return add_activity(world)


def test_privacy_notice_is_public_chinese_and_linked_from_login_and_footer(client, world):
    notice = client.get("/registry/privacy/")
    assert notice.status_code == 200
    text = notice.content.decode()
    assert "个人信息保护说明" in text and "身份证号" in text and "您的权利" in text
    assert 'href="/registry/privacy/"' in client.get("/accounts/login/").content.decode()
    client.force_login(world.grid_worker_a)
    home = client.get("/").content.decode()
    assert 'href="/registry/privacy/"' in home and 'href="/registry/my-data/"' in home


def test_resident_sees_everything_held_about_them_and_nothing_of_others(client, w):
    client.force_login(w.resident)
    page = client.get("/registry/my-data/").content.decode()
    for held in (w.person_a.id_number, "13800000001", "楼下夜里施工噪音", "义务劳动", "加装电梯", "是否加装电梯", "1单元"):
        assert held in page, held
    assert w.person_b.id_number not in page and "李四" not in page


def test_downloads_in_json_and_xlsx_are_audited(client, api_client, w):
    client.force_login(w.resident)
    data = json.loads(client.get("/registry/my-data/download.json").content)
    assert data["person"][0]["id_number"] == w.person_a.id_number
    assert [a["number"] for a in data["appeals"]] == [w.appeal.pk]
    assert data["points"][0]["amount"] == 20 and data["ballots"][0]["choice"] == "yes"
    assert data["signatures"][0]["topic"] == "加装电梯" and data["topics"][0]["title"] == "加装电梯"

    workbook = load_workbook(io.BytesIO(client.get("/registry/my-data/download.xlsx").content))
    assert {"登记信息", "我提出的诉求", "积分明细", "我的表决"} <= set(workbook.sheetnames)
    record = list(workbook["登记信息"].iter_rows(values_only=True))
    assert w.person_a.id_number in record[1]

    api_data = api_client.as_user(w.resident).get("/api/registry/me/data").json()
    assert api_data["person"][0]["name"] == "张三"
    downloads = AuditEvent.objects.filter(action="export", user=w.resident, object_id=str(w.person_a.pk))
    assert sorted(downloads.values_list("detail", flat=True)) == [
        "own personal data (json)", "own personal data (json)", "own personal data (xlsx)"]
    assert client.get("/registry/my-data/download.csv").status_code == 404


def depart(w, days_ago):
    services.record_departure(w.community_worker, w.person_a, departed="moved_away",
                              departed_on=timezone.localdate() - timedelta(days=days_ago))


def raw_person(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, id_number, id_number_hash, phone, phone_hash, notes FROM registry_person "
                       "WHERE id = %s", [pk])
        return cursor.fetchone()


def test_anonymise_removes_identity_and_keeps_every_count(client, w, settings):
    Person.objects.filter(pk=w.person_a.pk).update(notes="腿脚不便", tags="独居老人")
    depart(w, settings.GONGZHI_PERSON_RETENTION_DAYS + 1)
    counts = {m: m.objects.count() for m in (Person, Appeal, Ballot, CoSignature, Entry)}
    vote_result = services_close_vote(w)

    client.force_login(w.secretary)
    page = client.get(f"/registry/persons/{w.person_a.pk}/anonymise/")
    assert "无法撤销" in page.content.decode()
    response = client.post(f"/registry/persons/{w.person_a.pk}/anonymise/", {"reason": "迁出满三年", "confirm": "on"})
    assert response.status_code == 302

    person = Person.objects.get(pk=w.person_a.pk)
    assert person.name == f"已匿名居民{person.pk}" and person.anonymised_at is not None
    assert raw_person(person.pk) == (person.name, None, None, None, None, "")
    assert (person.birth_date, person.tags, person.gender) == (date(1980, 1, 1), "", "M")
    login = User.objects.get(pk=w.resident.pk)
    assert not login.is_active and login.person is None and login.phone is None
    assert login.username == f"anonymised-{login.pk}" and not login.check_password(PASSWORD)
    client.logout()
    refused = client.post("/accounts/login/", {"username": "13800000001", "password": PASSWORD})
    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    appeal = Appeal.objects.get(pk=w.appeal.pk)
    assert (appeal.reporter_person_id, appeal.contact_name, appeal.contact_phone) == (person.pk, "", None)
    assert {m: m.objects.count() for m in counts} == counts
    assert Vote.objects.get(pk=w.vote.pk).result == vote_result
    assert Ballot.objects.get(pk=w.ballot.pk).person_id in (None, person.pk)
    event = AuditEvent.objects.get(action="anonymise")
    assert (event.user, event.object_id, event.detail) == (w.secretary, str(person.pk), "迁出满三年")
    # Irreversible: no second time, no more edits.
    client.force_login(w.secretary)
    again = client.post(f"/registry/persons/{w.person_a.pk}/anonymise/", {"reason": "再次", "confirm": "on"})
    assert "已经匿名化" in again.content.decode()


def services_close_vote(w):
    from gongzhi.deliberation import services as deliberation
    return deliberation.close_vote(w.secretary, w.vote).result


def test_anonymise_is_refused_before_the_purpose_ends(client, api_client, w, settings):
    client.force_login(w.secretary)
    not_departed = client.post(f"/registry/persons/{w.person_a.pk}/anonymise/", {"reason": "x", "confirm": "on"})
    assert "迁出或去世" in not_departed.content.decode()
    depart(w, 10)
    kept = client.post(f"/registry/persons/{w.person_a.pk}/anonymise/", {"reason": "x", "confirm": "on"})
    until = (timezone.localdate() - timedelta(days=10) + timedelta(days=settings.GONGZHI_PERSON_RETENTION_DAYS))
    assert until.isoformat() in kept.content.decode()
    assert Person.objects.get(pk=w.person_a.pk).name == "张三"


def test_anonymise_needs_the_role_and_a_confirmation(client, api_client, w, settings):
    depart(w, settings.GONGZHI_PERSON_RETENTION_DAYS + 1)
    client.force_login(w.community_worker)
    assert client.get(f"/registry/persons/{w.person_a.pk}/anonymise/").status_code == 403
    assert AuditEvent.objects.filter(action="denied", user=w.community_worker,
                                     detail="registry.anonymise_person").exists()
    api = api_client.as_user(w.secretary)
    unconfirmed = api.post(f"/api/registry/persons/{w.person_a.pk}/anonymise", {"reason": "迁出"})
    assert unconfirmed.status_code == 400 and "无法撤销" in unconfirmed.json()["errors"]["confirm"][0]
    client.force_login(w.secretary)
    client.post(f"/registry/persons/{w.person_a.pk}/anonymise/", {"reason": "迁出"})  # box not ticked
    assert Person.objects.get(pk=w.person_a.pk).anonymised_at is None
    done = api.post(f"/api/registry/persons/{w.person_a.pk}/anonymise", {"reason": "迁出", "confirm": True})
    assert done.status_code == 200 and done.json()["id_number"] is None


def test_departure_rejects_future_dates_and_unknown_reasons(api_client, w):
    api = api_client.as_user(w.community_worker)
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    response = api.post(f"/api/registry/persons/{w.person_a.pk}/departure", {"departed": "deceased",
                                                                             "departed_on": future})
    assert response.status_code == 400 and "不能晚于今天" in response.json()["errors"]["departed_on"][0]
    assert api.post(f"/api/registry/persons/{w.person_a.pk}/departure", {"departed": "eloped"}).status_code == 400
    assert Person.objects.get(pk=w.person_a.pk).departed == ""


def test_masked_export_leaves_out_notes_and_anonymised_people(api_client, w, settings):
    Person.objects.filter(pk=w.person_b.pk).update(notes="低保复核中")
    depart(w, settings.GONGZHI_PERSON_RETENTION_DAYS + 1)
    services.anonymise_person(w.secretary, w.person_a, reason="迁出", confirmed=True)
    masked = api_client.as_user(w.community_worker).get(f"/api/registry/places/{w.community.pk}/export").content
    rows = list(load_workbook(io.BytesIO(masked)).active.iter_rows(values_only=True))
    flat = " ".join(str(v) for row in rows for v in row if v is not None)
    assert "低保复核中" not in flat and w.person_b.id_number not in flat and "13800000002" not in flat
    assert "李四" in flat and "已匿名" not in flat
    full = api_client.as_user(w.secretary).get(f"/api/registry/places/{w.community.pk}/export?full=true").content
    flat = " ".join(str(v) for row in load_workbook(io.BytesIO(full)).active.iter_rows(values_only=True)
                    for v in row if v is not None)
    assert "低保复核中" in flat and w.person_b.id_number in flat
