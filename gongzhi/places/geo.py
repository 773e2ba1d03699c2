"""Point → grid lookup: an immutable snapshot of the grids with a uniform cell hash, swapped whole on change."""

import math
import threading
import time

import numpy as np
import shapely
from django.db import transaction
from django.db.models import Count, Max, TextField
from django.db.models.functions import Cast
from shapely import STRtree
# The ufunc behind shapely.intersects_xy, whose wrapper spends ~6 µs a call on argument handling and
# re-preparing: the index prepares its geometries once, and this call is the hot path of a lookup.
from shapely.lib import intersects_xy

from .models import GRID_KINDS, Place

_RECHECK_SECONDS = 5.0
_AREA_TYPES = [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON]
# Every column but the boundary: kept with the index (and refreshed with it) so locate() needs no query.
_ROW_FIELDS = [f.attname for f in Place._meta.concrete_fields if f.attname != "boundary"]
# Hash cells across a typical grid (each way): about 18 cells a grid, most of them wholly inside it. Not a
# whole number, so grids drawn on a regular lattice do not have their edges on cell edges.
_CELLS_ACROSS = 4.3
# Upper bounds for sparse, very uneven or huge overlapping grids (cells then grow): cells in the hash (8 bytes
# each), and (cell, grid or edge) pairs looked at while building (~20 bytes each, for a moment).
_MAX_CELLS = 1 << 21
_MAX_PAIRS = 1 << 22


