"""Point → grid index: the answers of a brute-force search over every grid; rebuilds readers never see half-done."""

import json
import math
import random
import sys
import threading
import time

import numpy as np
import pytest
import shapely
import shapely.affinity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon, box, mapping

from gongzhi.core.gen import CELL, ORIGIN, _square
from gongzhi.core.testing import square
from gongzhi.places import geo
from gongzhi.places.geo import GridIndex, Snapshot, locate, locate_many
from gongzhi.places.models import Place
from gongzhi.places.services import set_boundary

# Coordinates on a 1/64° lattice are exact binary fractions: points drawn on it fall exactly on grid edges
# and corners, where neighbouring grids share the boundary.
STEP = 1 / 64
LNG, LAT = 114.0, 30.0


def brute_force(geoms, latitude, longitude):
    """The reference: every grid whose boundary covers the point, the smallest by area, ties to the first."""
    geoms = np.asarray(geoms, dtype=object)
    hits = np.flatnonzero(shapely.covers(geoms, Point(longitude, latitude)))
    return min(hits.tolist(), key=lambda i: (shapely.area(geoms[i]), i)) if len(hits) else None


def at(i, j):
    return LNG + i * STEP, LAT + j * STEP


@st.composite
def rectangles(draw):
    i0, j0 = draw(st.integers(0, 14)), draw(st.integers(0, 14))
    return box(*at(i0, j0), *at(i0 + draw(st.integers(1, 6)), j0 + draw(st.integers(1, 6))))


@st.composite
def l_shapes(draw):
    """Concave: a rectangle with one quadrant cut away."""
    i0, j0, w, h = draw(st.integers(0, 12)), draw(st.integers(0, 12)), draw(st.integers(2, 8)), draw(st.integers(2, 8))
    cw, ch = draw(st.integers(1, w - 1)), draw(st.integers(1, h - 1))
    return Polygon([at(i0, j0), at(i0 + w, j0), at(i0 + w, j0 + h - ch), at(i0 + w - cw, j0 + h - ch),
                    at(i0 + w - cw, j0 + h), at(i0, j0 + h)])


@st.composite
def with_holes(draw):
    i0, j0, w, h = draw(st.integers(0, 12)), draw(st.integers(0, 12)), draw(st.integers(3, 8)), draw(st.integers(3, 8))
    hi, hj = draw(st.integers(1, w - 2)), draw(st.integers(1, h - 2))
    hw, hh = draw(st.integers(1, w - 1 - hi)), draw(st.integers(1, h - 1 - hj))
    outer = [at(i0, j0), at(i0 + w, j0), at(i0 + w, j0 + h), at(i0, j0 + h)]
    return Polygon(outer, [[at(i0 + hi, j0 + hj), at(i0 + hi + hw, j0 + hj), at(i0 + hi + hw, j0 + hj + hh),
                            at(i0 + hi, j0 + hj + hh)]])


@st.composite
def multipolygons(draw):
    """Two separate parts side by side (a valid MultiPolygon)."""
    first = draw(rectangles())
    x1 = (first.bounds[2] - LNG) / STEP
    gap = draw(st.integers(1, 4))
    j0 = draw(st.integers(0, 14))
    second = box(*at(x1 + gap, j0), *at(x1 + gap + draw(st.integers(1, 4)), j0 + draw(st.integers(1, 4))))
    return MultiPolygon([first, second])


@st.composite
def stars(draw):
    """Irregular and concave, off the lattice: radii at increasing angles around a centre."""
    cx, cy = at(draw(st.floats(2, 16)), draw(st.floats(2, 16)))
    n = draw(st.integers(5, 12))
    radii = draw(st.lists(st.floats(0.3, 3.0), min_size=n, max_size=n))
    return Polygon([(cx + r * STEP * math.cos(2 * math.pi * k / n), cy + r * STEP * math.sin(2 * math.pi * k / n))
                    for k, r in enumerate(radii)])


grids = st.lists(st.one_of(rectangles(), l_shapes(), with_holes(), multipolygons(), stars()), min_size=1, max_size=12)


