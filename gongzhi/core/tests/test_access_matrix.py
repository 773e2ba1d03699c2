"""Access control (等保 8.1.4.2): every page and every API operation, found automatically, refuses anonymous callers
(unless on the public list), and each role is refused another grid's, community's or resident's records."""

import re
from datetime import date

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from gongzhi.accounts.roles import Role
from gongzhi.core.testing import make_user, square, valid_id

pytestmark = pytest.mark.django_db

# Pages anyone may open: log in and out, language and type size, public disclosure, the blank import form.
PUBLIC_PAGES = {"accounts:login", "accounts:logout", "admin:login", "admin:logout", "set_language",
                "core:toggle_large", "deliberation:public", "registry:import_template", "registry:privacy",
                "points:leaderboard"}
# Open311 GeoReport v2 is public by specification (GET open; POST needs an api_key): tested in test_open311.py.
PUBLIC_PREFIXES = ("open311:", "gongzhi.appeals.open311.")
# API operations without login: the token exchange, the blank import form, public disclosure, the schema itself.
PUBLIC_API = {("POST", "/api/auth/token"), ("GET", "/api/registry/import-template"),
              ("GET", "/api/deliberation/public/{place_id}"), ("GET", "/api/points/places/{place_id}/leaderboard")}
# Readable by any logged-in user by design: the points rulebook of a place and its points policy.
OPEN_TO_ANY_LOGIN = {("GET", "/api/points/places/{place_id}/rules"), ("GET", "/api/points/places/{place_id}/policy")}
LOGIN_PAGES = (settings.LOGIN_URL if settings.LOGIN_URL.startswith("/") else "/accounts/login/", "/admin/login/")

# Which record an id in a path names: by parameter name, or for a bare <pk> by the path before it.
KIND_OF_PARAM = {"place_id": "place", "place_pk": "place", "household_id": "household", "household_pk": "household",
                 "person_id": "person", "appeal_id": "appeal", "topic_id": "topic", "meeting_id": "meeting",
                 "account_id": "account", "entry_id": "entry"}
KIND_OF_PK = [(r"^/places/<pk>/", "place"), (r"^/registry/households/<pk>/", "household"),
              (r"^/registry/persons/<pk>/", "person"), (r"^/appeals/<pk>/", "appeal"),
              (r"^/deliberation/topics/<pk>/", "topic"), (r"^/deliberation/meetings/<pk>/", "meeting"),
              (r"^/points/accounts/<pk>/", "account")]
# Path parts that are not ids: a real value, so the request reaches the permission check.
OTHER_PARAMS = {"action": "accept", "token": "x", "url": "x"}


# ---- finding every page and API operation ---------------------------------------------------------------------

def _sample(regex_group_body):
    """A value that matches a named regex group of a URL pattern (the admin's app list and catch-all)."""
    literals = re.fullmatch(r"[\w|]+", regex_group_body)
    return regex_group_body.split("|")[0] if literals else "1"


def _route(pattern) -> str:
    text = str(pattern.pattern)
    text = re.sub(r"\(\?P<(\w+)>([^)]*)\)", lambda m: f"<{m.group(1)}={_sample(m.group(2))}>", text)
    text = text.replace("^", "").replace("$", "").replace("\\", "")
    return re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", text)


def pages():
    """(url name, route with <param> placeholders) for every Django URL pattern outside the API."""
    def walk(resolver, prefix, namespace):
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                ns = ":".join(filter(None, [namespace, p.namespace]))
                yield from walk(p, prefix + _route(p), ns)
            elif isinstance(p, URLPattern):
                name = ":".join(filter(None, [namespace, p.name])) if p.name else p.lookup_str
                yield name, "/" + prefix + _route(p)
    return [(name, route) for name, route in walk(get_resolver(), "", "") if not route.startswith("/api/")]


def api_operations(client):
    schema = client.get("/api/openapi.json").json()
    return [(method.upper(), path, op) for path, ops in schema["paths"].items() for method, op in ops.items()], schema


def fill(route, values, default="1"):
    """Put values into <param>/{param} slots; <param=sample> slots from regexes keep their sample."""
    def value(m):
        name, sample = m.group(1), m.group(2)
        return str(values.get(name, OTHER_PARAMS.get(name, sample or default)))
    return re.sub(r"[<{](\w+)(?:=([^>]*))?[>}]", value, route)


def params(route):
    return re.findall(r"[<{](\w+)(?:=[^>]*)?[>}]", route)


def kind_of(route, param):
    if param in KIND_OF_PARAM:
        return KIND_OF_PARAM[param]
    if param == "pk":
        for pattern, kind in KIND_OF_PK:
            if re.match(pattern, route):
                return kind
    return None


