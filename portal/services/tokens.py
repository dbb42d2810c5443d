"""Personal API tokens: created from a CSPRNG, shown once, stored hashed, expiring and revocable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal import audit
from portal.access import is_privileged
from portal.audit import Actor
from portal.models import ApiToken

if TYPE_CHECKING:
    from django.contrib.auth.models import User  # settings.AUTH_USER_MODEL

TOKEN_PREFIX = "asp_"  # noqa: S105 -- a public marker, not a secret


# --- API tokens -------------------------------------------------------------------------------------


def hash_token(secret: str) -> str:
    # Tokens carry 256 bits from a CSPRNG, so a plain SHA-256 is enough (no need for a slow hash).
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once, never stored


@transaction.atomic
def api_token_create(
    *, actor: Actor, user: User, name: str, days: int | None = None, second_factor: bool = False
) -> IssuedToken:
    """``second_factor``: the creating session had proved TOTP (required for privileged owners)."""
    days = settings.API_TOKEN_DEFAULT_DAYS if days is None else days
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ValidationError({"days": f"Choose between 1 and {settings.API_TOKEN_MAX_DAYS} days."})
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the token a name."})
    prefix = secrets.token_hex(4)
    secret = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    now = timezone.now()
    token = ApiToken(
        user=user,
        name=name,  # over ApiToken.name's max_length, full_clean() below refuses it
        prefix=prefix,
        token_hash=hash_token(secret),
        created_at=now,
        expires_at=now + timedelta(days=days),
        issued_with_second_factor=second_factor,
    )
    token.full_clean()
    token.save()
    audit.record(
        actor=actor,
        action="api_token.create",
        obj=token,
        after={"user": user.get_username(), "name": token.name, "expires_at": token.expires_at.isoformat()},
    )
    return IssuedToken(token=token, secret=secret)


@transaction.atomic
def api_token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record(actor=actor, action="api_token.revoke", obj=token, after={"name": token.name})
    return token


def api_token_authenticate(secret: str) -> ApiToken | None:
    """The active token matching ``secret``, or None. Constant work whatever the input."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token: ApiToken | None = (
        ApiToken.objects.active()
        .select_related("user")
        .filter(token_hash=hash_token(secret), user__is_active=True)
        .first()
    )
    if token is None:
        return None
    if not token.issued_with_second_factor and is_privileged(token.user):
        return None
    now = timezone.now()
    # Record use at most once a minute so a busy CI job doesn't turn every read into a write.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
