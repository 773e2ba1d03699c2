"""Point → grid lookup over grid boundaries with a shapely STRtree, rebuilt when grids change."""

import threading
import time

import numpy as np
import shapely
from django.db.models import Count, Max
from shapely import STRtree
from shapely.geometry import shape

from .models import GRID_KINDS, Place

_RECHECK_SECONDS = 5.0
# Every column but the boundary: kept with the index (and refreshed with it) so locate() needs no query.
_ROW_FIELDS = [f.attname for f in Place._meta.concrete_fields if f.attname != "boundary"]


class GridIndex:
    def __init__(self):
        self._lock = threading.Lock()
        self._stamp = None
        self._checked = 0.0
        self._tree = None
        self._ids: list[int] = []
        self._rows: list[tuple] = []
        self._geoms = []
        self._areas = np.empty(0)

    def _grids(self):
        return Place.objects.filter(kind__in=GRID_KINDS, boundary__isnull=False)

    def _refresh(self):
        now = time.monotonic()
        if self._tree is not None and now - self._checked < _RECHECK_SECONDS:
            return
        with self._lock:
            stamp = self._grids().aggregate(n=Count("id"), t=Max("updated_at"))
            self._checked = now
            if stamp == self._stamp and self._tree is not None:
                return
            rows = list(self._grids().values_list("boundary", *_ROW_FIELDS))
            self._ids = [r[1] for r in rows]
            self._rows = [r[1:] for r in rows]
            self._geoms = [shape(r[0]) for r in rows]
            self._areas = shapely.area(np.array(self._geoms, dtype=object)) if rows else np.empty(0)
            self._tree = STRtree(self._geoms)
            self._stamp = stamp

    def invalidate(self):
        self._tree = None

    def _locate(self, latitude, longitude) -> int | None:
        self._refresh()
        hits = self._tree.query(shapely.points(longitude, latitude), predicate="intersects")  # GeoJSON order
        if len(hits) == 0:
            return None
        # Overlapping boundaries: the smallest grid is the most specific answer.
        return hits[0] if len(hits) == 1 else min(hits, key=self._areas.__getitem__)

    def locate_id(self, latitude: float, longitude: float) -> int | None:
        found = self._locate(latitude, longitude)
        return None if found is None else self._ids[found]

    def locate_place(self, latitude: float, longitude: float) -> Place | None:
        """A fresh Place built from the index's copy of the row (boundary left deferred): no query."""
        found = self._locate(latitude, longitude)
        return None if found is None else Place.from_db("default", _ROW_FIELDS, self._rows[found])

    def locate_ids(self, points) -> list[int | None]:
        """Grid ids of many (latitude, longitude) points with one vectorised tree query."""
        self._refresh()
        coords = np.asarray(points, dtype=float).reshape(-1, 2)
        found = [None] * len(coords)
        if not len(coords) or not self._ids:
            return found
        point_idx, grid_idx = self._tree.query(shapely.points(coords[:, 1], coords[:, 0]), predicate="intersects")
        # Per point, the smallest of the grids that contain it, as in locate_id.
        order = np.lexsort((self._areas[grid_idx], point_idx))
        point_idx, grid_idx = point_idx[order], grid_idx[order]
        first = np.unique(point_idx, return_index=True)[1]
        for point, grid in zip(point_idx[first].tolist(), grid_idx[first].tolist()):
            found[point] = self._ids[grid]
        return found


grid_index = GridIndex()


def locate(latitude: float, longitude: float) -> Place | None:
    return grid_index.locate_place(latitude, longitude)


def locate_many(points) -> list[Place | None]:
    """The grid of each (latitude, longitude) point, None outside every grid: one tree query, one Place query."""
    ids = grid_index.locate_ids(points)
    places = Place.objects.in_bulk({i for i in ids if i is not None})
    return [places.get(i) for i in ids]
