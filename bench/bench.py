"""Benchmark driver run by bench/run: generates a dataset, starts gunicorn on loopback, measures each scenario."""

import argparse
import cProfile
import io
import itertools
import json
import os
import platform
import pstats
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

HOST = "127.0.0.1"  # never anything else
VENV = ROOT / ".venv" / "bin"


# ---------------------------------------------------------------- measuring helpers

def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def summary(latencies_s, elapsed=None, errors=0):
    ms = [v * 1000 for v in latencies_s]
    out = {"n": len(ms), "errors": errors,
           "median_ms": round(statistics.median(ms), 1) if ms else None,
           "p50_ms": round(pct(ms, 50), 1) if ms else None,
           "p99_ms": round(pct(ms, 99), 1) if ms else None,
           "max_ms": round(max(ms), 1) if ms else None}
    if elapsed:
        out["throughput_per_s"] = round(len(ms) / elapsed, 1)
    return out


def load_average():
    return [round(x, 2) for x in os.getloadavg()]


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    with connection.cursor() as c:
        c.execute("SELECT version()")
        db = c.fetchone()[0].split(" on ")[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(mem_kb / 2 ** 20, 1), "kernel": platform.release(),
            "python": platform.python_version(), "db": db, "commit": commit,
            "date": datetime.now(dt_timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def peak_rss_mib(pids):
    """Peak resident memory (VmHWM) of the given processes, in MiB."""
    peaks = []
    for pid in pids:
        try:
            m = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
            peaks.append(int(m.group(1)) / 1024)
        except (FileNotFoundError, AttributeError):
            pass
    return round(max(peaks), 1) if peaks else None


def top_profile(profile, n=15):
    """The functions with most own time, and Gongzhi's own functions by cumulative time."""
    def listing(sort, *restrict):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(sort).print_stats(*restrict, n)
        return [" ".join(ln.split()) for ln in out.getvalue().splitlines() if re.match(r"\s*\d", ln)]
    return {"tottime": listing("tottime"), "gongzhi_cumulative": listing("cumulative", "gongzhi/")}


# ---------------------------------------------------------------- the server

class Server:
    def __init__(self, workers):
        with socket.socket() as s:
            s.bind((HOST, 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            [str(VENV / "gunicorn"), "gongzhi.wsgi", "--workers", str(workers), "--bind", f"{HOST}:{self.port}",
             "--timeout", "600", "--log-level", "warning"], cwd=ROOT, env={**os.environ, "GONGZHI_DB_CONN_MAX_AGE": "60"})
        for _ in range(200):
            try:
                self.request("GET", "/api/openapi.json")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start")

    def worker_pids(self):
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def request(self, method, path, body=None, headers=None):
        conn = HTTPConnection(HOST, self.port, timeout=600)
        try:
            data = json.dumps(body).encode() if body is not None else None
            hdrs = {"Content-Type": "application/json", **(headers or {})}
            started = time.perf_counter()
            conn.request(method, path, body=data, headers=hdrs)
            response = conn.getresponse()
            payload = response.read()
            return response.status, payload, time.perf_counter() - started
        finally:
            conn.close()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def token_for(user):
    from gongzhi.accounts.models import ApiToken
    return {"Authorization": f"Bearer {ApiToken.issue(user, name='bench')}"}


# ---------------------------------------------------------------- scenarios

def intake_payload(rng, grids, categories):
    grid = rng.choice(grids)
    (x0, y0), (dx, dy) = grid
    return {"kind": "complaint", "category_id": rng.choice(categories), "title": "楼道堆物",
            "description": "楼道里堆放杂物，存在消防隐患，请处理。", "latitude": y0 + dy * (0.1 + 0.8 * rng.random()),
            "longitude": x0 + dx * (0.1 + 0.8 * rng.random()), "contact_phone": "13800000000"}


_addresses = itertools.count()


def resident_address():
    """A fresh client address for each intake, as behind the recommended reverse proxy (bench/run sets
    GONGZHI_TRUSTED_PROXY_COUNT=1): many residents, each under the per-address rate limit."""
    n = next(_addresses)
    return {"X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"}


def scenario_intake(server, ctx, clients, seconds, max_requests):
    """Closed loop: `clients` threads POST appeals with a fresh Idempotency-Key each, for `seconds`."""
    headers = ctx["resident_headers"]
    latencies, errors, lock = [], [0], threading.Lock()
    counter = iter(range(max_requests))

    def client(n):
        rng = random.Random(n)
        while time.perf_counter() < stop_at:
            try:
                next(counter)
            except StopIteration:
                return
            h = {**headers[n % len(headers)], "Idempotency-Key": f"bench-{uuid.uuid4()}", **resident_address()}
            status, body, took = server.request("POST", "/api/appeals/", intake_payload(rng, ctx["grids"], ctx["categories"]), h)
            with lock:
                if status == 201:
                    latencies.append(took)
                else:
                    errors[0] += 1
                    if errors[0] <= 3:
                        print("intake error", status, body[:300], file=sys.stderr)

    # Warm every worker (grid index, connections) before measuring.
    warm = random.Random(0)
    for _ in range(4 * ctx["workers"]):
        server.request("POST", "/api/appeals/", intake_payload(warm, ctx["grids"], ctx["categories"]),
                       {**headers[0], "Idempotency-Key": f"warm-{uuid.uuid4()}", **resident_address()})
    started = time.perf_counter()
    stop_at = started + seconds
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {**summary(latencies, elapsed, errors[0]), "clients": clients, "seconds": round(elapsed, 1)}


def capture_intake_sql(ctx):
    """The SQL one API intake performs, from Django's query log (which since Django 4.2 also records BEGIN and
    COMMIT), as a pgbench script: the same statements in the same transactions."""
    from django.test import Client
    appeal_id = "900000001"  # a recognisable appeal id, turned back into a pgbench variable below
    with connection.cursor() as c:
        c.execute("SELECT setval(pg_get_serial_sequence('appeals_appeal', 'id'), %s)", [int(appeal_id) - 1])
    key, address = "capture-intake-key", resident_address()
    # Warm this process first (grid index, categories) as the server's workers are: pgbench then replays one
    # steady-state intake, not the one-off loading of every grid boundary.
    warm = Client().post("/api/appeals/", intake_payload(random.Random(2), ctx["grids"], ctx["categories"]),
                         content_type="application/json",
                         headers={**ctx["resident_headers"][0], "Idempotency-Key": f"warm-{uuid.uuid4()}",
                                  **resident_address()})
    assert warm.status_code == 201, warm.content
    with CaptureQueriesContext(connection) as q:
        response = Client().post("/api/appeals/", intake_payload(random.Random(1), ctx["grids"], ctx["categories"]),
                                 content_type="application/json",
                                 headers={**ctx["resident_headers"][0], "Idempotency-Key": key, **address})
    assert response.status_code == 201, response.content
    lines = ["\\set k random(1, 1000000000000)"]
    for query in q.captured_queries:
        # The idempotency key and the rate-limit cache key (by address) are unique per intake.
        sql = " ".join(query["sql"].split()).replace(key, "pgb-:client_id-:k") \
            .replace(address["X-Forwarded-For"], "pgb-:client_id-:k")
        if sql.startswith('INSERT INTO "appeals_appeal"'):
            lines.append(sql + " \\gset a_")
        else:
            lines.append(sql.replace(appeal_id, ":a_id") + ";")
    return len(q.captured_queries), "\n".join(lines) + "\n"


def scenario_pgbench(script, clients, seconds):
    path = Path(tempfile.mkdtemp()) / "intake.sql"
    path.write_text(script)
    url = os.environ["DATABASE_URL"]
    pgbench = shutil.which("pgbench") or sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))[-1]
    run = subprocess.run([str(pgbench), "-n", "-c", str(clients), "-j", "2", "-T", str(seconds), "-M", "simple",
                          "-f", str(path), "-r", url], capture_output=True, text=True)
    out = run.stdout + run.stderr
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if tps is None:
        print(out, file=sys.stderr)
    return {"tps": float(tps.group(1)) if tps else None, "latency_avg_ms": float(lat.group(1)) if lat else None,
            "failed": int(failed.group(1)) if failed else None, "clients": clients, "seconds": seconds}


def scenario_get(server, headers, path, n, warm=3):
    latencies = []
    for _ in range(warm):
        server.request("GET", path, headers=headers)
    errors = 0
    for _ in range(n):
        status, body, took = server.request("GET", path, headers=headers)
        if status == 200:
            latencies.append(took)
        else:
            errors += 1
            print("GET error", path, status, body[:300], file=sys.stderr)
    return summary(latencies, None, errors)


def import_file(community, rows, path, first=0):
    """The bench's one-form spreadsheet: `rows` persons in 1–4 person households spread over the community's
    units, valid unique ID numbers and phones from person number `first` on (also used by
    bench/import_profile.py)."""
    from openpyxl import Workbook
    from gongzhi.core.gen import person_id_number
    from gongzhi.places.models import Kind, Place
    from gongzhi.registry.oneform import COLUMNS
    units = list(Place.objects.filter(path__startswith=community.path, kind=Kind.UNIT)
                 .select_related("parent__parent").order_by("path"))
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append([header for _k, header, _r in COLUMNS])
    rng = random.Random(7)
    relations = ["户主", "配偶", "子女", "父母"]
    n = household = 0
    while n < rows:
        unit = units[household % len(units)]
        building, grid = unit.parent, unit.parent.parent
        door = f"B{first}-{household:06d}"
        for member in range(min(rng.randint(1, 4), rows - n)):
            k = first + n
            ws.append([grid.name, "", building.name, unit.name, door, "89.5", "自住", "张三" + str(n % 97),
                       relations[member], person_id_number("420199", k), f"139{k % 10 ** 8:08d}", "汉族", "群众",
                       "", ""])
            n += 1
        household += 1
    wb.save(path)
    return path


def scenario_import(ctx, rows):
    """A one-form spreadsheet of `rows` persons into one community, imported by the real command in a child
    process whose peak RSS is measured; then the same file again (nothing changes: the re-import path)."""
    from gongzhi.places.models import Place
    from gongzhi.registry.models import Person
    community = Place.objects.get(pk=ctx["community_id"])
    # New people and doors on every run, also on a kept dataset that earlier runs imported into.
    first = Person.objects.filter(id_number_hash__isnull=False).order_by().count() % 20_000_000
    path = import_file(community, rows, Path(tempfile.mkdtemp()) / "oneform.xlsx", first)

    def run():
        load = load_average()
        started = time.perf_counter()
        proc = subprocess.Popen([str(VENV / "gongzhi"), "register_import", str(path), "--community", community.code,
                                 "--user", ctx["secretary"], "--commit"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _pid, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        out = proc.stdout.read().decode()[-300:] + proc.stderr.read().decode()[-500:]
        return {"rows": rows, "seconds": round(elapsed, 1), "rows_per_s": round(rows / elapsed, 1),
                "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "exit": os.waitstatus_to_exitcode(status),
                # the machine is shared: CPU seconds of the command say more than wall time when it is busy
                "cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "load_before": load, "output": out.strip()}

    first = run()
    return {**first, "file_mib": round(path.stat().st_size / 2 ** 20, 1), "reimport": run()}


def scenario_locate(ctx, n):
    """Index build, then n points in random grids one by one (as the intake does) and in one batch."""
    from point_to_grid import measure, sample_points  # bench/point_to_grid.py, beside this file
    return {**measure(sample_points(ctx["grids"], n)), "load_average": load_average()}


def scenario_tally(ctx):
    """Owners' assembly (art. 278, area and headcount) over every household of the largest subdistrict."""
    from gongzhi.deliberation import counting
    from gongzhi.registry.models import Household
    from gongzhi.places.models import Place
    sub = Place.objects.get(pk=ctx["subdistrict_id"])
    started = time.perf_counter()
    electorate = {str(pk): area for pk, area in
                  Household.objects.filter(place__path__startswith=sub.path).values_list("pk", "area_m2")}
    load = time.perf_counter() - started
    rng = random.Random(5)
    voted = [k for k in electorate if rng.random() < 0.7]
    choices = [(rng.choice(["yes", "yes", "no", "abstain"]), electorate[k]) for k in voted]
    rules = counting.VoteRules(voter_unit="owner", weighting="area", owners_assembly=True, silent_majority=True)
    started = time.perf_counter()
    result = counting.tally(rules, electorate, voted, choices)
    took = time.perf_counter() - started
    return {"electorate": len(electorate), "ballots": len(voted), "load_s": round(load, 3),
            "tally_s": round(took, 3), "passed": result.passed}


def scenario_points_audit():
    from gongzhi.points.models import Account, Entry
    from gongzhi.points.services import audit_ledger
    started = time.perf_counter()
    problems = audit_ledger()
    took = time.perf_counter() - started
    return {"accounts": Account.objects.count(), "entries": Entry.objects.count(), "seconds": round(took, 2),
            "discrepancies": len(problems)}


def table_sizes():
    """Rows and bytes (table + indexes + TOAST) of the tables that grow, for docs/scaling.md."""
    out = {}
    with connection.cursor() as c:
        for name in ("places_place", "registry_household", "registry_person", "accounts_user",
                     "accounts_roleassignment", "appeals_appeal", "appeals_appealevent", "appeals_notification",
                     "points_account", "points_entry", "core_auditevent"):
            c.execute(f"SELECT count(*), pg_total_relation_size('{name}') FROM {name}")
            rows, size = c.fetchone()
            out[name] = {"rows": rows, "mib": round(size / 2 ** 20, 1),
                         "bytes_per_row": round(size / rows) if rows else None}
    return out


def profile_intake(ctx, n=100):
    """cProfile of `n` intakes through the full Django stack in this process (no HTTP server)."""
    from django.test import Client
    client, rng = Client(), random.Random(9)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(n):
        client.post("/api/appeals/", intake_payload(rng, ctx["grids"], ctx["categories"]),
                    content_type="application/json",
                    headers={**ctx["resident_headers"][0], "Idempotency-Key": f"prof-{uuid.uuid4()}",
                             **resident_address()})
    profile.disable()
    with CaptureQueriesContext(connection) as q:
        client.post("/api/appeals/", intake_payload(rng, ctx["grids"], ctx["categories"]),
                    content_type="application/json",
                    headers={**ctx["resident_headers"][0], "Idempotency-Key": f"prof-{uuid.uuid4()}",
                             **resident_address()})
    return {"queries_per_intake": len(q.captured_queries), "top_cumulative": top_profile(profile)}


def profile_call(fn):
    profile = cProfile.Profile()
    profile.enable()
    fn()
    profile.disable()
    return top_profile(profile, 12)


# ---------------------------------------------------------------- context and main

SCENARIOS = ("intake", "pgbench", "inbox", "rollups", "import", "locate", "tally", "audit", "profiles")

def context(workers):
    from gongzhi.accounts.models import RoleAssignment, User
    from gongzhi.accounts.roles import Role
    from gongzhi.appeals.models import Appeal, Category
    from gongzhi.core.gen import CELL
    from gongzhi.places.models import GRID_KINDS, Kind, Place
    from django.db.models import Count
    grids = [((p.boundary["coordinates"][0][0][0], p.boundary["coordinates"][0][0][1]), CELL)
             for p in Place.objects.filter(kind__in=GRID_KINDS, boundary__isnull=False).only("boundary")]
    residents = list(User.objects.filter(username__startswith="res").order_by("pk")[:50])
    city = Place.objects.get(kind=Kind.CITY, code="420100000000")
    officer, _ = User.objects.get_or_create(username="bench-city-bureau", defaults={"full_name": "市民政局"})
    RoleAssignment.objects.get_or_create(user=officer, role=Role.BUREAU_OFFICER, place=city)
    def busiest(tier, role):
        top = (Appeal.objects.filter(status__in=Appeal.OPEN, tier=tier).values("handler_place")
               .annotate(n=Count("id")).order_by("-n").first())
        place_id = top["handler_place"] if top else RoleAssignment.objects.filter(role=role).first().place_id
        return place_id, RoleAssignment.objects.filter(role=role, place_id=place_id).first().user

    busiest_grid, grid_worker = busiest("grid", Role.GRID_WORKER)
    busiest_comm, community_worker = busiest("community", Role.COMMUNITY_WORKER)
    secretary = RoleAssignment.objects.filter(role=Role.COMMUNITY_SECRETARY, place_id=busiest_comm).first().user
    subdistrict = (Place.objects.filter(kind=Kind.SUBDISTRICT).annotate(n=Count("handled_appeals"))
                   .order_by("-n").first())
    return {"workers": workers, "grids": grids,
            "categories": list(Category.objects.filter(active=True, children__isnull=True).values_list("pk", flat=True)),
            "resident_headers": [token_for(u) for u in residents],
            "city_id": city.pk, "city_headers": token_for(officer), "subdistrict_id": subdistrict.pk,
            "grid_worker_headers": token_for(grid_worker), "community_worker_headers": token_for(community_worker),
            "grid_open": Appeal.objects.filter(status__in=Appeal.OPEN, handler_place_id=busiest_grid).count(),
            "community_open": Appeal.objects.filter(status__in=Appeal.OPEN, handler_place_id=busiest_comm).count(),
            "community_id": busiest_comm, "secretary": secretary.username}


def table(results):
    rows = []
    r = results["scenarios"]
    if "intake" in r:
        i = r["intake"]
        rows.append(("appeal intake (API, %d clients)" % i["clients"], f"{i['throughput_per_s']}/s",
                     f"p50 {i['p50_ms']} / p99 {i['p99_ms']} ms, worker peak RSS {i['peak_worker_rss_mib']} MiB",
                     "≥300/s, p99 ≤100 ms"))
    if "pgbench_intake" in r:
        p = r["pgbench_intake"]
        ratio = f"ours/pgbench {r['intake_vs_pgbench']:.0%} (≥50%)" if "intake_vs_pgbench" in r else ""
        rows.append(("same SQL via pgbench", f"{p['tps']:.1f}/s", f"avg {p['latency_avg_ms']} ms", ratio))
    for name in ("inbox_grid_worker", "inbox_community_worker"):
        if name in r:
            x = r[name]
            rows.append((name.replace("_", " ") + f" ({x['open']} open)", "",
                         f"p50 {x['p50_ms']} / p99 {x['p99_ms']} ms", "p99 ≤100 ms"))
    for name, target in (("rollup_city_year", "≤1000 ms"), ("rollup_subdistrict_year", "≤200 ms")):
        if name in r:
            x = r[name]
            rows.append((name.replace("_", " ") + f" ({x['appeals']} appeals)", "", f"median {x['median_ms']} ms",
                         target))
    if "rollup_refresh" in r:
        x = r["rollup_refresh"]
        groups = "all" if x["groups"] is None else x["groups"]
        rows.append(("rollup refresh (worker job)", "", f"{x['seconds']} s: {groups} groups, {x['rows']} rows", ""))
    if "import" in r:
        x = r["import"]
        rows.append((f"one-form import {x['rows']} rows", f"{x['rows_per_s']} rows/s",
                     f"peak RSS {x['peak_rss_mib']} MiB, CPU {x.get('cpu_s')} s", "≥10,000 rows/s, <1 GiB"))
        if "reimport" in x:
            y = x["reimport"]
            rows.append(("one-form re-import, unchanged", f"{y['rows_per_s']} rows/s",
                         f"peak RSS {y['peak_rss_mib']} MiB, CPU {y.get('cpu_s')} s", ""))
    if "point_to_grid" in r:
        x = r["point_to_grid"]
        rows.append((f"point → grid ({x['grids']} grids)", f"{x['lookups_per_s']}/s one by one, "
                     f"{x['bulk_lookups_per_s']}/s batched", f"index build {x['index_build_s']} s", "≥50,000/s"))
    if "vote_tally" in r:
        x = r["vote_tally"]
        rows.append((f"vote tally ({x['electorate']} households)", "", f"load {x['load_s']} s, tally {x['tally_s']} s",
                     ""))
    if "points_audit" in r:
        x = r["points_audit"]
        rows.append((f"points audit ({x['accounts']} accounts)", "", f"{x['seconds']} s", ""))
    lines = ["| scenario | rate | latency / memory | target |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def run_server_scenarios(args, ctx, only, scen):
    server = Server(args.workers)
    try:
        if "intake" in only:
            print("intake …", flush=True)
            scen["intake"] = scenario_intake(server, ctx, args.clients, args.seconds, 100_000)
            scen["intake"]["peak_worker_rss_mib"] = peak_rss_mib(server.worker_pids())
        if "pgbench" in only:
            statements, script = capture_intake_sql(ctx)
            scen["intake_sql"] = {"queries": statements, "script": script}
            print("pgbench …", flush=True)
            scen["pgbench_intake"] = scenario_pgbench(script, args.clients, args.seconds)
            if "intake" in scen and scen["pgbench_intake"]["tps"]:
                scen["intake_vs_pgbench"] = scen["intake"]["throughput_per_s"] / scen["pgbench_intake"]["tps"]
        if "inbox" in only:
            print("inbox …", flush=True)
            for name, key in (("inbox_grid_worker", "grid"), ("inbox_community_worker", "community")):
                scen[name] = {**scenario_get(server, ctx[f"{key}_worker_headers"], "/api/appeals/inbox", 200),
                              "open": ctx[f"{key}_open"]}
        if "rollups" in only:
            from gongzhi.appeals.models import Appeal
            from gongzhi.places.models import Place
            from gongzhi.appeals.services import refresh_rollups
            print("rollups …", flush=True)
            # What the worker does every 5 minutes (a full build the first time a dataset is used).
            started = time.perf_counter()
            done = refresh_rollups()
            scen["rollup_refresh"] = {**done, "seconds": round(time.perf_counter() - started, 2)}
            end = date.today()
            period = f"&start={end - timedelta(days=364)}&end={end}"
            for name, place_id, n, warm in (("rollup_city_year", ctx["city_id"], 5, 1),
                                            ("rollup_subdistrict_year", ctx["subdistrict_id"], 5, 1)):
                place = Place.objects.get(pk=place_id)
                scen[name] = {**scenario_get(server, ctx["city_headers"],
                                             f"/api/appeals/metrics?place_id={place_id}{period}", n, warm),
                              "appeals": Appeal.objects.filter(place__path__startswith=place.path).count()}
        scen["server_peak_worker_rss_mib"] = peak_rss_mib(server.worker_pids())
    finally:
        server.stop()


def run_profiles(ctx):
    from gongzhi.accounts.models import User
    from gongzhi.appeals import metrics
    from gongzhi.places.models import Place
    from gongzhi.points.services import audit_ledger
    profiles = {"intake": profile_intake(ctx)}
    officer = User.objects.get(username="bench-city-bureau")
    subdistrict = Place.objects.get(pk=ctx["subdistrict_id"])
    now = datetime.now(dt_timezone.utc)
    profiles["rollup_subdistrict_year"] = profile_call(
        lambda: metrics.compute(officer, subdistrict, now - timedelta(days=365), now))
    profiles["points_audit"] = profile_call(audit_ledger)
    return profiles


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="small")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help="comma-separated scenarios to run (default all; 'none' only generates): "
                        + ", ".join(SCENARIOS))
    parser.add_argument("--data", help="the kept cluster's directory (bench/run): generate once, reuse after")
    args = parser.parse_args()
    from django.core.management import call_command
    from gongzhi.core.gen import generate

    only = set(args.only.split(",")) - {"none", ""}
    unknown = only - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    results = {"scale": args.scale, "machine": machine(), "load_before": load_average(), "only": sorted(only)}
    print(f"machine: {results['machine']}  load {results['load_before']}", flush=True)
    call_command("migrate", verbosity=0)
    marker = Path(args.data) / f"generated-{args.scale}-{args.seed}.json" if args.data else None
    if marker and marker.exists():
        results["generate"] = {**json.loads(marker.read_text()), "reused": str(marker)}
    else:
        results["generate"] = generate(args.scale, args.seed)
        if marker:
            marker.write_text(json.dumps(results["generate"], ensure_ascii=False))
    if not only:
        return
    ctx = context(args.workers)
    scen = results["scenarios"] = {}
    if only & {"intake", "pgbench", "inbox", "rollups"}:
        run_server_scenarios(args, ctx, only, scen)
    if "import" in only:
        print("import …", flush=True)
        scen["import"] = scenario_import(ctx, args.import_rows)
    if "locate" in only:
        print("point → grid …", flush=True)
        scen["point_to_grid"] = scenario_locate(ctx, 100_000)
    if "tally" in only:
        print("tally …", flush=True)
        scen["vote_tally"] = scenario_tally(ctx)
    if "audit" in only:
        print("points audit …", flush=True)
        scen["points_audit"] = scenario_points_audit()
    if "profiles" in only:
        print("profiles …", flush=True)
        results["profiles"] = run_profiles(ctx)
    results["table_sizes"] = table_sizes()
    results["bench_process_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    results["load_after"] = load_average()
    text = table(results)
    results["table"] = text
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "" if only == set(SCENARIOS) else "-" + "-".join(sorted(only))
    out = out_dir / f"{datetime.now(dt_timezone.utc):%Y%m%d-%H%M}-{args.scale}{suffix}.json"
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str))
    m = results["machine"]
    print(f"\n{m['date']} · {m['cpu']} · {m['cores']} cores · {m['ram_gib']} GiB · {m['db']} · scale {args.scale}"
          f" · load {results['load_before']} → {results['load_after']}")
    print(text)
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