class Snapshot:
    """One generation of the grids, never changed once built: a lookup holding it sees one consistent set.

    A point belongs to every grid whose boundary covers it (edges included); where several do (overlap, shared
    edge), the smallest grid by area wins, ties going to the one listed first. The cell hash keeps, per cell,
    the grids whose boundary meets the cell in that order; a cell wholly inside its first grid answers with
    no geometry test at all.
    """

    def __init__(self, geoms, ids=None, rows=None, stamp=None, epoch=None):
        self.geoms = np.empty(len(geoms), dtype=object)
        self.geoms[:] = list(geoms)
        shapely.prepare(self.geoms)
        self.prepared = self.geoms.tolist()  # the same geometries: a list indexes faster in find()
        count = len(self.geoms)
        self.ids = list(range(count)) if ids is None else ids
        self.rows = rows
        self.stamp, self.epoch = stamp, epoch
        self.areas = shapely.area(self.geoms) if count else np.empty(0)
        # Position → rank (0 = preferred): by area, then by position.
        self.rank = np.empty(count, dtype=np.int64)
        self.rank[np.lexsort((np.arange(count), self.areas))] = np.arange(count)
        self.tree = STRtree(self.geoms)
        self._build_cells()

    @classmethod
    def from_rows(cls, rows, stamp=None, epoch=None) -> "Snapshot":
        """From (GeoJSON text, id, *other fields) rows. GEOS parses the text in one vectorised call (~3× faster
        than shape() on dicts); a boundary that is no polygon (written around validate_boundary) is left out
        rather than failing every lookup."""
        geoms = shapely.from_geojson([r[0] for r in rows], on_invalid="ignore")
        usable = np.isin(shapely.get_type_id(geoms), _AREA_TYPES) & ~shapely.is_empty(geoms)
        rows = [r for r, ok in zip(rows, usable.tolist()) if ok]
        return cls(geoms[usable], [r[1] for r in rows], [r[1:] for r in rows], stamp, epoch)

    # -- building

    def _build_cells(self):
        count = len(self.geoms)
        if not count:
            self.x0, self.y0, self.x1, self.y1 = 1.0, 1.0, 0.0, 0.0  # an empty extent: every point misses
            self.nx, self.ny, self.fx, self.fy, self.cells = 1, 1, 0.0, 0.0, []
            return
        bounds = shapely.bounds(self.geoms)
        x0, y0 = bounds[:, 0].min(), bounds[:, 1].min()
        x1, y1 = bounds[:, 2].max(), bounds[:, 3].max()
        # The grids' edges. Coordinates are read without splitting a grid into its rings (no copies), so a hole
        # or second part adds one made-up edge from the ring before: harmless (see below).
        coords, owner = shapely.get_coordinates(self.geoms, return_index=True)
        same = owner[1:] == owner[:-1]
        a, b = coords[:-1][same], coords[1:][same]
        edges = np.column_stack([np.minimum(a, b), np.maximum(a, b)])
        edge_owner = owner[:-1][same]
        del coords, owner, same, a, b
        boxes = np.concatenate([bounds, edges])

        # Cell size from the typical grid, grown if the extent would need too many cells or the boxes too many
        # pairs.
        dx = float(np.median(bounds[:, 2] - bounds[:, 0])) / _CELLS_ACROSS or (x1 - x0) or 1.0
        dy = float(np.median(bounds[:, 3] - bounds[:, 1])) / _CELLS_ACROSS or (y1 - y0) or 1.0
        while True:
            nx, ny = int((x1 - x0) / dx) + 1, int((y1 - y0) / dy) + 1
            pairs = float(np.sum(((boxes[:, 2] - boxes[:, 0]) / dx + 2) * ((boxes[:, 3] - boxes[:, 1]) / dy + 2)))
            excess = max(nx * ny / _MAX_CELLS, pairs / _MAX_PAIRS)
            if excess <= 1:
                break
            dx, dy = dx * max(1.01, math.sqrt(excess)), dy * max(1.01, math.sqrt(excess))
        self.x0, self.y0, self.x1, self.y1 = float(x0), float(y0), float(x1), float(y1)
        self.nx, self.ny, self.fx, self.fy = nx, ny, 1.0 / dx, 1.0 / dy
        # A cell is judged as a box a hair larger than itself, so a point that rounds into a neighbouring cell
        # still lies in the box its cell was judged by; boxes are matched to cells with twice that slack.
        margin = 1e-6 * max(dx, dy) + 1e-12 * max(abs(x0), abs(x1), abs(y0), abs(y1))

        def cells_under(xmin, ymin, xmax, ymax):
            """(box, cell) for every cell each box overlaps (cells as int32: at most _MAX_CELLS of them)."""
            c0, c1 = (np.clip(np.floor((x - x0) / dx), 0, nx - 1).astype(np.int32)
                      for x in (xmin - 2 * margin, xmax + 2 * margin))
            r0, r1 = (np.clip(np.floor((y - y0) / dy), 0, ny - 1).astype(np.int32)
                      for y in (ymin - 2 * margin, ymax + 2 * margin))
            widths = c1 - c0 + 1
            per_box = widths.astype(np.int64) * (r1 - r0 + 1)
            item = np.repeat(np.arange(len(c0), dtype=np.int32), per_box)
            offset = np.arange(len(item), dtype=np.int64) - np.repeat(np.cumsum(per_box) - per_box, per_box)
            down, across = np.divmod(offset, widths[item])
            down += r0[item]
            across += c0[item]
            down *= nx
            down += across
            return item, down.astype(np.int32)

        # Cells an edge passes through, from the edge's bounding box: exact for the axis-parallel and short
        # edges of real boundaries, more than needed for long slanted ones (those cells are then answered by a
        # geometry test, never wrongly).
        edge, edge_cell = cells_under(*edges.T)
        crossed = np.sort(edge_cell.astype(np.int64) * count + edge_owner[edge])
        del edges, edge_owner, edge, edge_cell

        # Every (grid, cell) under the grid's bounding box. No edge in the cell: the cell lies wholly inside
        # or wholly outside the grid, and its centre tells which.
        grid, cell = cells_under(*bounds.T)
        key = cell.astype(np.int64) * count + grid
        on_edge = crossed[np.minimum(np.searchsorted(crossed, key), len(crossed) - 1)] == key
        del key, crossed
        clear = ~on_edge
        inside = np.zeros(len(cell), dtype=bool)
        inside[clear] = shapely.intersects_xy(self.geoms[grid[clear]], x0 + (cell[clear] % nx + 0.5) * dx,
                                              y0 + (cell[clear] // nx + 0.5) * dy)
        keep = on_edge | inside
        cell, grid, covers = cell[keep], grid[keep], inside[keep]

        # Per cell, its grids in preference order. A cell wholly inside its first grid stores just that grid;
        # any other keeps its grids up to the first that covers it whole (those after can never win there).
        order = np.lexsort((self.rank[grid], cell))
        cell, grid, covers = cell[order], grid[order], covers[order]
        starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
        ends = np.r_[starts[1:], len(cell)]
        covering = np.r_[np.flatnonzero(covers), len(cell)]  # (the last one only stops the search)
        cut = np.minimum(covering[np.searchsorted(covering, starts)] + 1, ends)
        whole = covers[starts] & (cut - starts == 1)
        positions = np.empty(count, dtype=object)
        positions[:] = range(count)  # one int object per grid, shared by every cell that names it
        cells = np.full(nx * ny, None, dtype=object)
        cells[cell[starts[whole]]] = positions[grid[starts[whole]]]
        grids, shared = positions[grid].tolist(), {}
        for at, start, end in zip(cell[starts[~whole]].tolist(), starts[~whole].tolist(), cut[~whole].tolist()):
            found = tuple(grids[start:end])
            cells[at] = shared.setdefault(found, found)  # equal lists are kept once
        self.cells = cells.tolist()

    # -- looking up

    def find(self, latitude: float, longitude: float) -> int | None:
        """Position of the grid for this point, None outside every grid."""
        latitude, longitude = float(latitude), float(longitude)  # a Decimal would not mix with the float bounds
        if not (self.x0 <= longitude <= self.x1 and self.y0 <= latitude <= self.y1):
            return None  # also NaN
        # The far edges of the extent may round one cell past the last.
        col = min(int((longitude - self.x0) * self.fx), self.nx - 1)
        row = min(int((latitude - self.y0) * self.fy), self.ny - 1)
        cell = self.cells[row * self.nx + col]
        if cell is None or cell.__class__ is int:
            return cell
        geoms = self.prepared
        for i in cell:
            if intersects_xy(geoms[i], longitude, latitude):  # GeoJSON order
                return i
        return None

    def find_many(self, latitudes, longitudes) -> np.ndarray:
        """Positions for many points in one vectorised tree query: -1 outside every grid."""
        found = np.full(len(latitudes), -1, dtype=np.int64)
        if not len(found) or not len(self.geoms):
            return found
        point, grid = self.tree.query(shapely.points(longitudes, latitudes), predicate="intersects")
        order = np.lexsort((self.rank[grid], point))
        point, grid = point[order], grid[order]
        first = np.unique(point, return_index=True)[1]
        found[point[first]] = grid[first]
        return found


class GridIndex:
    """The current Snapshot of the grids, rebuilt when they change: the swap is one reference assignment."""

    def __init__(self):
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._epoch = object()  # replaced by invalidate(): a snapshot built before then is stale
        self._checked = 0.0

    def _grids(self):
        return Place.objects.filter(kind__in=GRID_KINDS, boundary__isnull=False)

    def snapshot(self) -> Snapshot:
        snap = self._snapshot
        if snap is not None and snap.epoch is self._epoch:
            if time.monotonic() - self._checked < _RECHECK_SECONDS:
                return snap
            # Time to compare with the database: one thread does; the others go on with this snapshot.
            if not self._lock.acquire(blocking=False):
                return snap
        else:
            self._lock.acquire()  # invalidated or never built: wait for the fresh one
        try:
            return self._refresh()
        finally:
            self._lock.release()

    def _refresh(self) -> Snapshot:
        epoch, snap = self._epoch, self._snapshot
        stamp = self._stamp()
        self._checked = time.monotonic()
        if snap is None or snap.epoch is not epoch or snap.stamp != stamp:
            snap = self._snapshot = Snapshot.from_rows(self._rows(), stamp, epoch)
        return snap

    def _stamp(self):
        return self._grids().aggregate(n=Count("id"), t=Max("updated_at"))

    def _rows(self) -> list[tuple]:
        """(boundary as GeoJSON text, *_ROW_FIELDS) of every grid with a boundary."""
        grids = self._grids().annotate(geojson=Cast("boundary", TextField()))
        return list(grids.values_list("geojson", *_ROW_FIELDS))

    def invalidate(self):
        self._new_epoch()
        # Other threads read only committed rows: inside a transaction, invalidate again once it commits.
        transaction.on_commit(self._new_epoch)

    def _new_epoch(self):
        self._epoch = object()

    def locate_id(self, latitude: float, longitude: float) -> int | None:
        snap = self.snapshot()
        found = snap.find(latitude, longitude)
        return None if found is None else snap.ids[found]

    def locate_place(self, latitude: float, longitude: float) -> Place | None:
        """A fresh Place built from the index's copy of the row (boundary left deferred): no query."""
        snap = self.snapshot()
        found = snap.find(latitude, longitude)
        return None if found is None else Place.from_db("default", _ROW_FIELDS, snap.rows[found])

    def locate_ids(self, points) -> list[int | None]:
        """Grid ids of many (latitude, longitude) points, the same as locate_id one by one."""
        snap = self.snapshot()
        coords = np.asarray(points, dtype=float).reshape(-1, 2)
        ids = snap.ids
        return [None if i < 0 else ids[i] for i in snap.find_many(coords[:, 0], coords[:, 1]).tolist()]


grid_index = GridIndex()


def locate(latitude: float, longitude: float) -> Place | None:
    return grid_index.locate_place(latitude, longitude)


def locate_many(points) -> list[Place | None]:
    """The grid of each (latitude, longitude) point, None outside every grid: one tree query, one Place query."""
    ids = grid_index.locate_ids(points)
    places = Place.objects.in_bulk({i for i in ids if i is not None})
    return [places.get(i) for i in ids]
