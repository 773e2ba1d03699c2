"""API: exchange a username or phone, password (and, for staff above grid worker, a TOTP code) for a bearer token;
who am I; change my password."""

from datetime import timedelta

from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from . import otp, services
from .models import ApiToken

router = Router(tags=["auth"])


class Credentials(Schema):
    username: str
    password: str
    otp: str | None = Field(None, description="6-digit code from the authenticator app; required for staff above "
                                              "grid worker and admin-site users")


class PasswordChange(Schema):
    old_password: str
    new_password: str


class DetailOut(Schema):
    detail: str


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
    if user.needs_otp:
        try:
            services.verify_otp(user, credentials.otp)
        except ValidationError:
            otp.report_failure(request, user)
            raise
    key = ApiToken.issue(user, name="api", lifetime=timedelta(days=TOKEN_DAYS))
    return {"token": key, "expires_in_days": TOKEN_DAYS}


@router.get("/me", response=MeOut)
def me(request):
    user = request.user
    roles = [{"role": r.role, "role_label": r.get_role_display(), "place_id": r.place_id, "place_name": r.place.name}
             for r in user.roles.filter(active=True).select_related("place")]
    return {"id": user.pk, "username": user.username, "full_name": user.full_name, "roles": roles}


@router.post("/password", response=DetailOut)
def change_password(request, body: PasswordChange):
    services.change_password(request.user, old_password=body.old_password, new_password=body.new_password)
    return {"detail": _("Your password has been changed.")}
