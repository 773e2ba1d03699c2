"""Profile the one-form import in-process: a new import of the bench's file, then the same file again, rolled back.

Usage (PostgreSQL from scripts/pg start; generates the small dataset on an empty database; the file is kept in
$TMPDIR for later runs; prints wall time, this process's and the PostgreSQL backend's CPU seconds):
    DATABASE_URL=… GONGZHI_VAR_DIR=… .venv/bin/python bench/import_profile.py [--rows 100000] [--profile] [--keep]
"""

import argparse
import cProfile
import os
import pstats
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")
os.environ.setdefault("GONGZHI_DEBUG", "0")  # DEBUG keeps every query in memory

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="print the top functions of each run")
    parser.add_argument("--keep", action="store_true", help="commit the new import instead of rolling back")
    args = parser.parse_args()
    from django.core.management import call_command
    from bench import import_file
    from gongzhi.accounts.models import RoleAssignment
    from gongzhi.accounts.roles import Role
    from gongzhi.core.gen import generate
    from gongzhi.places.models import Kind, Place
    from gongzhi.registry.oneform import import_register

    call_command("migrate", verbosity=0)
    if not Place.objects.filter(kind=Kind.COMMUNITY).exists():
        generate("small", 1, out=lambda *a, **k: None)
    role = RoleAssignment.objects.filter(role=Role.COMMUNITY_SECRETARY).order_by("place_id").first()
    community, user = role.place, role.user
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"gongzhi-import-{community.pk}-{args.rows}.xlsx"
    if not path.exists():
        import_file(community, args.rows, path)
    data = path.read_bytes()

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()" if connection.vendor == "postgresql" else "SELECT NULL")
        backend = cursor.fetchone()[0]

    def server_cpu():  # the PostgreSQL backend's CPU seconds (same machine)
        if backend is None:
            return 0.0
        fields = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def run(label):
        load = os.getloadavg()[0]
        profile = cProfile.Profile() if args.profile else None
        cpu, db_cpu = time.process_time(), server_cpu()
        started = time.perf_counter()
        if profile:
            profile.enable()
        report = import_register(user, community, path.name, data, dry_run=False)
        if profile:
            profile.disable()
        elapsed = time.perf_counter() - started
        cpu, db_cpu = time.process_time() - cpu, server_cpu() - db_cpu
        print(f"{label}: {report.rows} rows in {elapsed:.1f} s = {report.rows / elapsed:,.0f} rows/s; "
              f"CPU {cpu:.1f} s here + {db_cpu:.1f} s in PostgreSQL "
              f"(+{report.persons_created} ~{report.persons_updated} ={report.unchanged}, "
              f"{len(report.errors)} errors; load {load:.2f}; process peak RSS "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)", flush=True)
        if profile:
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            pstats.Stats(profile).sort_stats("cumulative").print_stats("gongzhi/", 25)

    with transaction.atomic():
        run("new")
        run("re-import")
        if not args.keep:
            transaction.set_rollback(True)


if __name__ == "__main__":
    main()
