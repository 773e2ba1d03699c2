"""Point → grid micro-benchmark: index build time, memory and single/batched lookups/s for N lattice grids."""

import argparse
import ctypes
import gc
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_mib(field="VmRSS") -> float:
    """Resident memory now, or its peak with field="VmHWM" (GEOS geometries live outside Python's allocator,
    so tracemalloc would miss them)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def settled_rss_mib() -> float:
    """RSS once freed memory has gone back to the system (glibc keeps it otherwise), and the peak reset."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
    except OSError:
        pass
    return rss_mib()


def sample_points(grids, n, seed=3):
    """n (lat, lng) points: each inside a random grid's bounding box ((x0, y0), (dx, dy)), as bench.py draws them."""
    rng = random.Random(seed)
    points = []
    for _ in range(n):
        (x0, y0), (dx, dy) = rng.choice(grids)
        points.append((y0 + dy * rng.random(), x0 + dx * rng.random()))
    return points


def _timed(run):
    """(result, wall seconds, CPU seconds of this process): on a shared machine the CPU figure is the steadier."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def measure(points) -> dict:
    """Build the index from the database, then look every point up one by one and all at once."""
    from gongzhi.places import geo
    from gongzhi.places.models import GRID_KINDS, Place

    # A fresh index, as a new worker process has (the previous one is dropped, so only this one is counted).
    shared, grid_index = geo.grid_index, geo.GridIndex()
    geo.grid_index = grid_index
    try:
        before = settled_rss_mib()
        _, build, build_cpu = _timed(lambda: grid_index.locate_id(0, 0))
        peak = rss_mib("VmHWM") - before
        kept = settled_rss_mib() - before
        found, single, single_cpu = _timed(
            lambda: sum(1 for lat, lng in points if grid_index.locate_id(lat, lng) is not None))
        ids, batched, _ = _timed(lambda: grid_index.locate_ids(points))
        # What the API's batch does: the ids, then one Place query.
        places, many, _ = _timed(lambda: geo.locate_many(points))
        agrees = ids == [grid_index.locate_id(lat, lng) for lat, lng in points]
    finally:
        geo.grid_index = shared
    n = len(points)
    return {"grids": Place.objects.filter(kind__in=GRID_KINDS, boundary__isnull=False).count(),
            "index_build_s": round(build, 3), "index_build_cpu_s": round(build_cpu, 3),
            "index_rss_mib": round(kept, 1), "build_peak_rss_mib": round(peak, 1), "lookups": n, "found": found,
            "lookups_per_s": round(n / single), "lookups_per_cpu_s": round(n / single_cpu),
            "index_batched_per_s": round(n / batched), "bulk_lookups_per_s": round(n / many),
            "bulk_found": sum(1 for p in places if p is not None), "batched_agrees": agrees}


def lattice(count):
    """count grids on gongzhi.core.gen's lattice, in rows as wide as the square root: Place rows and bboxes."""
    from gongzhi.core.gen import CELL, _square
    from gongzhi.places.models import Kind, Place

    width = max(1, round(count ** 0.5))
    places, boxes = [], []
    for i in range(count):
        boundary = _square(i % width, i // width)
        x0, y0 = boundary["coordinates"][0][0]
        places.append(Place(id=i + 1, kind=Kind.GRID, name=f"第{i + 1}网格", path=f"/{i + 1}/", depth=5,
                            boundary=boundary, latitude=y0 + CELL[1] / 2, longitude=x0 + CELL[0] / 2))
        boxes.append(((x0, y0), CELL))
    return places, boxes


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grids", type=int, nargs="+", default=[1_200, 15_000])
    parser.add_argument("--lookups", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the best is reported")
    parser.add_argument("--label", default="", help="stored with the result (e.g. before/after)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    # A throw-away SQLite file holding only the places table: no dataset, no server.
    os.environ["GONGZHI_VAR_DIR"] = tempfile.mkdtemp(prefix="gongzhi-locate-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "gongzhi.settings_test"
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(ROOT))
    import django
    django.setup()
    from django.db import connection
    from gongzhi.places.models import Place

    with connection.schema_editor() as editor:
        editor.create_model(Place)
    results = {"label": args.label, "load_before": [round(x, 2) for x in os.getloadavg()], "sizes": {}}
    for count in args.grids:
        with connection.cursor() as cursor:  # not .delete(): the other apps' tables do not exist here
            cursor.execute(f"DELETE FROM {Place._meta.db_table}")
        places, boxes = lattice(count)
        Place.objects.bulk_create(places, batch_size=2_000)
        points = sample_points(boxes, args.lookups)
        runs = [measure(points) for _ in range(args.repeat)]
        # Best of the runs: other work on a shared machine only ever slows a run down.
        best = {**runs[0], **{key: max(r[key] for r in runs) for key in
                              ("lookups_per_s", "lookups_per_cpu_s", "index_batched_per_s", "bulk_lookups_per_s")},
                **{key: min(r[key] for r in runs) for key in ("index_build_s", "index_build_cpu_s")},
                "runs_lookups_per_s": [r["lookups_per_s"] for r in runs]}
        results["sizes"][count] = best
        print(f"{count:>7} grids: build {best['index_build_s']:.3f} s ({best['index_build_cpu_s']:.3f} s CPU, "
              f"+{best['index_rss_mib']} MiB RSS kept, +{best['build_peak_rss_mib']} MiB peak); "
              f"one by one {best['lookups_per_s']:,}/s "
              f"({best['lookups_per_cpu_s']:,}/CPU-s, runs {best['runs_lookups_per_s']}); batched "
              f"{best['index_batched_per_s']:,}/s, locate_many {best['bulk_lookups_per_s']:,}/s; "
              f"found {best['found']}/{best['lookups']}, batched agrees: {best['batched_agrees']}", flush=True)
    results["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(f"load average before {results['load_before']} after {results['load_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
