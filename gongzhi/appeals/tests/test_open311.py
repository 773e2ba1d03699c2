"""Open311 GeoReport v2: requests made as the specification writes them, responses checked for its shape."""

import json
import re
import threading
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from io import StringIO
from urllib.parse import urlencode

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from gongzhi.accounts.models import ApiToken
from gongzhi.appeals import services
from gongzhi.appeals.models import Appeal, Category

BASE = "/open311/v2"
SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"]
W3 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")


@pytest.fixture
def key(w):
    return ApiToken.issue(w.resident, name="open311")


def xml(response, status=200):
    assert response.status_code == status, response.content.decode()
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def as_json(response, status=200):
    assert response.status_code == status, response.content.decode()
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(response.content)


def post(client, fmt="xml", headers=None, **fields):
    """POST requests.[fmt] form-encoded, exactly as the spec's example request."""
    body = urlencode({k: v for k, v in fields.items() if v is not None})
    return client.post(f"{BASE}/requests.{fmt}", body, headers=headers or {},
                       content_type="application/x-www-form-urlencoded; charset=utf-8")


def spec_fields(api_key, **over):
    fields = {"api_key": api_key, "service_code": "noise", "lat": "30.395", "long": "114.885",
              "description": "楼下工地夜里施工，吵得老人睡不着", "attribute[kind]": "help"}
    fields.update(over)
    return fields


def error_texts(root):
    assert root.tag == "errors"
    return [(e.findtext("code"), e.findtext("description")) for e in root.findall("error")]


# ---- discovery and services

def test_discovery_in_both_formats(client, w):
    root = xml(client.get(f"{BASE}/discovery.xml"))
    assert [c.tag for c in root] == ["changeset", "contact", "key_service", "endpoints"]
    endpoint = root.find("endpoints/endpoint")
    assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint.findtext("url") == "http://testserver/open311/v2"
    assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]
    assert W3.match(root.findtext("changeset"))
    body = as_json(client.get(f"{BASE}/discovery.json"))
    assert body["endpoints"][0]["formats"] == ["text/xml", "application/json"]
    assert body["endpoints"][0]["url"] == "http://testserver/open311/v2"