@st.composite
def points_for(draw, geoms):
    """(lat, lng) points: on the lattice (edges and corners included), the grids' own vertices, anywhere."""
    lattice = st.builds(lambda i, j: at(i, j)[::-1], st.integers(-2, 34), st.integers(-2, 34))
    vertices = [(y, x) for g in geoms for part in getattr(g, "geoms", [g])
                for ring in [part.exterior, *part.interiors] for x, y in ring.coords]
    anywhere = st.tuples(st.floats(LAT - 4 * STEP, LAT + 34 * STEP), st.floats(LNG - 4 * STEP, LNG + 34 * STEP))
    return draw(st.lists(st.one_of(lattice, st.sampled_from(vertices), anywhere), min_size=1, max_size=60))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), geoms=grids)
def test_index_answers_like_brute_force(data, geoms):
    geoms = [g for g in geoms if g.is_valid]  # as validate_boundary lets in
    if not geoms:
        return
    snap = Snapshot(geoms)
    points = data.draw(points_for(geoms))
    expected = [brute_force(geoms, lat, lng) for lat, lng in points]
    assert [snap.find(lat, lng) for lat, lng in points] == expected
    lats, lngs = np.array(points).T
    assert [None if i < 0 else i for i in snap.find_many(lats, lngs).tolist()] == expected


@settings(max_examples=300, deadline=None)
@given(ox=st.floats(73, 135), oy=st.floats(18, 53), w=st.floats(0.0005, 0.02), h=st.floats(0.0005, 0.02),
       n=st.integers(1, 24), skip=st.integers(1, 2), along=st.lists(st.floats(0, 1), min_size=1, max_size=4))
def test_points_on_float_lattice_edges_answer_like_brute_force(ox, oy, w, h, n, skip, along):
    """Squares as the generator draws them (float corners, every one or every other): points exactly on
    their edges, where the rounding of cell numbers matters."""
    geoms = [box(ox + i * w, oy, ox + (i + 1) * w, oy + h * (1 + i / 64)) for i in range(0, n, skip)]
    snap = Snapshot(geoms)
    points = [(oy + h * t, g.bounds[k]) for g in geoms for k in (0, 2) for t in along]
    points += [(g.bounds[k], ox + w * t) for g in geoms for k in (1, 3) for t in along]
    assert [snap.find(lat, lng) for lat, lng in points] == [brute_force(geoms, lat, lng) for lat, lng in points]


def test_shared_edge_goes_to_the_smaller_grid_then_the_first():
    big, small, twin = box(*at(0, 0), *at(4, 4)), box(*at(4, 0), *at(6, 2)), box(*at(4, 2), *at(6, 4))
    snap = Snapshot([big, small, twin])
    assert snap.find(LAT + STEP, LNG + 4 * STEP) == 1  # on the edge between big and small
    assert snap.find(LAT + 4 * STEP, LNG + 4 * STEP) == 2  # a corner of big and of twin: the smaller
    assert snap.find(LAT + 2 * STEP, LNG + 5 * STEP) == 1  # small and twin: same area, small is listed first
    assert snap.find(LAT + STEP, LNG + 4 * STEP - 1e-12) == 0  # just inside big
    assert snap.find(LAT + 4 * STEP + 1e-9, LNG + STEP) is None  # just outside every grid


def test_an_edge_that_falls_on_a_cell_edge_still_counts():
    # Found by search: grid 5's west edge lies where two hash cells meet, and a point on it rounds into the
    # cell outside the grid. The cells' slack is what keeps that point in grid 5.
    ox, oy, w, h = 119.66434133483982, 25.53828662601073, 0.006076647472454156, 0.0025495679789185846
    geoms = [box(ox + i * w, oy, ox + (i + 1) * w, oy + h * (1 + i / 100)) for i in range(0, 12, 2)]
    lat, lng = oy + h / 2, ox + 10 * w
    assert Snapshot(geoms).find(lat, lng) == brute_force(geoms, lat, lng) == 5


def test_odd_points_and_no_grids_answer_none():
    snap = Snapshot([box(*at(0, 0), *at(1, 1))])
    for lat, lng in [(math.nan, LNG), (LAT, math.inf), (-math.inf, LNG), (LAT + 2 * STEP, LNG), (0.0, 0.0)]:
        assert snap.find(lat, lng) is None
    assert snap.find(LAT + STEP, LNG + STEP) == 0  # the far corner: on the extent's last edge
    empty = Snapshot([])
    assert empty.find(LAT, LNG) is None
    assert empty.find_many(np.array([LAT]), np.array([LNG])).tolist() == [-1]


