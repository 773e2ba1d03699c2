"""The one django-ninja instance: token or session auth, and errors in the caller's language."""

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.parser import Parser
from ninja.security import HttpBearer, django_auth

from gongzhi.accounts.models import ApiToken

from . import audit


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        user = ApiToken.user_for(token)
        if user is not None:
            request.user = user
        return user


# Every operation may answer with these; each is one of the handlers below (or ninja's own 422, or the rate
# limiter's 429), so the schema declares them once here rather than in every router.
ERROR = {"type": "object", "required": ["detail"], "properties": {
    "detail": {"type": "string"},
    "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}}}
INPUT_ERROR = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "array", "items": {
    "type": "object", "properties": {"loc": {"type": "array"}, "msg": {"type": "string"},
                                     "type": {"type": "string"}}}}}}
ERROR_RESPONSES = {
    "400": ("Invalid input or a refused state change", ERROR),
    "401": ("Not logged in, or no valid API token", ERROR),
    "403": ("Not allowed at this place", ERROR),
    "404": ("No such record, or not visible to the caller", ERROR),
    "422": ("The request does not match the schema", INPUT_ERROR),
    "429": ("Too many requests from this address", ERROR),
}


def refuse_nul(data, where=""):
    """PostgreSQL cannot store a NUL character in text, and no real input has one: refuse it as bad input."""
    if isinstance(data, str):
        if "\x00" in data:
            raise ValidationError({where or "body": [_("Text may not contain NUL (\\x00) characters.")]})
    elif isinstance(data, dict):
        for key, value in data.items():
            refuse_nul(key, where)
            refuse_nul(value, where or str(key))
    elif isinstance(data, list):
        for value in data:
            refuse_nul(value, where)
    return data


class CheckedParser(Parser):
    """JSON bodies, query strings and form fields, with NUL characters refused before they reach a query."""

    def parse_body(self, request):
        return refuse_nul(super().parse_body(request))

    def parse_querydict(self, data, list_fields, request):
        return refuse_nul(super().parse_querydict(data, list_fields, request))


class GongzhiAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        """The generated schema, with the error answers every operation can give."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for code, (description, body) in ERROR_RESPONSES.items():
                    responses.setdefault(code, {"description": description,
                                                "content": {"application/json": {"schema": body}}})
        return schema


api = GongzhiAPI(
    title="Gongzhi API",
    version="1",
    description="共治 community governance platform. Authenticate with `Authorization: Bearer <token>` "
                "from POST /api/auth/token, or with the browser session.",
    auth=[BearerToken(), django_auth],
    parser=CheckedParser(),
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


@api.exception_handler(HttpError)
def _http_error(request, exc):
    # ninja wraps whatever the parser raised (a body that is not JSON, or refused by CheckedParser) in a 400.
    if isinstance(exc.__cause__, ValidationError):
        return _validation_error(request, exc.__cause__)
    detail = _("The request body is not valid JSON.") if exc.status_code == 400 else str(exc)
    return api.create_response(request, error_body(detail), status=exc.status_code)


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
