"""The home page each role lands on, and the large-type switch."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from gongzhi.accounts.roles import Role
from gongzhi.registry.services import unvisited_households


@login_required
def home(request):
    user = request.user
    scope = user.scope
    roles = scope.roles()
    staff_places = list(scope.top_places().annotate(n_children=Count("children")))
    grids = [p for p in staff_places if p.is_grid]
    context = {
        "area_places": [p for p in staff_places if not p.is_grid],
        "grid_cards": [(g, unvisited_households(user, g).count()) for g in grids],
        "person": user.person,
        "can_import": any(user.has_perm("registry.import_register", p) for p in staff_places),
        "role_labels": [Role(r).label for r in sorted(roles)],
    }
    return render(request, "core/home.html", context)


@require_POST
def toggle_large(request):
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        target = "/"
    response = redirect(target)
    large = request.COOKIES.get("gz_large") == "1"
    response.set_cookie("gz_large", "0" if large else "1", max_age=365 * 86400, samesite="Lax")
    return response