def test_uneven_grids_keep_the_hash_small(monkeypatch):
    # One huge village grid and many tiny ones: the typical size would ask for millions of cells.
    monkeypatch.setattr(geo, "_MAX_CELLS", 20_000)
    rng = random.Random(4)
    geoms = [box(100, 20, 120, 40)] + [box(x, y, x + 0.001, y + 0.001) for x, y in
                                       ((rng.uniform(100, 130), rng.uniform(20, 40)) for _ in range(300))]
    snap = Snapshot(geoms)
    assert len(snap.cells) <= 20_000
    points = [(rng.uniform(19, 41), rng.uniform(99, 131)) for _ in range(300)]
    points += [(g.bounds[1] + 0.0005, g.bounds[0] + 0.0005) for g in geoms[1:]]
    assert [snap.find(lat, lng) for lat, lng in points] == [brute_force(geoms, lat, lng) for lat, lng in points]


def test_many_huge_overlapping_grids_keep_the_build_small(monkeypatch):
    # Grids drawn (wrongly) as whole districts over a lattice of small ones: each would span every cell.
    monkeypatch.setattr(geo, "_MAX_PAIRS", 30_000)
    rng = random.Random(5)
    geoms = [box(114 - k * 0.01, 30 - k * 0.01, 115 + k * 0.01, 31 + k * 0.01) for k in range(40)]
    geoms += [box(x, y, x + 0.01, y + 0.01) for x in np.arange(114, 115, 0.05) for y in np.arange(30, 31, 0.05)]
    snap = Snapshot(geoms)
    assert len(snap.cells) * 40 <= 30_000
    points = [(rng.uniform(29.5, 31.5), rng.uniform(113.5, 115.5)) for _ in range(300)]
    points += [(g.bounds[1] + 0.005, g.bounds[0] + 0.005) for g in geoms[40:]]
    assert [snap.find(lat, lng) for lat, lng in points] == [brute_force(geoms, lat, lng) for lat, lng in points]


