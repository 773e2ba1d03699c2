"""gongzhi gen: write a synthetic, deterministic benchmark dataset (tiny … city) into the configured database."""

import json

from django.core.management.base import BaseCommand, CommandError

from gongzhi.core.gen import SCALES, generate


class Command(BaseCommand):
    help = "Generate a synthetic city (places, households, persons, logins, a year of appeals, points) for benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=list(SCALES), default="small")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--json", dest="json_path", help="Also write the per-table timings to this file.")

    def handle(self, *args, scale, seed, json_path=None, **options):
        try:
            report = generate(scale, seed, out=self.stdout.write)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if json_path:
            with open(json_path, "w") as fh:
                _dump(report, fh)


def _dump(report, fh):
    json.dump(report, fh, ensure_ascii=False, indent=2)
