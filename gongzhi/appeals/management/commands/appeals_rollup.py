"""gongzhi appeals_rollup: bring the appeal metrics' daily rollup up to date, or rebuild it after a bulk load."""

import time

from django.core.management.base import BaseCommand

from gongzhi.appeals.services import refresh_rollups


class Command(BaseCommand):
    help = "Refresh the daily rollup behind the appeal metrics (the worker does this every 5 minutes)."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true",
                            help="recompute every day from the appeals (after a bulk load or a change of places)")

    def handle(self, *args, rebuild, **options):
        started = time.perf_counter()
        done = refresh_rollups(rebuild=rebuild)
        groups = "all" if done["groups"] is None else done["groups"]
        self.stdout.write(f"rollup {'rebuilt' if rebuild else 'refreshed'}: {groups} groups over {done['days']} days, "
                          f"{done['rows']} rows written in {time.perf_counter() - started:.2f} s")