def lattice_rows(count, id_from=1):
    """count grids of gongzhi.core.gen's lattice as Snapshot.from_rows takes them (GeoJSON text, id)."""
    width = round(count ** 0.5)
    return [(json.dumps(_square(i % width, i // width)), id_from + i) for i in range(count)]


def test_fifteen_thousand_grids_answer_like_brute_force():
    rows = lattice_rows(15_000)
    snap = Snapshot.from_rows(rows)
    assert len(snap.ids) == 15_000
    assert len(snap.cells) <= 25 * 15_000  # memory: a few cells a grid (bench/locate.py measures bytes and time)
    rng = random.Random(2)
    width = round(15_000 ** 0.5)
    points = [(ORIGIN[1] + rng.uniform(-1, width + 2) * CELL[1], ORIGIN[0] + rng.uniform(-1, width + 1) * CELL[0])
              for _ in range(300)]
    # Exactly on the lattice lines: shared edges and corners, computed as the squares' own coordinates are.
    points += [(ORIGIN[1] + r * CELL[1], ORIGIN[0] + c * CELL[0] + CELL[0] / 2) for c, r in
               ((rng.randrange(width), rng.randrange(width)) for _ in range(100))]
    points += [tuple(reversed(json.loads(text)["coordinates"][0][2])) for text, _ in rng.sample(rows, 100)]
    geoms = list(snap.geoms)
    found = [snap.find(lat, lng) for lat, lng in points]
    assert found == [brute_force(geoms, lat, lng) for lat, lng in points]
    assert sum(f is not None for f in found) > 400  # most points do land in a grid


def test_bad_rows_are_left_out():
    point = {"type": "Point", "coordinates": [LNG, LAT]}
    rows = [(json.dumps(square(LNG, LAT)), 1), ("{not json", 2), (json.dumps(point), 3), ("null", 4)]
    snap = Snapshot.from_rows(rows)
    assert snap.ids == [1]
    assert snap.find(LAT + 0.005, LNG + 0.005) == 0


class _Generations(GridIndex):
    """A GridIndex whose grids come from memory: generation A or B, switched by the test."""

    def __init__(self, generations):
        super().__init__()
        self.generations, self.current = generations, 0

    def _stamp(self):
        return self.current

    def _rows(self):
        return self.generations[self.current]


@pytest.mark.django_db  # invalidate() registers an on-commit hook
def test_lookups_during_rebuilds_see_one_generation_or_the_other(monkeypatch):
    # Generation A: a lattice; B: the same grids shifted by half a cell, fewer of them, with other ids.
    a = lattice_rows(900, id_from=1)
    b = [(json.dumps(mapping(shapely.affinity.translate(shapely.from_geojson(t), CELL[0] / 2))),
          100_000 + i) for t, i in lattice_rows(700)]
    index = _Generations([a, b])
    answers = [Snapshot.from_rows(rows) for rows in (a, b)]
    rng = random.Random(6)
    points = [(ORIGIN[1] + rng.uniform(0, 30) * CELL[1], ORIGIN[0] + rng.uniform(0, 30) * CELL[0]) for _ in range(300)]
    expected = [{None if s.find(*p) is None else s.ids[s.find(*p)] for s in answers} for p in points]
    seen, errors, done = [], [], threading.Event()

    def keep_looking_up():
        try:
            while not done.is_set():
                for k, (lat, lng) in enumerate(points):
                    seen.append((k, index.locate_id(lat, lng)))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    index.snapshot()
    # Compare with the "database" on every lookup: a changed stamp is rebuilt by one thread while the other
    # goes on with the snapshot it has (invalidate() instead makes lookups wait for the new one).
    monkeypatch.setattr(geo, "_RECHECK_SECONDS", 0.0)
    reader = threading.Thread(target=keep_looking_up)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: any window between two reads shows
    reader.start()
    try:
        for switch in range(40):
            index.current = (switch + 1) % 2
            if switch % 4 == 0:
                index.invalidate()
            index.snapshot()
            time.sleep(0.01)
    finally:
        done.set()
        reader.join()
        sys.setswitchinterval(interval)
    assert not errors
    wrong = [(k, found) for k, found in seen if found not in expected[k]]
    assert not wrong
    ids = {found for _k, found in seen if found is not None}
    assert ids & {i for _t, i in a} and ids & {i for _t, i in b}  # the reader did see both generations


@pytest.mark.django_db
def test_irregular_grids_through_the_database(world):
    # Grid A becomes concave (an L), grid B a square with a hole and a detached part.
    l_shape = Polygon([(114.88, 30.39), (114.90, 30.39), (114.90, 30.40), (114.89, 30.40), (114.89, 30.41),
                       (114.88, 30.41)])
    holed = MultiPolygon([Polygon([(114.95, 30.39), (114.98, 30.39), (114.98, 30.42), (114.95, 30.42)],
                                  [[(114.96, 30.40), (114.97, 30.40), (114.97, 30.41), (114.96, 30.41)]]),
                          box(115.0, 30.39, 115.01, 30.40)])
    set_boundary(world.grid_a, mapping(l_shape))
    set_boundary(world.grid_b, mapping(holed))
    assert locate(30.395, 114.895) == world.grid_a      # in the L's foot
    assert locate(30.405, 114.895) is None              # in the notch
    assert locate(30.40, 114.895) == world.grid_a       # on the notch's edge
    assert locate(30.405, 114.965) is None              # in the hole
    assert locate(30.40, 114.965) == world.grid_b       # on the hole's edge
    assert locate(30.395, 115.005) == world.grid_b      # in the detached part
    assert locate_many([(30.405, 114.965), (30.395, 115.005)]) == [None, world.grid_b]


@pytest.mark.django_db
def test_a_boundary_written_around_validation_does_not_break_lookups(world):
    Place.objects.filter(pk=world.grid_b.pk).update(boundary={"type": "Point", "coordinates": [114.895, 30.395]})
    geo.grid_index.invalidate()
    assert locate(30.395, 114.885) == world.grid_a
    assert locate(30.395, 114.895) is None
