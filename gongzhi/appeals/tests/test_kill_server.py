"""Nothing lost: appeals submitted concurrently to a real gunicorn on PostgreSQL, which is SIGKILLed mid-load and
restarted; every request whose answer was lost is retried with its Idempotency-Key, and every acknowledged
appeal is stored exactly once."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from gongzhi.accounts.models import ApiToken
from gongzhi.appeals.models import Appeal, AppealEvent, Category

ROOT = Path(__file__).resolve().parents[3]
THREADS, PER_THREAD = 4, 20
KILL_AFTER = (15, 45)          # acknowledged appeals before each SIGKILL
DEADLINE_SECONDS = 240

pytestmark = [
    pytest.mark.django_db(transaction=True),  # the server process must see the test's committed rows
    pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                       reason="kills a gunicorn server sharing the test database: needs PostgreSQL"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    """The test database (pytest-django's test_<name>), for the server process."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Server:
    def __init__(self, port, log_path):
        self.port, self.log_path, self.proc = port, log_path, None
        # Behind a proxy (X-Forwarded-For trusted): each resident's address stays under the per-address rate limit.
        self.env = {**os.environ, "DATABASE_URL": _database_url(), "GONGZHI_DB_CONN_MAX_AGE": "0",
                    "GONGZHI_TRUSTED_PROXY_COUNT": "1"}

    def start(self, token):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "gongzhi.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", "2", "--timeout", "30"],
            cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()[-3000:]
            try:
                if request(self.port, "GET", "/api/appeals/categories", token)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("gunicorn did not answer within 60 s")

    def kill(self):
        """SIGKILL the master and its workers at once: requests in flight lose their answers."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


def request(port, method, path, token, body=None, key=None, address=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    if address:
        headers["X-Forwarded-For"] = address
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_killed_server_loses_no_acknowledged_appeal(w, tmp_path):
    token = ApiToken.issue(w.resident)
    category = Category.objects.get(code="noise").pk
    server = Server(_free_port(), tmp_path / "gunicorn.log")
    acked, statuses, lost, errors = {}, Counter(), Counter(), []
    lock = threading.Lock()
    deadline = time.monotonic() + DEADLINE_SECONDS

    def client(n):
        for i in range(PER_THREAD):
            key = f"kill-{n}-{i}"
            body = {"kind": "complaint", "category_id": category, "description": f"夜间施工噪音 {key}",
                    "latitude": 30.395, "longitude": 114.885}
            while True:
                if time.monotonic() > deadline:
                    errors.append(f"{key}: gave up at the deadline")
                    return
                try:
                    status, raw = request(server.port, "POST", "/api/appeals/", token, body, key, f"10.1.{n}.{i}")
                except (OSError, http.client.HTTPException):  # refused, reset, timed out: the answer was lost
                    with lock:
                        lost[key] += 1
                    time.sleep(0.1)
                    continue
                if status >= 500:  # a worker dying mid-request behind the master: also retried
                    with lock:
                        lost[key] += 1
                    continue
                if status not in (200, 201):
                    errors.append(f"{key}: {status} {raw[:200]!r}")
                    return
                with lock:
                    acked[key] = json.loads(raw)["id"]
                    statuses[status] += 1
                break

    server.start(token)
    try:
        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(THREADS)]
        for t in threads:
            t.start()
        for threshold in KILL_AFTER:
            while len(acked) < threshold and time.monotonic() < deadline and any(t.is_alive() for t in threads):
                time.sleep(0.02)
            server.kill()
            time.sleep(0.5)
            server.start(token)
        for t in threads:
            t.join(timeout=max(1.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in threads), "clients did not finish before the deadline"
    finally:
        server.kill()

    assert errors == []
    assert sum(lost.values()) > 0  # the kills really cut requests off
    assert len(acked) == THREADS * PER_THREAD
    rows = list(Appeal.objects.values_list("idempotency_key", "id"))
    assert len(rows) == THREADS * PER_THREAD
    assert max(Counter(key for key, _ in rows).values()) == 1  # no key stored twice
    assert dict(rows) == acked  # every acknowledged appeal is there, under the id the client was given
    submits = Counter(AppealEvent.objects.filter(action="submit").values_list("appeal_id", flat=True))
    assert set(submits.values()) == {1} and len(submits) == THREADS * PER_THREAD
    print(f"\nkill test: {len(acked)} appeals, {sum(lost.values())} lost answers retried "
          f"({len(lost)} keys), replayed as 200: {statuses[200]}")
