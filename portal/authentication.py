from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions

from portal.services import api_token_authenticate


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer asp_…`` personal tokens; acts with the owner's current capabilities."""

    keyword = "bearer"

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode(errors="replace") not in (self.keyword, "token"):
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token.")
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token.") from exc
        token = api_token_authenticate(secret)
        if token is None:
            # One answer for unknown, expired, revoked and disabled-owner tokens.
            raise exceptions.AuthenticationFailed("Invalid token.")
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'
