"""One error shape for every API response: {"error": {"code", "message", "request_id", "fields"?}}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from portal.workflow import StateConflict

log = logging.getLogger("portal.api")

_MESSAGES = {
    status.HTTP_400_BAD_REQUEST: "Invalid request.",
    status.HTTP_401_UNAUTHORIZED: "Authentication required.",
    status.HTTP_403_FORBIDDEN: "Not allowed.",
    status.HTTP_404_NOT_FOUND: "Not found.",
    status.HTTP_405_METHOD_NOT_ALLOWED: "Method not allowed.",
    status.HTTP_406_NOT_ACCEPTABLE: "Not acceptable.",
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: "Request too large.",
    status.HTTP_409_CONFLICT: "The record is not in a state for this.",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "Unsupported media type.",
    status.HTTP_429_TOO_MANY_REQUESTS: "Too many requests.",
}


def _django_validation_fields(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {k: [str(m) for e in v for m in e.messages] for k, v in exc.error_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


def error_body(request: Any, code: str, message: str, fields: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "message": message,
        "request_id": getattr(request, "request_id", ""),
    }
    if fields:
        body["fields"] = fields
    return {"error": body}


class Conflict(exceptions.ValidationError):
    """A 409 in the one error shape, with the same ``fields`` a 400 has (see ``StateConflict``)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    if isinstance(exc, StateConflict):
        exc = Conflict(_django_validation_fields(exc))
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_validation_fields(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    if not isinstance(exc, exceptions.APIException):
        log.exception("Unhandled API error")
        return Response(error_body(request, "server_error", "Server error."), status=500)

    fields = None
    message = _MESSAGES.get(exc.status_code, "Request failed.")
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
    elif exc.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        message = "Too many requests."
    headers: dict[str, str] = {}
    auth_header = getattr(exc, "auth_header", None)  # NotAuthenticated, AuthenticationFailed
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)  # Throttled
    if wait:
        headers["Retry-After"] = str(int(wait))
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    return Response(error_body(request, code, message, fields), status=exc.status_code, headers=headers)
