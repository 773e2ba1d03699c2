"""Schemathesis against the live OpenAPI schema, and hypothesis against Open311: no server errors, only declared answers."""

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from gongzhi.accounts.models import ApiToken

# Rate limits would turn the fuzzer's burst into 429s and hide what the endpoints do: off for this module only.
NO_LIMITS = override_settings(GONGZHI_RATE_LIMITS=[])
# Bounded (about a minute per login on two cores) and reproducible: the same cases on every run.
FUZZ = settings(max_examples=5, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
# No 5xx, and only the status codes, content types and bodies the schema declares.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(params=["community_worker", "resident"])
def fuzz_login(request, transactional_db):
    """Every call is made as a realistic login with an API token: a community worker (staff, whose calls reach
    the services) or a resident (whose calls mostly meet the permission checks)."""
    from gongzhi.appeals.defaults import seed
    from gongzhi.appeals.models import Category
    from gongzhi.core.testing import add_activity, build_world

    seed(Category)  # a transactional test's flush removed the migration's rows
    world = build_world()
    add_activity(world)
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
