"""The verbs of the org chart, memberships and tokens. Each is one transaction and one audit record."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal import audit
from portal.access import forget_grants, is_privileged
from portal.audit import Actor
from portal.models import ApiToken, Membership, OrgUnit, Role

User = get_user_model()

TOKEN_PREFIX = "asp_"  # noqa: S105 -- a public marker, not a secret


# --- Org chart --------------------------------------------------------------------------------------


def _path_for(unit: OrgUnit) -> str:
    return (unit.parent.path if unit.parent_id else "/") + f"{unit.pk}/"


@transaction.atomic
def org_unit_create(
    *, actor: Actor, name: str, slug: str, parent: OrgUnit | None, kind: str = OrgUnit.Kind.UNIT
) -> OrgUnit:
    unit = OrgUnit(name=name, slug=slug, parent=parent, kind=kind, path="/pending/")
    unit.full_clean(exclude=["path"])
    unit.save()
    unit.path = _path_for(unit)
    unit.depth = unit.path.count("/") - 2
    unit.save(update_fields=["path", "depth"])
    audit.record(
        actor=actor,
        action="org_unit.create",
        obj=unit,
        org_unit=unit,
        after=audit.snapshot(unit, ["name", "slug", "kind", "parent", "path"]),
    )
    return unit


@transaction.atomic
def org_unit_update(*, actor: Actor, unit: OrgUnit, name: str, kind: str) -> OrgUnit:
    before = audit.snapshot(unit, ["name", "kind"])
    unit.name, unit.kind = name, kind
    unit.full_clean()
    unit.save(update_fields=["name", "kind"])
    audit.record(
        actor=actor,
        action="org_unit.update",
        obj=unit,
        org_unit=unit,
        before=before,
        after=audit.snapshot(unit, ["name", "kind"]),
    )
    return unit


@transaction.atomic
def org_unit_move(*, actor: Actor, unit: OrgUnit, new_parent: OrgUnit | None) -> OrgUnit:
    """Re-parent a unit and rewrite the paths of its whole subtree in one statement."""
    unit = OrgUnit.objects.select_for_update().get(pk=unit.pk)
    if new_parent is not None and new_parent.path.startswith(unit.path):
        raise ValidationError({"parent": "A unit cannot be moved under itself or its own descendants."})
    before = audit.snapshot(unit, ["parent", "path"])
    old_path = unit.path
    unit.parent = new_parent
    new_path = _path_for(unit)
    depth_delta = new_path.count("/") - old_path.count("/")
    from django.db.models import F, Value
    from django.db.models.functions import Concat, Substr

    OrgUnit.objects.filter(path__startswith=old_path).update(
        path=Concat(Value(new_path), Substr("path", len(old_path) + 1)),
        depth=F("depth") + depth_delta,
    )
    OrgUnit.objects.filter(pk=unit.pk).update(parent=new_parent)
    unit.refresh_from_db()
    audit.record(
        actor=actor,
        action="org_unit.move",
        obj=unit,
        org_unit=unit,
        before=before,
        after=audit.snapshot(unit, ["parent", "path"]),
    )
    return unit


@transaction.atomic
def org_unit_delete(*, actor: Actor, unit: OrgUnit) -> None:
    if unit.children.exists():
        raise ValidationError("Remove or move the unit's children first.")
    before = audit.snapshot(unit, ["name", "slug", "kind", "parent", "path"])
    audit.record(actor=actor, action="org_unit.delete", obj=unit, org_unit=unit, before=before)
    unit.delete()


# --- Memberships ------------------------------------------------------------------------------------


@transaction.atomic
def membership_grant(*, actor: Actor, user, org_unit: OrgUnit, role: str) -> Membership:  # noqa: ANN001
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    membership, created = Membership.objects.get_or_create(user=user, org_unit=org_unit, role=role)
    if created:
        audit.record(
            actor=actor,
            action="membership.grant",
            obj=membership,
            org_unit=org_unit,
            after={"user": user.get_username(), "role": role, "unit": org_unit.slug},
        )
        forget_grants(user)
    return membership


@transaction.atomic
def membership_revoke(*, actor: Actor, membership: Membership) -> None:
    audit.record(
        actor=actor,
        action="membership.revoke",
        obj=membership,
        org_unit=membership.org_unit,
        before={
            "user": membership.user.get_username(),
            "role": membership.role,
            "unit": membership.org_unit.slug,
        },
    )
    forget_grants(membership.user)
    membership.delete()


# --- API tokens -------------------------------------------------------------------------------------


def hash_token(secret: str) -> str:
    # Tokens carry 256 bits from a CSPRNG, so a plain SHA-256 is enough (no need for a slow hash).
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once, never stored


@transaction.atomic
def api_token_create(  # noqa: ANN001
    *, actor: Actor, user, name: str, days: int | None = None, second_factor: bool = False
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
        name=name[:100],
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
    token = (
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


# --- Users --------------------------------------------------------------------------------------------


@transaction.atomic
def user_create(*, actor: Actor, username: str, email: str, password: str | None, **extra) -> User:  # noqa: ANN003
    from django.contrib.auth.password_validation import validate_password

    user = User(username=username, email=email, **extra)
    if password is not None:
        validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    audit.record(actor=actor, action="user.create", obj=user, after={"username": username, "email": email})
    return user
