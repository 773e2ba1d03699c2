"""Personal data: encrypted at rest, exact lookup by keyed hash, masked in lists, full views logged."""

import pytest
from django.db import connection

from gongzhi.core.crypto import lookup_hash
from gongzhi.core.models import AuditEvent
from gongzhi.registry.models import Person

pytestmark = pytest.mark.django_db


def test_id_and_phone_are_encrypted_in_the_database(world):
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, phone FROM registry_person WHERE id = %s", [world.person_a.pk])
        raw_id, raw_phone = cursor.fetchone()
    assert world.person_a.id_number not in raw_id and "13800000001" not in raw_phone
    assert Person.objects.get(pk=world.person_a.pk).id_number == world.person_a.id_number


def test_exact_lookup_by_id_number(world):
    found = Person.objects.get(id_number_hash=lookup_hash(world.person_a.id_number.lower()))
    assert found == world.person_a


def test_lists_are_masked_and_full_view_is_logged(client, world):
    client.force_login(world.grid_worker_a)
    page = client.get(f"/registry/households/{world.household_a.pk}/").content.decode()
    assert world.person_a.id_number not in page and world.person_a.masked_id_number in page
    assert "13800000001" not in page
    assert not AuditEvent.objects.filter(action="view_personal").exists()
    full = client.get(f"/registry/persons/{world.person_a.pk}/").content.decode()
    assert world.person_a.id_number in full
    event = AuditEvent.objects.get(action="view_personal")
    assert (event.user, event.object_id) == (world.grid_worker_a, str(world.person_a.pk))


def test_api_full_record_is_logged(api_client, world):
    api = api_client.as_user(world.community_worker)
    household = api.get(f"/api/registry/households/{world.household_a.pk}").json()
    assert household["members"][0]["id_number"] == world.person_a.masked_id_number
    assert AuditEvent.objects.filter(action="view_personal").count() == 0
    person = api.get(f"/api/registry/persons/{world.person_a.pk}").json()
    assert person["id_number"] == world.person_a.id_number
    assert AuditEvent.objects.filter(action="view_personal", user=world.community_worker).count() == 1


def test_bad_person_input_gets_chinese_errors_and_writes_nothing(api_client, world):
    api = api_client.as_user(world.community_worker)
    before = Person.objects.count()
    response = api.post(f"/api/registry/households/{world.household_a.pk}/persons",
                        {"name": "王五", "id_number": "420704198001010010", "phone": "123"})
    assert response.status_code == 400
    body = response.json()
    assert "校验位" in body["errors"]["id_number"][0]
    assert "手机号" in body["errors"]["phone"][0]
    assert Person.objects.count() == before


def test_duplicate_id_number_rejected(api_client, world):
    api = api_client.as_user(world.community_worker)
    response = api.post(f"/api/registry/households/{world.household_b.pk}/persons",
                        {"name": "张三", "id_number": world.person_a.id_number})
    assert response.status_code == 400
    assert "已登记" in response.json()["detail"]
