"""Place pages: breadcrumbs, children, map of grid boundaries, households registered here."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, render

from gongzhi.registry.forms import HouseholdForm
from gongzhi.registry.services import households_in

from .models import HOUSEHOLD_PARENT_KINDS, Place


def _geojson(places):
    features = [{"type": "Feature", "geometry": p.boundary, "properties": {"id": p.pk, "name": p.name}}
                for p in places if p.boundary]
    return {"type": "FeatureCollection", "features": features} if features else None


@login_required
def place_detail(request, pk):
    place = get_object_or_404(Place, pk=pk)
    if not request.user.has_perm("places.view_place", place):
        raise PermissionDenied
    children = list(place.children.annotate(n_households=Count("households")).order_by("name"))
    households = Paginator(households_in(request.user, place).select_related("place").order_by("place__path", "door_no")
                           .annotate(n_members=Count("members")), 50).get_page(request.GET.get("page"))
    points = [{"name": c.name, "lat": c.latitude, "lng": c.longitude} for c in children if c.latitude]
    can_edit = request.user.has_perm("registry.change_place_register", place)
    return render(request, "places/detail.html", {
        "place": place,
        "ancestors": [a for a in place.ancestors() if request.user.has_perm("places.view_place", a)],
        "children": children,
        "households": households,
        "boundaries": _geojson([place] + children),
        "points": points,
        "household_form": HouseholdForm() if can_edit and place.kind in HOUSEHOLD_PARENT_KINDS else None,
        "can_export": request.user.has_perm("registry.export_register", place),
        "can_export_full": request.user.has_perm("registry.export_full", place),
    })
