"""Domain operations on the place tree: creating nodes and setting grid boundaries."""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from shapely.geometry import shape

from .geo import grid_index
from .models import ALLOWED_CHILDREN, DIVISION_KINDS, Kind, Place

# Digits of the 12-digit division code that each level fills (the rest are zeros).
CODE_DIGITS = {Kind.PROVINCE: 2, Kind.CITY: 4, Kind.DISTRICT: 6, Kind.SUBDISTRICT: 9, Kind.TOWN: 9,
               Kind.COMMUNITY: 12, Kind.VILLAGE: 12}


def validate_boundary(geojson) -> None:
    try:
        geom = shape(geojson)
    except Exception:
        raise ValidationError(_("Boundary is not valid GeoJSON geometry.")) from None
    if geom.geom_type not in ("Polygon", "MultiPolygon") or not geom.is_valid or geom.is_empty:
        raise ValidationError(_("Boundary must be a valid polygon."))


def _validate_code(kind, code, parent):
    if kind not in DIVISION_KINDS or not code:
        return
    digits = CODE_DIGITS[kind]
    if not re.fullmatch(r"\d{12}", code) or set(code[digits:]) - {"0"}:
        raise ValidationError(_("Division code %(code)s is not a 12-digit statistical code for this level.") % {"code": code})
    if parent is not None and parent.code and not code.startswith(parent.code[: CODE_DIGITS[parent.kind]]):
        raise ValidationError(_("Division code %(code)s does not lie within %(parent)s.") % {"code": code, "parent": parent.name})


@transaction.atomic
def create_place(*, kind, name, parent=None, code="", boundary=None, latitude=None, longitude=None, address="") -> Place:
    name = (name or "").strip()
    if not name:
        raise ValidationError(_("Name is required."))
    parent_kind = parent.kind if parent else None
    if kind not in ALLOWED_CHILDREN.get(parent_kind, set()):
        raise ValidationError(_("A %(kind)s cannot be placed under %(parent)s.") % {
            "kind": Kind(kind).label, "parent": parent.name if parent else _("the top level")})
    _validate_code(kind, code, parent)
    if boundary is not None:
        validate_boundary(boundary)
    if Place.objects.filter(parent=parent, name=name).exists():
        raise ValidationError(_("%(name)s already exists here.") % {"name": name})
    place = Place.objects.create(kind=kind, name=name, parent=parent, code=code, boundary=boundary,
                                 latitude=latitude, longitude=longitude, address=address,
                                 depth=(parent.depth + 1) if parent else 0, path="")
    place.path = f"{parent.path if parent else '/'}{place.pk}/"
    place.save(update_fields=["path"])
    if boundary is not None:
        grid_index.invalidate()
    return place


def get_or_create_place(*, kind, name, parent, **fields) -> Place:
    existing = Place.objects.filter(parent=parent, name=name.strip()).first()
    return existing or create_place(kind=kind, name=name, parent=parent, **fields)


@transaction.atomic
def set_boundary(place: Place, boundary) -> Place:
    validate_boundary(boundary)
    place.boundary = boundary
    place.save(update_fields=["boundary", "updated_at"])
    grid_index.invalidate()
    return place
