from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from portal.ratelimit import AnonRateThrottle
from portal.services.tokens import api_token_authenticate


class FailedTokenThrottle(AnonRateThrottle):
    """Counts bad tokens against the caller's address, in the same budget as anonymous calls.

    A bad token fails in authentication, before DRF gets to its throttles, so without this a
    client could guess tokens at full speed. The cache key is the anonymous one (it must not touch
    ``request.user``, which is still being worked out).
    """

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer asp_…`` personal tokens; acts with the owner's current capabilities."""

    keywords = ("bearer", "token")

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        # Read the header ourselves: DRF's helper raises (a 500) on a value that is not Latin-1.
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if isinstance(header, bytes):
            header = header.decode("latin-1")
        parts = header.split()
        if not parts or parts[0].lower() not in self.keywords:
            return None  # not ours: another scheme, or anonymous
        token = None
        if len(parts) == 2 and parts[1].isascii():
            token = api_token_authenticate(parts[1])
        if token is None:
            # One answer for malformed, unknown, expired, revoked and disabled-owner tokens.
            self._count_failure(request)
            raise exceptions.AuthenticationFailed("Invalid token.")
        return token.user, token

    def _count_failure(self, request: Any) -> None:
        throttle = FailedTokenThrottle()
        # No view here (authentication runs first); the throttle keys on the address alone.
        if not throttle.allow_request(request, None):
            raise exceptions.Throttled(throttle.wait())

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'


class IsAuthenticated(permissions.IsAuthenticated):
    """DRF's, with one fix: DRF checks permissions before throttles, so an anonymous caller would be
    refused before it is ever counted and the anonymous rate would never apply. Count, then refuse."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if super().has_permission(request, view):
            return True
        view.check_throttles(request)  # raises Throttled (429) once the address is over its rate
        return False


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents the bearer token in the OpenAPI schema (and keeps ``check --deploy`` clean)."""

    target_class = ApiTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (asp_…) created on the portal's Tokens page.",
        }
