"""Schemathesis against the live OpenAPI schema, and hypothesis against Open311: no server errors, only declared answers."""

import json
import xml.etree.ElementTree as ET
from urllib.parse import quote, quote_from_bytes

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from gongzhi.accounts.models import ApiToken
from gongzhi.appeals.defaults import seed
from gongzhi.appeals.models import Category
from gongzhi.core.testing import add_activity, build_world

# Rate limits would turn the fuzzer's burst into 429s and hide what the endpoints do: off for this module only.
NO_LIMITS = override_settings(GONGZHI_RATE_LIMITS=[])
# Bounded (about a minute per login on two cores) and reproducible: the same cases on every run.
FUZZ = settings(max_examples=5, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
# No 5xx, and only the status codes, content types and bodies the schema declares.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _world():
    """The test world with records in every app, so that ids the fuzzer tries can exist."""
    seed(Category)  # a transactional test's flush removed the migration's rows
    world = build_world()
    add_activity(world)
    return world


@pytest.fixture(params=["community_worker", "resident"])
def fuzz_login(request, transactional_db):
    """Every call is made as a realistic login with an API token: a community worker (staff, whose calls reach
    the services) or a resident (whose calls mostly meet the permission checks)."""
    world = _world()
    return request.param, {"Authorization": f"Bearer {ApiToken.issue(getattr(world, request.param))}"}


@pytest.fixture
def api_schema(fuzz_login):
    """The schema as the running app serves it at /api/openapi.json."""
    with NO_LIMITS:
        app = WSGIHandler()  # middleware (with the rate limiter) is built here, under the override
        schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
        coverage = schema.config.phases.coverage
        # Methods a path does not have get Django's 405 before any of our code runs: not worth the time.
        coverage.unexpected_methods = set()
        # The boundary-value phase (thousands of cases) runs as the worker; the resident gets random cases only.
        coverage.enabled = fuzz_login[0] == "community_worker"
        yield schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@FUZZ
def test_api_answers_every_input_as_declared(case, fuzz_login):
    case.call_and_validate(headers=fuzz_login[1], checks=CHECKS)


# ---- Open311 GeoReport v2 (not in the OpenAPI schema): arbitrary text and bytes in every parameter

OPEN311 = "/open311/v2"
# jurisdiction_id is fuzzed on the single resources only: any value but ours ends a request before the rest is read.
SEARCH_PARAMS = ["service_request_id", "service_code", "start_date", "end_date", "status"]
POST_PARAMS = ["service_code", "lat", "long", "address_string", "address_id", "description", "first_name",
               "last_name", "phone", "email", "device_id", "account_id", "media_url", "attribute[kind]",
               "attribute[urgency]", "attribute[title]"]
# Values a client would send, so that some cases get past the first check and reach the services.
PLAUSIBLE = ["noise", "garbage", "30.395", "114.885", "-91", "1e309", "nan", "楼下工地夜里施工", "complaint",
             "danger", "13800000001", "2026-11-01T00:00:00+08:00", "2026-11-01", "open,closed", "1,2,3",
             "https://example.cn/p.jpg", "", " ", "0", "9" * 30]


def _value():
    """One parameter's value as raw bytes: plausible, any text (NUL and control characters included), or not UTF-8."""
    text = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
    return st.one_of(st.sampled_from(PLAUSIBLE), text, st.text(st.characters(max_codepoint=0x1f), max_size=5),
                     st.binary(max_size=40)).map(lambda v: v if isinstance(v, bytes) else v.encode())


def _params(names):
    return st.dictionaries(st.sampled_from(names), _value(), max_size=4)


def _encode(params):
    return "&".join(f"{quote_from_bytes(k.encode())}={quote_from_bytes(v)}" for k, v in params.items())


def assert_open311_answer(response, fmt):
    """No server error; a refusal is the spec's error document in the requested format, naming its own status."""
    assert response.status_code < 500, response.content[:500]
    if response.status_code < 400:
        return
    if fmt == "json":
        assert response["Content-Type"] == "application/json; charset=utf-8"
        errors = json.loads(response.content)
        assert errors and all(set(e) == {"code", "description"} and e["code"] == response.status_code
                              and isinstance(e["description"], str) and e["description"] for e in errors)
    else:
        assert response["Content-Type"] == "text/xml; charset=utf-8"
        root = ET.fromstring(response.content)
        assert root.tag == "errors" and root.findall("error")
        for error in root.findall("error"):
            assert error.findtext("code") == str(response.status_code) and error.findtext("description")


@pytest.fixture
def open311_client(db):
    world = _world()
    with NO_LIMITS:
        client = Client()  # its middleware is built on the first request, under the override
        client.key = ApiToken.issue(world.resident, name="open311")
        yield client


OPEN311_FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                        suppress_health_check=list(HealthCheck))


def _fmt():
    return st.sampled_from(["xml", "json"])


def test_open311_search_answers_any_query(open311_client):
    @OPEN311_FUZZ
    @given(fmt=_fmt(), params=_params(SEARCH_PARAMS))
    def run(fmt, params):
        assert_open311_answer(open311_client.get(f"{OPEN311}/requests.{fmt}", QUERY_STRING=_encode(params)), fmt)
    run()


def test_open311_post_answers_any_form(open311_client):
    valid = {"service_code": b"noise", "lat": b"30.395", "long": b"114.885", "description": "楼下工地夜里施工".encode(),
             "attribute[kind]": b"complaint"}

    @OPEN311_FUZZ
    @given(fmt=_fmt(), changed=_params(POST_PARAMS), dropped=st.sets(st.sampled_from(list(valid))),
           key=st.sampled_from(["valid", "valid", "valid", "none", "junk"]),
           idempotency=st.one_of(st.none(), st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e),
                                                    max_size=100)))
    def run(fmt, changed, dropped, key, idempotency):
        # A valid submission with some fields changed to anything and some left out, so that cases reach
        # the form, the services and the database rather than stopping at the first missing field.
        params = {k: v for k, v in valid.items() if k not in dropped} | changed
        if key != "none":
            params["api_key"] = open311_client.key.encode() if key == "valid" else b"\x00junk"
        headers = {"Idempotency-Key": idempotency} if idempotency is not None else {}
        response = open311_client.post(f"{OPEN311}/requests.{fmt}", _encode(params), headers=headers,
                                       content_type="application/x-www-form-urlencoded")
        assert_open311_answer(response, fmt)
    run()


def test_open311_resources_answer_any_path_and_query(open311_client):
    segment = st.one_of(st.sampled_from(["noise", "1", "0", "9" * 18, "9" * 19, "-1", "..", "%00"]),
                        st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40))

    @OPEN311_FUZZ
    @given(fmt=_fmt(), resource=st.sampled_from(["services", "requests", "tokens"]), segment=segment,
           params=_params(["jurisdiction_id", "api_key"]))
    def run(fmt, resource, segment, params):
        url = f"{OPEN311}/{resource}/{quote(segment, safe='')}.{fmt}"
        assert_open311_answer(open311_client.get(url, QUERY_STRING=_encode(params)), fmt)
    run()