# ---- anonymous callers ----------------------------------------------------------------------------------------

def refused_anonymously(response) -> bool:
    if response.status_code in (401, 403, 405):
        return True
    return response.status_code == 302 and response["Location"].startswith(LOGIN_PAGES)


def test_every_page_sends_anonymous_callers_to_login(client, matrix):
    ids = matrix.ids(matrix.a)
    checked, leaks = 0, []
    for name, route in pages():
        if name in PUBLIC_PAGES or name.startswith(PUBLIC_PREFIXES):
            continue
        path = fill(route, {p: ids.get(kind_of(route, p), 1) for p in params(route)})
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            checked += 1
            if not refused_anonymously(response):
                leaks.append(f"{method.upper()} {path} ({name}) → {response.status_code}")
    assert checked > 100 and not leaks, "\n".join(leaks)


def test_every_api_operation_answers_401_to_anonymous_callers(client, matrix):
    ids = matrix.ids(matrix.a)
    operations, _ = api_operations(client)
    leaks = []
    for method, route, _op in operations:
        if (method, route) in PUBLIC_API:
            continue
        path = fill(route, {p: ids.get(kind_of(route, p), 1) for p in params(route)})
        response = client.generic(method, path, "{}", content_type="application/json")
        if response.status_code != 401:
            leaks.append(f"{method} {path} → {response.status_code}")
    assert len(operations) > 50 and not leaks, "\n".join(leaks)


def test_public_pages_really_are_open(client, matrix):
    assert client.get("/accounts/login/").status_code == 200
    assert client.get(f"/deliberation/public/{matrix.w.community.pk}/").status_code == 200
    assert client.get(f"/api/deliberation/public/{matrix.w.community.pk}").status_code == 200


# ---- one role against another's records -----------------------------------------------------------------------

def body_for(operation, schema, ids):
    """A request body that passes the schema, so the call reaches the permission check rather than validation."""
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return _example(content["application/json"]["schema"], schema)
    if "multipart/form-data" in content:
        from django.core.files.uploadedfile import SimpleUploadedFile
        form = content["multipart/form-data"]["schema"]
        form = schema["components"]["schemas"][form["$ref"].rsplit("/", 1)[1]] if "$ref" in form else form
        body = _example(form, schema)
        binary = {k for k, sub in form.get("properties", {}).items() if sub.get("format") == "binary"}
        # Files as uploads, id lists as a real id: the call must get past parsing to the permission check.
        return {k: SimpleUploadedFile("upload.xlsx", b"PK") if k in binary or v == "测试" and "file" in k
                else str(ids[k[:-4]]) if k.endswith("_ids") and k[:-4] in ids else v for k, v in body.items()}
    return None


def _example(node, schema, depth=0):
    if "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node:
            options = [o for o in node[key] if o.get("type") != "null"]
            return _example(options[0], schema, depth) if options else None
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        if depth > 3:
            return {}
        return {name: _example(sub, schema, depth + 1) for name, sub in node.get("properties", {}).items()
                if name in node.get("required", [])}
    if kind == "array":
        return []
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    return {"date": date.today().isoformat(), "date-time": "2026-12-01T09:00:00+08:00"}.get(node.get("format"), "测试")


def refused(response) -> bool:
    """403/404, or a method the route does not take, or an empty list (nothing of the other side shown)."""
    if response.status_code in (403, 404, 405):
        return True
    return response.status_code == 200 and response.get("Content-Type", "").startswith("application/json") \
        and response.content.strip() == b"[]"


def written_rows():
    """Row counts of every table, to show a refused request changed nothing."""
    from django.apps import apps
    return {m._meta.label: m.objects.count() for m in apps.get_models()
            if m._meta.app_label in ("accounts", "places", "registry", "appeals", "deliberation", "points")}


# (actor, whose records they must not reach)
PAIRS = [("grid_worker_a", "b"), ("grid_worker_b", "a"), ("community_worker", "c"), ("other_worker", "a"),
         ("resident", "b"), ("resident_b", "a")]


