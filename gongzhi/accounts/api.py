"""API: exchange a username or phone and password for a bearer token; who am I."""

from datetime import timedelta

from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from ninja import Router, Schema

from .models import ApiToken

router = Router(tags=["auth"])


class Credentials(Schema):
    username: str
    password: str


class TokenOut(Schema):
    token: str
    expires_in_days: int


class RoleOut(Schema):
    role: str
    role_label: str
    place_id: int
    place_name: str


class MeOut(Schema):
    id: int
    username: str
    full_name: str
    roles: list[RoleOut]


TOKEN_DAYS = 30


@router.post("/token", auth=None, response=TokenOut)
def issue_token(request, credentials: Credentials):
    user = authenticate(request, username=credentials.username, password=credentials.password)
    if getattr(request, "axes_locked_out", False):
        raise PermissionDenied(_("Too many failed attempts; this account is locked for a while."))
    if user is None:
        raise PermissionDenied(_("Wrong username/phone or password."))
    key = ApiToken.issue(user, name="api", lifetime=timedelta(days=TOKEN_DAYS))
    return {"token": key, "expires_in_days": TOKEN_DAYS}


@router.get("/me", response=MeOut)
def me(request):
    user = request.user
    roles = [{"role": r.role, "role_label": r.get_role_display(), "place_id": r.place_id, "place_name": r.place.name}
             for r in user.roles.filter(active=True).select_related("place")]
    return {"id": user.pk, "username": user.username, "full_name": user.full_name, "roles": roles}