def test_services_are_the_active_leaf_categories(client, w):
    root = xml(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    services_ = {s.findtext("service_code"): s for s in root.findall("service")}
    assert {"noise", "garbage", "water", "property"} <= set(services_)
    assert "environment" not in services_ and "utilities" not in services_  # groups, not services
    garbage = services_["garbage"]
    assert [c.tag for c in garbage] == SERVICE_FIELDS
    assert garbage.findtext("service_name") == "垃圾清运" and garbage.findtext("group") == "环境卫生"
    assert garbage.findtext("metadata") == "true" and garbage.findtext("type") == "realtime"
    assert "168" in garbage.findtext("description")
    Category.objects.filter(code="garbage").update(active=False)
    listed = [s["service_code"] for s in as_json(client.get(f"{BASE}/services.json"))]
    assert "garbage" not in listed and "noise" in listed


def test_service_definition_lists_kind_and_urgency(client, w):
    root = xml(client.get(f"{BASE}/services/noise.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "noise"
    attrs = {a.findtext("code"): a for a in root.findall("attributes/attribute")}
    kind, urgency = attrs["kind"], attrs["urgency"]
    assert [c.tag for c in kind] == ["variable", "code", "datatype", "required", "datatype_description", "order",
                                     "description", "values"]
    assert kind.findtext("datatype") == "singlevaluelist" and kind.findtext("required") == "true"
    assert [v.findtext("key") for v in kind.findall("values/value")] == Appeal.Kind.values
    assert urgency.findtext("required") == "false"
    assert [v.findtext("key") for v in urgency.findall("values/value")] == ["normal", "urgent", "danger"]
    assert sorted(int(a.findtext("order")) for a in attrs.values()) == [1, 2, 3]
    body = as_json(client.get(f"{BASE}/services/noise.json", headers={"Accept-Language": "en"}))
    kind = body["attributes"][0]
    assert kind["variable"] is True and kind["required"] is True and kind["datatype_description"] is None
    assert {"key": "help", "name": "Request for help"} in kind["values"]


@pytest.mark.parametrize("code", ["nonexistent", "environment"])
def test_unknown_service_is_404(client, w, code):
    [(status, text)] = error_texts(xml(client.get(f"{BASE}/services/{code}.xml"), 404))
    assert status == "404" and code in text


# ---- POST requests

def test_post_exactly_as_the_spec_example(w, key):
    client = Client(enforce_csrf_checks=True)  # an outside client has no CSRF token; the api_key is its credential
    r = post(client, **spec_fields(key, **{
        "jurisdiction_id": "testserver", "address_string": "滨湖路1号1栋", "email": "a@example.com",
        "device_id": "tt222111", "account_id": "123456", "first_name": "三", "last_name": "张",
        "phone": "13800000001", "media_url": "http://img.example.com/2212426634.jpg",
        "attribute[WHISPAWN]": "123456", "attribute[urgency]": "urgent"}))
    root = xml(r)
    assert root.tag == "service_requests"
    [request] = root.findall("request")
    assert [c.tag for c in request] == ["service_request_id", "service_notice", "account_id"]
    assert request.find("token") is None and request.find("account_id").text is None
    appeal = Appeal.objects.get(pk=int(request.findtext("service_request_id")))
    assert appeal.source == Appeal.Source.API and appeal.reporter == w.resident
    assert appeal.kind == "help" and appeal.urgency == "urgent" and appeal.category.code == "noise"
    assert appeal.place == w.grid_a and appeal.address == "滨湖路1号1栋" and appeal.latitude == 30.395
    assert appeal.contact_name == "张三" and appeal.contact_phone == "13800000001"
    assert "http://img.example.com/2212426634.jpg" in appeal.description
    assert "a@example.com" not in appeal.description  # not stored, so never published
    assert timezone.localtime(appeal.resolve_due).strftime("%Y-%m-%d %H:%M") in request.findtext("service_notice")


def test_post_json_and_defaults(client, w, key):
    body = as_json(post(client, "json", **spec_fields(key, first_name="John", last_name="Smith")))
    assert isinstance(body, list) and set(body[0]) == {"service_request_id", "service_notice", "account_id"}
    appeal = Appeal.objects.get(pk=body[0]["service_request_id"])
    assert appeal.urgency == "normal" and appeal.contact_name == "John Smith"
    assert appeal.title == appeal.description[:30]


def test_address_string_alone_uses_the_reporters_household(client, w, key):
    root = xml(post(client, **spec_fields(key, lat=None, long=None, address_string="1栋楼道")))
    appeal = Appeal.objects.get(pk=int(root.findtext("request/service_request_id")))
    assert appeal.place == w.unit_a and appeal.latitude is None and appeal.address == "1栋楼道"


@pytest.mark.parametrize("api_key", [None, "", "not-a-key"])
def test_post_without_a_valid_key_is_403(client, w, api_key):
    [(status, text)] = error_texts(xml(post(client, **spec_fields(api_key)), 403))
    assert status == "403" and "api_key" in text
    assert not Appeal.objects.exists()


def test_expired_key_is_403(client, w):
    expired = ApiToken.issue(w.resident, lifetime=timedelta(seconds=-1))
    assert as_json(post(client, "json", **spec_fields(expired)), 403)[0]["code"] == 403


@pytest.mark.parametrize("over, field", [
    ({"service_code": ""}, "service_code"),
    ({"description": ""}, "description"),
    ({"description": "x" * 4001}, "description"),
    ({"lat": None, "long": None}, "lat"),
    ({"lat": None, "long": None, "address_id": "545483"}, "address_id"),
    ({"lat": "north"}, "lat"),
    ({"lat": "95"}, "lat"),
    ({"long": None}, "lat"),                       # one without the other
    ({"lat": "31.9", "long": "117.2"}, "lat/long"),  # outside every grid
    ({"attribute[kind]": None}, "attribute[kind]"),
    ({"attribute[kind]": "gossip"}, "attribute[kind]"),
    ({"attribute[urgency]": "panic"}, "attribute[urgency]"),
    ({"phone": "12345"}, "phone"),
    ({"media_url": "javascript:alert(1)"}, "media_url"),
    ({"description": "bad\x00byte"}, "description"),
])
def test_bad_input_is_400_with_the_field_named(client, w, key, over, field):
    errors = error_texts(xml(post(client, **spec_fields(key, **over)), 400))
    assert all(code == "400" for code, _ in errors)
    assert any(field in text for _, text in errors), errors
    assert not Appeal.objects.exists()


def test_unknown_service_code_on_post_is_404(client, w, key):
    errors = error_texts(xml(post(client, **spec_fields(key, service_code="potholes")), 404))
    assert errors[0][0] == "404" and not Appeal.objects.exists()


def test_several_errors_come_back_together(client, w, key):
    errors = as_json(post(client, "json", **spec_fields(key, description="", **{"attribute[kind]": "x"})), 400)
    assert len(errors) == 2 and {e["code"] for e in errors} == {400}


def test_error_text_is_chinese_by_default_and_english_on_request(client, w, key):
    zh = error_texts(xml(post(client, **spec_fields(key, lat=None, long=None)), 400))[0][1]
    en = error_texts(xml(post(client, headers={"Accept-Language": "en"}, **spec_fields(key, lat=None, long=None)),
                         400))[0][1]
    assert re.search("[\u4e00-\u9fff]", zh) and en == "Give the location: lat and long, or address_string."
    forbidden = as_json(post(client, "json", headers={"Accept-Language": "en"}, **spec_fields("nope")), 403)
    assert forbidden[0]["description"] == "Missing or invalid api_key."


def test_retry_with_the_same_idempotency_key_creates_one_appeal(client, w, key):
    first = xml(post(client, headers={"Idempotency-Key": "app-7f3a"}, **spec_fields(key)))
    again = xml(post(client, headers={"Idempotency-Key": "app-7f3a"}, **spec_fields(key)))
    request_id = first.findtext("request/service_request_id")
    assert again.findtext("request/service_request_id") == request_id and Appeal.objects.count() == 1
    # The key is the token: tokens/{token} maps it to the request.
    token = xml(client.get(f"{BASE}/tokens/app-7f3a.xml")).find("request")
    assert [c.tag for c in token] == ["service_request_id", "token"]
    assert token.findtext("service_request_id") == request_id and token.findtext("token") == "app-7f3a"
    # Another account cannot take over someone else's key.
    other = ApiToken.issue(w.resident_b)
    xml(post(client, headers={"Idempotency-Key": "app-7f3a"}, **spec_fields(other)), 400)
    assert Appeal.objects.count() == 1


def test_token_without_a_key_is_the_request_number(client, w, key):
    request_id = as_json(post(client, "json", **spec_fields(key)))[0]["service_request_id"]
    assert as_json(client.get(f"{BASE}/tokens/{request_id}.json")) == [
        {"service_request_id": request_id, "token": str(request_id)}]
    assert error_texts(xml(client.get(f"{BASE}/tokens/nothing-here.xml"), 404))[0][0] == "404"


@pytest.mark.django_db(transaction=True)
def test_parallel_retries_create_one_appeal(w):
    """Six copies of one POST at once (a client retrying on a flaky line) make one appeal (PostgreSQL)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite's in-memory test database cannot be shared between threads")
    from gongzhi.appeals.defaults import seed
    seed(Category)
    key, barrier, ids, crashes = ApiToken.issue(w.resident), threading.Barrier(6), [], []

    def attempt():
        try:
            barrier.wait()
            r = post(Client(), "json", headers={"Idempotency-Key": "burst-1"}, **spec_fields(key))
            ids.append((r.status_code, json.loads(r.content)[0].get("service_request_id")))
        except Exception as exc:  # noqa: BLE001 - reported below
            crashes.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not crashes, crashes
    assert Appeal.objects.count() == 1
    assert ids == [(200, Appeal.objects.get().pk)] * 6


# ---- GET requests

def _appeal(w, cat_code="noise", days_ago=0, **kw):
    data = dict(kind="complaint", category=Category.objects.get(code=cat_code), description="广场舞音响太响",
                latitude=30.395, longitude=114.885, address="滨湖路广场")
    data.update(kw)
    appeal = services.submit(w.resident, **data)
    if days_ago:
        Appeal.objects.filter(pk=appeal.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return appeal


def _ids(client, query=""):
    return [r["service_request_id"] for r in as_json(client.get(f"{BASE}/requests.json{query}"))]


def _close(w, appeal, resolution="已劝导，音量已调低"):
    services.accept(w.grid_worker_a, appeal)
    services.resolve(w.grid_worker_a, appeal, resolution)
    return services.rate(w.resident, appeal, "satisfied")


def test_get_requests_shape_and_no_personal_data(client, w):
    appeal = _appeal(w, contact_name="王五", contact_phone="13912345678")
    root = xml(client.get(f"{BASE}/requests.xml"))
    assert root.tag == "service_requests"
    [request] = root.findall("request")
    assert [c.tag for c in request] == REQUEST_FIELDS
    assert request.findtext("service_request_id") == str(appeal.pk) and request.findtext("status") == "open"
    assert request.findtext("service_code") == "noise" and request.findtext("service_name") == "噪音"
    assert request.findtext("agency_responsible") == "第一网格"
    assert request.findtext("address") == "滨湖路广场"
    assert float(request.findtext("lat")) == 30.395 and float(request.findtext("long")) == 114.885
    assert "第一网格" in request.findtext("status_notes")
    text = client.get(f"{BASE}/requests.xml").content.decode() + client.get(f"{BASE}/requests.json").content.decode()
    for secret in ("王五", "13912345678", "13800000001", "张三", "resident"):
        assert secret not in text


def test_internal_notes_stay_internal(client, w):
    appeal = _appeal(w)
    services.accept(w.grid_worker_a, appeal)
    services.hold(w.grid_worker_a, appeal, "等王五下班回电 13912345678")
    [request] = as_json(client.get(f"{BASE}/requests/{appeal.pk}.json"))
    assert request["status"] == "open" and "暂停" in request["status_notes"]
    assert "王五" not in json.dumps(request, ensure_ascii=False)


def test_times_are_timezone_qualified_and_expected_is_the_due_time(client, w):
    appeal = _appeal(w)
    [request] = as_json(client.get(f"{BASE}/requests/{appeal.pk}.json"))
    for field in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert W3.match(request[field]) and request[field].endswith("+08:00"), request[field]
    assert datetime.fromisoformat(request["expected_datetime"]) == appeal.resolve_due.replace(microsecond=0)
    assert datetime.fromisoformat(request["requested_datetime"]) == appeal.created_at.replace(microsecond=0)


def test_closed_appeal_is_closed_with_status_notes(client, w):
    appeal = _close(w, _appeal(w))
    root = xml(client.get(f"{BASE}/requests/{appeal.pk}.xml"))
    request = root.find("request")
    assert request.findtext("status") == "closed"
    assert "已劝导，音量已调低" in request.findtext("status_notes") and "满意" in request.findtext("status_notes")
    assert datetime.fromisoformat(request.findtext("updated_datetime")) == appeal.closed_at.replace(microsecond=0)


def test_rejected_and_merged_are_closed_with_the_reason(client, w):
    first, dup, spam = _appeal(w), _appeal(w), _appeal(w)
    services.merge(w.grid_worker_a, dup, first)
    services.reject(w.grid_worker_a, spam, "不属于受理范围")
    rows = {r["service_request_id"]: r for r in as_json(client.get(f"{BASE}/requests.json",
                                                                    headers={"Accept-Language": "en"}))}
    assert rows[first.pk]["status"] == "open"
    assert rows[dup.pk]["status"] == "closed" and str(first.pk) in rows[dup.pk]["status_notes"]
    assert rows[spam.pk]["status"] == "closed" and rows[spam.pk]["status_notes"] == "Not accepted: 不属于受理范围"


def test_unsatisfied_rating_reopens_the_request(client, w):
    appeal = _appeal(w)
    services.accept(w.grid_worker_a, appeal)
    services.resolve(w.grid_worker_a, appeal, "已处理")
    assert _ids(client, "?status=closed") == [appeal.pk]
    services.rate(w.resident, appeal, "unsatisfied")
    assert _ids(client, "?status=open") == [appeal.pk] and _ids(client, "?status=closed") == []


def test_request_filters(client, w):
    noise_open = _appeal(w)
    garbage_closed = _close(w, _appeal(w, "garbage"))
    old = _appeal(w, days_ago=40)
    ancient = _appeal(w, days_ago=100)
    assert _ids(client) == [garbage_closed.pk, noise_open.pk, old.pk]  # newest first, last 90 days
    assert _ids(client, "?status=open") == [noise_open.pk, old.pk]
    assert _ids(client, "?status=closed") == [garbage_closed.pk]
    assert _ids(client, "?status=open,closed") == [garbage_closed.pk, noise_open.pk, old.pk]
    assert _ids(client, "?service_code=garbage") == [garbage_closed.pk]
    assert _ids(client, "?service_code=garbage,noise&status=open") == [noise_open.pk, old.pk]
    start = (timezone.now() - timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (timezone.now() - timedelta(days=35)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _ids(client, f"?start_date={start}&end_date={end}") == [old.pk, ancient.pk]
    # An unencoded "+08:00" offset arrives as a space and still counts.
    local_end = timezone.localtime(timezone.now() - timedelta(days=35)).strftime("%Y-%m-%dT%H:%M:%S+08:00")
    assert _ids(client, f"?end_date={local_end}") == [old.pk, ancient.pk]
    # service_request_id overrides every other filter.
    assert _ids(client, f"?service_request_id={ancient.pk},{garbage_closed.pk}&status=open") == [
        garbage_closed.pk, ancient.pk]


@pytest.mark.parametrize("query, field", [
    ("?status=pending", "status"),
    ("?start_date=yesterday", "start_date"),
    ("?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", "90"),
    ("?start_date=2026-06-01T00:00:00Z&end_date=2026-01-01T00:00:00Z", "end_date"),
    ("?service_request_id=1,abc", "service_request_id"),
])
def test_bad_filters_are_400(client, w, query, field):
    errors = as_json(client.get(f"{BASE}/requests.json{query}", headers={"Accept-Language": "en"}), 400)
    assert errors[0]["code"] == 400 and field in errors[0]["description"], errors


def test_at_most_1000_requests(client, w):
    cat = Category.objects.get(code="noise")
    Appeal.objects.bulk_create([Appeal(kind="report", category=cat, title="t", description="d", place=w.grid_a,
                                       handler_place=w.grid_a) for _ in range(1001)])
    assert len(as_json(client.get(f"{BASE}/requests.json"))) == 1000


def test_unknown_request_and_resource_are_404(client, w):
    assert error_texts(xml(client.get(f"{BASE}/requests/999999.xml"), 404))[0][0] == "404"
    assert as_json(client.get(f"{BASE}/requests/abc.json"), 404)[0]["code"] == 404
    for path in ("services", "services.html", "requests/1", "nothing.xml"):
        assert error_texts(xml(client.get(f"{BASE}/{path}"), 404))


def test_nul_bytes_are_refused_not_a_crash(client, w, key):
    """PostgreSQL cannot store or compare a NUL; such input must get an error document, never a 500."""
    assert error_texts(xml(post(client, **spec_fields(key, service_code="noise\x00")), 404))[0][0] == "404"
    assert error_texts(xml(post(client, **spec_fields(key, first_name="\x00")), 400))[0][0] == "400"
    assert as_json(client.get(f"{BASE}/requests.json?service_code=noise%00"), 400)[0]["code"] == 400
    assert as_json(client.get(f"{BASE}/tokens/a%00b.json"), 404)[0]["code"] == 404
    assert as_json(client.get(f"{BASE}/tokens/{'k' * 81}.json"), 404)[0]["code"] == 404
    assert not Appeal.objects.exists()


def test_wrong_method_is_refused_with_an_error_document(client, w):
    r = client.delete(f"{BASE}/requests.xml")
    assert error_texts(xml(r, 405))[0][0] == "405" and r["Allow"] == "GET, POST"
    xml(client.post(f"{BASE}/services.xml"), 405)


# ---- jurisdiction

def test_jurisdiction_defaults_to_the_host(client, w):
    assert xml(client.get(f"{BASE}/services.xml?jurisdiction_id=testserver")).tag == "services"
    [(status, text)] = error_texts(xml(client.get(f"{BASE}/services.xml?jurisdiction_id=sfgov.org"), 404))
    assert status == "404" and "sfgov.org" in text


def test_configured_jurisdiction(client, w, key, settings):
    settings.GONGZHI_OPEN311_JURISDICTION = "ezhou.gov.cn"
    assert xml(client.get(f"{BASE}/requests.xml?jurisdiction_id=www.ezhou.gov.cn")).tag == "service_requests"
    assert xml(client.get(f"{BASE}/services/noise.xml?jurisdiction_id=")).tag == "service_definition"  # optional
    xml(client.get(f"{BASE}/services.xml?jurisdiction_id=testserver"), 404)
    xml(post(client, **spec_fields(key, jurisdiction_id="city.gov")), 404)
    assert xml(post(client, **spec_fields(key, jurisdiction_id="ezhou.gov.cn"))).tag == "service_requests"
    assert Appeal.objects.count() == 1


# ---- issuing keys

def test_open311_key_command_issues_a_working_key(client, w):
    out = StringIO()
    call_command("open311_key", "--user", "resident_b", "--days", "30", stdout=out, stderr=StringIO())
    issued = out.getvalue().strip()
    root = xml(post(client, **spec_fields(issued, lat="30.395", long="114.895")))
    appeal = Appeal.objects.get(pk=int(root.findtext("request/service_request_id")))
    assert appeal.reporter == w.resident_b and appeal.place == w.grid_b
    with pytest.raises(CommandError):
        call_command("open311_key", "--user", "nobody", stdout=StringIO())
    call_command("open311_key", "--user", "resident_b", "--revoke", stdout=StringIO())
    xml(post(client, **spec_fields(issued, lat="30.395", long="114.895")), 403)
    assert Appeal.objects.count() == 1