@pytest.mark.parametrize("actor,side", PAIRS)
def test_role_cannot_reach_another_places_records(client, api_client, matrix, actor, side):
    user = getattr(matrix.w, actor) if hasattr(matrix.w, actor) else getattr(matrix, actor)
    ids = matrix.ids(getattr(matrix, side))
    client.force_login(user)
    api = api_client.as_user(user)
    operations, schema = api_operations(client)
    exercised, leaks = [], []
    for name, route in pages():
        kinds = {p: kind_of(route, p) for p in params(route) if p not in OTHER_PARAMS}
        if not kinds or name in PUBLIC_PAGES or name.startswith(PUBLIC_PREFIXES) or not all(k in ids for k in kinds.values()):
            continue
        path = fill(route, {p: ids[k] for p, k in kinds.items()})
        if not refused(response := client.get(path)):
            leaks.append(f"GET {path} ({name}) → {response.status_code}")
        before = written_rows()
        response = client.post(path)
        # A form view may answer an empty post by redirecting with a message: fine if it wrote nothing.
        if not (refused(response) or response.status_code == 302 and written_rows() == before):
            leaks.append(f"POST {path} ({name}) → {response.status_code}")
        exercised.append(path)
    for method, route, operation in operations:
        kinds = {p: kind_of(route, p) for p in params(route) if p not in OTHER_PARAMS}
        if not kinds or (method, route) in PUBLIC_API | OPEN_TO_ANY_LOGIN or not all(k in ids for k in kinds.values()):
            continue
        path = fill(route, {p: ids[k] for p, k in kinds.items()})
        body = body_for(operation, schema, ids)
        if method == "GET":
            response = api.get(path)
        elif method == "PATCH":
            response = api.patch(path, body or {})
        else:
            before = written_rows()
            response = api.post(path, body or {})
            if written_rows() != before:
                leaks.append(f"{method} {path} wrote records")
        exercised.append(path)
        if not refused(response):
            leaks.append(f"{method} {path} → {response.status_code} {response.content[:120]!r}")
    assert len(exercised) >= 20 and not leaks, "\n".join(leaks)


# ---- the records -----------------------------------------------------------------------------------------------

class Matrix:
    """build_world plus: a resident login in grid B, a household in the neighbour community, and for each of
    the three sides (a: grid A, b: grid B, c: neighbour community) an appeal, a topic, a meeting, a points
    account and an entry in it."""

    def __init__(self, w):
        from gongzhi.places.models import Kind
        from gongzhi.places.services import create_place
        from gongzhi.registry.models import Household, Person

        self.w = w
        self.resident_b = make_user("resident_b", Role.RESIDENT, w.unit_b, phone="13800000002", person=w.person_b)
        grid_c = create_place(kind=Kind.GRID, name="南浦一网格", parent=w.other_community,
                              boundary=square(114.90, 30.39))
        unit_c = create_place(kind=Kind.UNIT, name="1单元",
                              parent=create_place(kind=Kind.BUILDING, name="9栋", parent=grid_c))
        household_c = Household.objects.create(place=unit_c, door_no="301", area_m2=70)
        person_c = Person(household=household_c, name="王五", gender="M", id_number=valid_id(seq="033"),
                          birth_date=date(1975, 5, 5), phone="13800000003", relation=Person.Relation.HEAD)
        person_c.save()
        self.a = self._side(w.grid_a, w.household_a, w.person_a, w.resident, w.community_worker)
        self.b = self._side(w.grid_b, w.household_b, w.person_b, self.resident_b, w.community_worker)
        self.c = self._side(grid_c, household_c, person_c, None, w.other_worker)

    def _side(self, grid, household, person, resident, staff):
        from gongzhi.appeals import services as appeals
        from gongzhi.appeals.defaults import seed
        from gongzhi.appeals.models import Category
        from gongzhi.deliberation import services as deliberation
        from gongzhi.deliberation.models import Meeting
        from gongzhi.points.services import account_for_household, award

        seed(Category)
        submitter = resident or self.w.other_worker
        appeal = appeals.submit(submitter, kind="complaint", category=Category.objects.get(code="noise"),
                                description="楼下夜里施工噪音", place=household.place)
        account = account_for_household(household)
        side = {"place": grid, "household": household, "person": person, "appeal": appeal, "account": account,
                "entry": award(staff, account, amount=5, reason="清理楼道", key=f"matrix-{grid.pk}"),
                "meeting": deliberation.convene_meeting(staff, place=grid, kind=Meeting.Kind.BUILDING,
                                                        title="楼栋会议", starts_at=timezone.now(), location="活动室")}
        if resident is not None:
            side["topic"] = deliberation.raise_topic(resident, place=grid, title="加装电梯", body="请讨论加装电梯。")
        return side

    @staticmethod
    def ids(side):
        return {kind: record.pk for kind, record in side.items()}


@pytest.fixture
def matrix(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return Matrix(world)


def test_the_matrix_finds_every_kind_of_id(client, matrix):
    """Guard: the routes that name records of the existing apps are recognised, so the matrix above covers them."""
    operations, _ = api_operations(client)
    routes = [route for _, route in pages()] + [route for _, route, _ in operations]
    found = {kind_of(route, p) for route in routes for p in params(route)}
    assert {"place", "household", "person", "appeal", "topic", "meeting", "account", "entry"} <= found
