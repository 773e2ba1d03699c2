"""Web hardening: check --deploy is clean in production, the CSP header, templates without inline code, rate limits,
the client address behind a proxy, and no demo accounts in production."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, RequestFactory

from gongzhi.core.ratelimit import client_ip
from gongzhi.core.testing import PASSWORD

ROOT = Path(__file__).resolve().parents[3]
PRODUCTION_ENV = {
    "GONGZHI_ENV": "production",
    "GONGZHI_SECRET_KEY": "k" * 20 + "-production-secret-for-the-deploy-check-0123456789",
    "GONGZHI_DATA_KEYS": "pq5i6tCk7yJyN8yG3u0o2bYp6m8Qv8kUeC9p5v4f1mA=",
    "GONGZHI_HASH_KEY": "hash-key-for-the-deploy-check",
    "GONGZHI_AUDIT_KEY": "audit-key-for-the-deploy-check",
    "GONGZHI_ALLOWED_HOSTS": "gongzhi.example.gov.cn",
    "GONGZHI_TRUSTED_PROXY_COUNT": "1",
}


def run_manage(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GONGZHI_", "DJANGO_", "DATABASE_URL"))}
    env.update(PRODUCTION_ENV, GONGZHI_VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               DJANGO_SETTINGS_MODULE="gongzhi.settings")
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_production_settings_pass_check_deploy_without_warnings(tmp_path):
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_demo_refuses_to_run_in_production(tmp_path):
    result = run_manage(tmp_path, "demo")
    # Refused before touching the database (which here has no tables: anything further would fail differently).
    assert result.returncode != 0 and "never runs with GONGZHI_ENV=production" in result.stderr
    assert "demo logins" not in result.stdout


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"<style", re.I), "<style> block"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on* handler attribute"),
]


@pytest.mark.parametrize("app", ["core", "accounts", "registry", "places"])
def test_templates_have_no_inline_script_or_style(app):
    found = []
    for template in (ROOT / "gongzhi" / app / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        found += [f"{template.relative_to(ROOT)}: {what}" for pattern, what in INLINE if pattern.search(text)]
    assert not found


@pytest.mark.django_db
def test_a_burst_of_logins_gets_429_in_chinese_and_normal_use_does_not(client, world):
    assert client.post("/accounts/login/", {"username": "grid_a", "password": PASSWORD}).status_code == 302
    assert client.get("/").status_code == 200
    client.logout()
    statuses = [client.post("/accounts/login/", {"username": f"guess{i}", "password": "x"}).status_code
                for i in range(25)]
    assert 429 not in statuses[:19] and statuses[-1] == 429
    limited = client.post("/accounts/login/", {"username": "grid_a", "password": PASSWORD})
    assert limited.status_code == 429 and "请求过于频繁" in limited.content.decode()
    assert int(limited["Retry-After"]) > 0
    assert client.get("/accounts/login/").status_code == 200  # reading the page is not limited


@pytest.mark.django_db
def test_token_endpoint_burst_gets_a_json_429(world):
    client = Client()
    for _ in range(20):
        client.post("/api/auth/token", {"username": "nobody", "password": "x"}, content_type="application/json")
    response = client.post("/api/auth/token", {"username": "grid_a", "password": PASSWORD},
                           content_type="application/json")
    assert response.status_code == 429 and "请求过于频繁" in response.json()["detail"]


@pytest.mark.django_db
def test_public_submission_endpoints_are_limited(client, world):
    client.force_login(world.resident)
    statuses = [client.post("/appeals/new/", {}).status_code for _ in range(11)]
    assert 429 not in statuses[:10] and statuses[10] == 429
    formats = [("/open311/v2/requests.json", "application/json"), ("/open311/v2/requests.xml", "text/xml")]
    # Both formats are one endpoint: ten posts in all pass the limiter, then each answers in its own format.
    assert 429 not in [Client().post(path, {}).status_code for path, _ in formats * 5]
    for path, kind in formats:
        last = Client().post(path, {})
        assert last.status_code == 429
        assert last["Content-Type"].startswith(kind) and "429" in last.content.decode()


@pytest.mark.django_db
def test_limits_count_per_client_address_behind_a_trusted_proxy(settings, world):
    settings.GONGZHI_TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for _ in range(21):
        Client().post("/api/auth/token", {"username": "x", "password": "x"}, content_type="application/json",
                      HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)
    other = Client().post("/api/auth/token", {"username": "grid_a", "password": PASSWORD},
                          content_type="application/json", HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy)
    assert other.status_code == 200  # another citizen behind the same proxy is not punished


def test_forwarded_for_is_ignored_unless_a_proxy_is_trusted(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")
    settings.GONGZHI_TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "198.51.100.1"
    settings.GONGZHI_TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.7"  # what our proxy saw; "1.2.3.4" could be forged by the client
    request.META["HTTP_X_FORWARDED_FOR"] = "not-an-address"
    assert client_ip(request) == "198.51.100.1"


@pytest.mark.django_db
def test_lockout_counts_the_forwarded_address(settings, world):
    settings.GONGZHI_TRUSTED_PROXY_COUNT = 1
    attacker = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.66"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post("/accounts/login/", {"username": "grid_a", "password": "wrong"}, **attacker)
    assert Client().post("/accounts/login/", {"username": "grid_a", "password": PASSWORD}, **attacker).status_code == 429
    worker = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.10"}
    assert Client().post("/accounts/login/", {"username": "grid_a", "password": PASSWORD}, **worker).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_rate_counters_are_exact_under_parallel_workers_and_swept_after_their_window():
    """Gunicorn workers share one counter per address: parallel hits are all counted, the limit trips once."""
    import threading
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from gongzhi.core.models import RateCounter
    from gongzhi.core.ratelimit import RateLimitMiddleware, sweep_counters

    if connection.vendor != "postgresql":
        pytest.skip("real parallel transactions need PostgreSQL")
    barrier, over, lock = threading.Barrier(8), [], threading.Lock()

    def worker():
        barrier.wait()
        for _ in range(25):
            limited = RateLimitMiddleware.hit(0, "10.9.9.9", 150, 600)
            with lock:
                over.append(limited)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(over) == 200 and over.count(True) == 50  # hits 151…200 are over the limit of 150
    assert RateCounter.objects.get().hits == 200
    with connection.cursor() as cursor:  # no write-ahead log for counters
        cursor.execute("SELECT relpersistence FROM pg_class WHERE relname = 'core_ratecounter'")
        assert cursor.fetchone()[0] == "u"
    assert sweep_counters() == 0
    RateCounter.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert sweep_counters() == 1 and not RateCounter.objects.exists()
