"""The portal's URLs in the authorization matrix (see tests/access_matrix.py)."""

from __future__ import annotations

from typing import Any

from portal.access import Cap
from portal.models import ApiToken, AuditEvent, Membership, OrgUnit
from tests.access_matrix import OWN_ACCOUNT, PUBLIC, SIGNED_IN, Entry, World, register, register_admin
from tests.factories import ApiTokenFactory, AuditEventFactory

# --- Objects living in a unit ----------------------------------------------------------------------


def unit_itself(world: World, unit: OrgUnit) -> OrgUnit:
    return unit


def unit_slug(world: World, unit: OrgUnit) -> str:
    return unit.slug


def membership_in(world: World, unit: OrgUnit) -> Membership:
    return Membership.objects.get(user=world.member_of(unit), org_unit=unit)


def member_username(world: World, unit: OrgUnit) -> str:
    return world.member_of(unit).username


def audit_event_in(world: World, unit: OrgUnit) -> AuditEvent:
    return AuditEventFactory(
        action="matrix.seed",
        object_type="matrix",
        object_id=f"mx-audit-{unit.slug}",
        org_unit=unit,
    )


def audit_marker(world: World, unit: OrgUnit) -> str:
    return audit_event_in(world, unit).object_id


def token_in(world: World, unit: OrgUnit) -> ApiToken:
    """A personal token; it "lives in" the actor's unit when it is the actor's own."""
    owner = world.owner_in(unit)
    return ApiTokenFactory(user=owner, name=f"mx-token-{unit.slug}")


def token_name(world: World, unit: OrgUnit) -> str:
    return token_in(world, unit).name


# --- Request bodies ------------------------------------------------------------------------------------


def otp_code(world: World, obj: Any) -> dict[str, Any]:
    # Well-formed; whether it matches is the two-factor tests' business, not the matrix's.
    return {"code": "123456"}


def new_token(world: World, obj: Any) -> dict[str, Any]:
    return {"name": "matrix CI", "days": 30}


register(
    Entry("home", SIGNED_IN),
    Entry("healthz", PUBLIC),
    Entry("login", PUBLIC),
    Entry("logout", PUBLIC, methods=("POST",)),
    Entry("two_factor_setup", SIGNED_IN, methods=("GET", "POST"), data=otp_code),
    Entry("two_factor_verify", SIGNED_IN, methods=("GET", "POST"), data=otp_code),
    Entry("recovery_codes_regenerate", SIGNED_IN, methods=("POST",)),
    Entry("api_tokens", OWN_ACCOUNT, methods=("GET", "POST"), listing=token_name, data=new_token),
    Entry("api_token_revoke", OWN_ACCOUNT, methods=("POST",), target=token_in),
    Entry("org_chart", Cap.ORG_VIEW, listing=unit_slug),
    Entry("audit_log", Cap.AUDIT_VIEW, listing=audit_marker),
    Entry("api:me", OWN_ACCOUNT),
    Entry("api:org-unit-list", Cap.ORG_VIEW, listing=unit_slug),
    Entry("api:org-unit-detail", Cap.ORG_VIEW, target=unit_itself),
    Entry("api:membership-list", Cap.ORG_VIEW, listing=member_username),
    Entry("api:audit-event-list", Cap.AUDIT_VIEW, listing=audit_marker),
    Entry("api:token-list", OWN_ACCOUNT, listing=token_name),
    Entry("api:token-revoke", OWN_ACCOUNT, methods=("POST",), target=token_in),
    Entry("api-schema", SIGNED_IN),
    Entry("api-docs", SIGNED_IN),
)

_MANAGE_PAGES = {"change": Cap.ORG_MANAGE, "history": Cap.ORG_MANAGE, "delete": Cap.ORG_MANAGE}
register_admin(OrgUnit, changelist=Cap.ORG_MANAGE, pages=_MANAGE_PAGES, target=unit_itself, listing=unit_slug)
register_admin(
    Membership, changelist=Cap.ORG_MANAGE, pages=_MANAGE_PAGES, target=membership_in, listing=member_username
)
# Audit events are read-only in the admin: only the (view-only) change page exists for them.
register_admin(
    AuditEvent,
    changelist=Cap.AUDIT_VIEW,
    pages={"change": Cap.AUDIT_VIEW},
    target=audit_event_in,
    listing=audit_marker,
)
