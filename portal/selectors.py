from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portal.access import Cap
from portal.models import ApiToken, AuditEvent, Membership, OrgUnit

if TYPE_CHECKING:
    from django.db.models import QuerySet


def org_units_visible(user: Any) -> list[OrgUnit]:
    return list(OrgUnit.objects.visible_to(user, Cap.ORG_VIEW).order_by("path"))


def memberships_visible(user: Any) -> QuerySet[Membership]:
    return Membership.objects.visible_to(user, Cap.ORG_VIEW).select_related("user", "org_unit")


def audit_events_visible(user: Any) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.visible_to(user, Cap.AUDIT_VIEW).order_by("-id")


def api_tokens_of(user: Any) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def memberships_of(user: Any) -> list[Membership]:
    return list(Membership.objects.filter(user=user).select_related("org_unit").order_by("org_unit__path"))
