"""The one django-ninja instance: token or session auth, and errors in the caller's language."""

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer, django_auth

from gongzhi.accounts.models import ApiToken

from . import audit


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        user = ApiToken.user_for(token)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="Gongzhi API",
    version="1",
    description="共治 community governance platform. Authenticate with `Authorization: Bearer <token>` "
                "from POST /api/auth/token, or with the browser session.",
    auth=[BearerToken(), django_auth],
    urls_namespace="api",
)


def error_body(detail, errors=None):
    body = {"detail": str(detail)}
    if errors:
        body["errors"] = errors
    return body


@api.exception_handler(ValidationError)
def _validation_error(request, exc):
    errors = exc.message_dict if hasattr(exc, "error_dict") else None
    return api.create_response(request, error_body(exc.messages[0] if exc.messages else _("Invalid input."), errors),
                               status=400)


@api.exception_handler(PermissionDenied)
def _denied(request, exc):
    audit.denied(request, exc)
    return api.create_response(request, error_body(str(exc) or _("You do not have permission to do this here.")),
                               status=403)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return api.create_response(request, error_body(_("Not found.")), status=404)


@api.exception_handler(ObjectDoesNotExist)
def _does_not_exist(request, exc):
    return api.create_response(request, error_body(_("Not found.")), status=404)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return api.create_response(request, error_body(_("Please log in or send a valid API token.")), status=401)
