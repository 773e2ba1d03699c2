"""API: browse the place tree within scope and find the grid of a point."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from .geo import locate
from .models import Place

router = Router(tags=["places"])


class PlaceOut(Schema):
    id: int
    kind: str
    kind_label: str = Field(alias="get_kind_display")
    name: str
    code: str
    parent_id: int | None
    latitude: float | None
    longitude: float | None


class PlaceDetail(PlaceOut):
    boundary: dict | None
    children: list[PlaceOut]

    @staticmethod
    def resolve_children(obj):
        return list(obj.children.all())


def visible_place(user, place_id) -> Place:
    place = get_object_or_404(Place, pk=place_id)
    if not user.has_perm("places.view_place", place):
        raise PermissionDenied(_("This place is outside your area."))
    return place


@router.get("/", response=list[PlaceOut])
def my_places(request):
    """The top places of the caller's scope."""
    return list(request.user.scope.top_places())


@router.get("/locate", response={200: PlaceOut, 404: dict})
def locate_point(request, lat: float, lng: float):
    """The grid whose boundary contains the point (WGS-84 latitude/longitude)."""
    grid = locate(lat, lng)
    if grid is None:
        return Status(404, {"detail": _("No grid contains this point.")})
    return grid


@router.get("/{place_id}", response=PlaceDetail)
def place_detail(request, place_id: int):
    return visible_place(request.user, place_id)
