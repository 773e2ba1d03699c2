"""Point → grid lookup: an immutable snapshot of the grid boundaries with a uniform cell hash, swapped whole when grids change."""

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
# Upper bound on the hash (8 bytes a cell) for sparse or very uneven grids: cells then grow.
_MAX_CELLS = 1 << 21
_CELLS_PER_CHUNK = 50_000  # cell boxes made at once while building (bounds the temporary geometries)


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
        if not len(self.geoms):
            self.x0, self.y0, self.x1, self.y1 = 1.0, 1.0, 0.0, 0.0  # an empty extent: every point misses
            self.nx, self.ny, self.fx, self.fy, self.cells = 1, 1, 0.0, 0.0, []
            return
        bounds = shapely.bounds(self.geoms)
        x0, y0 = bounds[:, 0].min(), bounds[:, 1].min()
        x1, y1 = bounds[:, 2].max(), bounds[:, 3].max()
        # Cell size from the typical grid, grown if the extent would need too many cells.
        dx = float(np.median(bounds[:, 2] - bounds[:, 0])) / _CELLS_ACROSS or (x1 - x0) or 1.0
        dy = float(np.median(bounds[:, 3] - bounds[:, 1])) / _CELLS_ACROSS or (y1 - y0) or 1.0
        while (nx := int((x1 - x0) / dx) + 1) * (ny := int((y1 - y0) / dy) + 1) > _MAX_CELLS:
            grow = max(1.01, math.sqrt(nx * ny / _MAX_CELLS))
            dx, dy = dx * grow, dy * grow
        self.x0, self.y0, self.x1, self.y1 = float(x0), float(y0), float(x1), float(y1)
        self.nx, self.ny, self.fx, self.fy = nx, ny, 1.0 / dx, 1.0 / dy
        # Cells are tested a hair larger than they are: a point that rounds into a neighbouring cell is still
        # inside the box that cell was judged by.
        margin = 1e-6 * max(dx, dy) + 1e-12 * max(abs(x0), abs(x1), abs(y0), abs(y1))

        # Every (cell, grid) pair whose boxes meet, from the grids' bounding boxes, in cell then preference order.
        c0 = np.clip(np.floor((bounds[:, 0] - margin - x0) / dx), 0, nx - 1).astype(np.int64)
        c1 = np.clip(np.floor((bounds[:, 2] + margin - x0) / dx), 0, nx - 1).astype(np.int64)
        r0 = np.clip(np.floor((bounds[:, 1] - margin - y0) / dy), 0, ny - 1).astype(np.int64)
        r1 = np.clip(np.floor((bounds[:, 3] + margin - y0) / dy), 0, ny - 1).astype(np.int64)
        widths = c1 - c0 + 1
        per_grid = widths * (r1 - r0 + 1)
        grid = np.repeat(np.arange(len(self.geoms)), per_grid)
        offset = np.arange(len(grid)) - np.repeat(np.cumsum(per_grid) - per_grid, per_grid)
        cell = (r0[grid] + offset // widths[grid]) * nx + c0[grid] + offset % widths[grid]
        order = np.lexsort((self.rank[grid], cell))
        cell, grid = cell[order], grid[order]

        # Which grids meet each cell, and which cover it whole: one box per cell, a chunk of cells at a time.
        unique_cells, starts = np.unique(cell, return_index=True)
        starts = np.r_[starts, len(cell)]
        meets = np.zeros(len(cell), dtype=bool)
        covers = np.zeros(len(cell), dtype=bool)
        for first in range(0, len(unique_cells), _CELLS_PER_CHUNK):
            chunk = unique_cells[first:first + _CELLS_PER_CHUNK]
            col, row = chunk % nx, chunk // nx
            boxes = shapely.box(x0 + col * dx - margin, y0 + row * dy - margin,
                                x0 + (col + 1) * dx + margin, y0 + (row + 1) * dy + margin)
            part = slice(starts[first], starts[first + len(chunk)])
            pair_boxes = np.repeat(boxes, np.diff(starts[first:first + len(chunk) + 1]))
            geoms = self.geoms[grid[part]]
            meets[part] = shapely.intersects(geoms, pair_boxes)
            covers[part] = meets[part] & shapely.covers(geoms, pair_boxes)
        cell, grid, covers = cell[meets], grid[meets], covers[meets]

        # A cell wholly inside its first grid stores just that grid; any other keeps its grids up to the first
        # that covers it whole (those after it can never win there). Equal lists are shared.
        starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
        ends = np.r_[starts[1:], len(cell)]
        covering = np.r_[np.flatnonzero(covers), len(cell)]  # (the last one only stops the search)
        cut = np.minimum(covering[np.searchsorted(covering, starts)] + 1, ends)
        cells = [None] * (nx * ny)
        grids, covered, shared = grid.tolist(), covers.tolist(), {}
        for at, start, end in zip(cell[starts].tolist(), starts.tolist(), cut.tolist()):
            if end - start == 1 and covered[start]:
                cells[at] = grids[start]
            else:
                found = tuple(grids[start:end])
                cells[at] = shared.setdefault(found, found)
        self.cells = cells

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
        return list(self._grids().annotate(geojson=Cast("boundary", TextField())).values_list("geojson", *_ROW_FIELDS))

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
