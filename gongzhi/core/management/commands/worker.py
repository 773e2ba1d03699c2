"""Background worker: runs every registered periodic job on its schedule until stopped."""

import signal
import time

from django.core.management.base import BaseCommand

from gongzhi.core.jobs import discover, run_job


class Command(BaseCommand):
    help = "Run the background worker (escalations, reminders, clean-up)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run every job once and exit.")

    def handle(self, *args, once=False, **options):
        jobs = discover()
        if once:
            for job in jobs.values():
                run_job(job)
            return
        stopping = []
        signal.signal(signal.SIGTERM, lambda *a: stopping.append(True))
        signal.signal(signal.SIGINT, lambda *a: stopping.append(True))
        next_run = {name: 0.0 for name in jobs}
        self.stdout.write(f"worker: {len(jobs)} jobs: {', '.join(jobs)}")
        while not stopping:
            now = time.monotonic()
            for name, job in jobs.items():
                if now >= next_run[name]:
                    run_job(job)
                    next_run[name] = time.monotonic() + job.every_seconds
            time.sleep(1)
