"""Shared fixtures: a small world of places and logins, API clients, and Debian's Chromium via Playwright."""

import os

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from tests are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "1")

CHROMIUM = os.environ.get("GONGZHI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture
def client(client):
    """pytest-django's client; force_login also marks the second factor as given, as a real login would."""
    from gongzhi.core.testing import mark_otp_verified
    force_login = client.force_login

    def force_login_verified(user, backend=None):
        force_login(user, backend)
        mark_otp_verified(client, user)

    client.force_login = force_login_verified
    return client


@pytest.fixture(autouse=True)
def _still_rate_limit_clock(monkeypatch):
    """A burst in a test must land in one fixed rate-limit window, however slowly a loaded machine runs it."""
    monkeypatch.setattr("gongzhi.core.ratelimit.clock", lambda: 1_800_000_000.0)


@pytest.fixture
def world(db):
    from gongzhi.core.testing import build_world
    return build_world()


@pytest.fixture
def api_client(client):
    """The Django test client logged in through a bearer token, as an API client would be."""
    from gongzhi.accounts.models import ApiToken

    class Api:
        def as_user(self, user):
            self.headers = {"Authorization": f"Bearer {ApiToken.issue(user)}"}
            return self

        def get(self, url, **kw):
            return client.get(url, headers=self.headers, **kw)

        def post(self, url, data=None, **kw):
            if "content_type" not in kw and not any(hasattr(v, "read") for v in (data or {}).values()):
                kw["content_type"] = "application/json"
            return client.post(url, data, headers=self.headers, **kw)

        def patch(self, url, data=None, **kw):
            return client.patch(url, data, content_type="application/json", headers=self.headers, **kw)

    return Api()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()
