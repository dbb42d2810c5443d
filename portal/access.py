"""Who may do what, where: the one capability table and the one check.

A role held on a unit applies to that unit's whole subtree. Everything that decides access (HTML
views, DRF permissions, the admin, querysets) goes through ``scopes_for``/``scope_q``/``require``.
An object outside the user's scope is reported as missing (404), never as forbidden, so its
existence does not leak; an object the user can see but not act on is a 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

from portal.models import Membership, Role


class Cap:
    """Capability names. A capability is what a role lets a user do within its subtree."""

    INVENTORY_VIEW = "inventory.view"
    INVENTORY_SUBMIT = "inventory.submit"
    INVENTORY_REVIEW = "inventory.review"
    TESTING_VIEW = "testing.view"
    TESTING_RUN = "testing.run"
    TESTING_MANAGE = "testing.manage"
    THREATS_VIEW = "threats.view"
    THREATS_SUSPEND = "threats.suspend"
    INCIDENTS_VIEW = "incidents.view"
    INCIDENTS_LOG = "incidents.log"
    INCIDENTS_MANAGE = "incidents.manage"
    AUDIT_VIEW = "audit.view"
    ORG_VIEW = "org.view"
    ORG_MANAGE = "org.manage"
    DASHBOARD_VIEW = "dashboard.view"


_VIEW_ALL = frozenset(
    {
        Cap.INVENTORY_VIEW,
        Cap.TESTING_VIEW,
        Cap.THREATS_VIEW,
        Cap.INCIDENTS_VIEW,
        Cap.ORG_VIEW,
        Cap.DASHBOARD_VIEW,
    }
)

# The one table. Change access here and nowhere else.
ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.CISO: _VIEW_ALL
    | {
        Cap.INVENTORY_SUBMIT,
        Cap.INVENTORY_REVIEW,
        Cap.TESTING_RUN,
        Cap.TESTING_MANAGE,
        Cap.THREATS_SUSPEND,
        Cap.INCIDENTS_LOG,
        Cap.INCIDENTS_MANAGE,
        Cap.AUDIT_VIEW,
        Cap.ORG_MANAGE,
    },
    Role.SECURITY_ENGINEER: _VIEW_ALL
    | {
        Cap.INVENTORY_SUBMIT,
        Cap.INVENTORY_REVIEW,
        Cap.TESTING_RUN,
        Cap.TESTING_MANAGE,
        Cap.THREATS_SUSPEND,
        Cap.INCIDENTS_LOG,
    },
    Role.INCIDENT_RESPONDER: _VIEW_ALL | {Cap.INCIDENTS_LOG, Cap.INCIDENTS_MANAGE},
    Role.DEVELOPER: _VIEW_ALL - {Cap.DASHBOARD_VIEW} | {Cap.INVENTORY_SUBMIT, Cap.TESTING_RUN},
    Role.AUDITOR: _VIEW_ALL | {Cap.AUDIT_VIEW},
    Role.VIEWER: _VIEW_ALL,
}

ALL_CAPABILITIES: frozenset[str] = frozenset().union(*ROLE_CAPABILITIES.values())

# Roles whose holders must use a second factor before they can do anything else.
PRIVILEGED_ROLES: frozenset[str] = frozenset({Role.CISO, Role.SECURITY_ENGINEER})


class Scoped(Protocol):
    @property
    def scope_path_value(self) -> str: ...


def _grants(user: Any) -> list[tuple[str, str]]:
    """(unit path, role) pairs of the user, loaded once per user object (i.e. per request)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, "_portal_grants", None)
    if cached is None:
        cached = list(Membership.objects.filter(user=user).values_list("org_unit__path", "role"))
        user._portal_grants = cached
    return cached


def forget_grants(user: Any) -> None:
    """Drop the per-object cache after a membership change within the same request."""
    if hasattr(user, "_portal_grants"):
        del user._portal_grants


def _minimal(paths: set[str]) -> list[str]:
    # A grant on a parent covers its children: keep only the top-most prefixes.
    out: list[str] = []
    for path in sorted(paths, key=len):
        if not any(path.startswith(p) for p in out):
            out.append(path)
    return sorted(out)


def scopes_for(user: Any, capability: str) -> list[str]:
    """Path prefixes of the subtrees in which the user holds ``capability``."""
    if capability not in ALL_CAPABILITIES:
        raise ValueError(f"Unknown capability {capability!r}")
    if getattr(user, "is_superuser", False) and user.is_active:
        return ["/"]
    return _minimal({path for path, role in _grants(user) if capability in ROLE_CAPABILITIES.get(role, ())})


def capabilities_of(user: Any) -> frozenset[str]:
    """Every capability the user holds somewhere (drives navigation)."""
    if getattr(user, "is_superuser", False) and user.is_active:
        return ALL_CAPABILITIES
    caps: set[str] = set()
    for _path, role in _grants(user):
        caps |= ROLE_CAPABILITIES.get(role, frozenset())
    return frozenset(caps)


def roles_of(user: Any) -> frozenset[str]:
    return frozenset(role for _path, role in _grants(user))


def has_capability(user: Any, capability: str) -> bool:
    return bool(scopes_for(user, capability))


def is_privileged(user: Any) -> bool:
    return bool(getattr(user, "is_superuser", False)) or bool(roles_of(user) & PRIVILEGED_ROLES)


def scope_q(user: Any, capability: str, path_field: str) -> Q:
    """A filter matching rows whose unit path lies under one of the user's scopes."""
    prefixes = scopes_for(user, capability)
    if not prefixes:
        return Q(pk__in=[])
    if prefixes == ["/"]:
        return Q()
    q = Q()
    for prefix in prefixes:
        q |= Q(**{f"{path_field}__startswith": prefix})
    return q


def in_scope(user: Any, capability: str, path: str) -> bool:
    return any(path.startswith(p) for p in scopes_for(user, capability))


def can_see(user: Any, path: str) -> bool:
    """True if any capability at all reaches ``path``: the line between a 403 and a 404."""
    if getattr(user, "is_superuser", False) and user.is_active:
        return True
    return any(path.startswith(p) for p, _ in _grants(user))


def holds_company_wide(user: Any, capability: str) -> bool:
    """True when ``capability`` reaches every top-level unit: for actions whose effects are not
    confined to one subtree (reading the whole company's gateway logs, bulk approval)."""
    from portal.models import OrgUnit

    roots = list(OrgUnit.objects.filter(parent__isnull=True).values_list("path", flat=True))
    return bool(roots) and all(in_scope(user, capability, path) for path in roots)


def roles_with(capability: str) -> frozenset[str]:
    """The roles whose holders have ``capability`` (within the subtree they hold it on)."""
    if capability not in ALL_CAPABILITIES:
        raise ValueError(f"Unknown capability {capability!r}")
    return frozenset(role for role, caps in ROLE_CAPABILITIES.items() if capability in caps)


def holders_over(units: Iterable[Any], roles: Iterable[str]) -> dict[int, list[Any]]:
    """For each unit, the active users holding one of ``roles`` on it or on a unit above it (a role
    covers the subtree), each once, with their user rows loaded: one query for all the units.

    Who to tell about something in a unit (its reviewers, its owners). Superusers hold no role and
    are not included: they may act anywhere, but are not everybody's reviewer.
    """
    units = list(units)
    above = {unit.pk: unit.ancestor_ids() for unit in units}
    memberships = Membership.objects.filter(
        org_unit_id__in={uid for ids in above.values() for uid in ids},
        role__in=list(roles),
        user__is_active=True,
    ).select_related("user")
    by_unit: dict[int, dict[int, Any]] = {}
    for membership in memberships.order_by("user__username", "pk"):
        by_unit.setdefault(membership.org_unit_id, {})[membership.user_id] = membership.user
    out: dict[int, list[Any]] = {}
    for unit_id, ids in above.items():
        users: dict[int, Any] = {}
        for uid in ids:
            users.update(by_unit.get(uid, {}))
        out[unit_id] = sorted(users.values(), key=lambda user: user.get_username())
    return out


def require_company_wide(user: Any, capability: str) -> None:
    if not holds_company_wide(user, capability):
        raise PermissionDenied


def authorize(actor: Any, capability: str, obj: Scoped | None = None) -> None:
    """``require`` for a service's ``Actor``. Services check access themselves as well as the views:
    they are also called by commands, tasks and the REST API, and a rule enforced in one place cannot
    be forgotten in another. System actors (an operator's command, a scheduled task) carry no user and
    are trusted."""
    if actor.user is not None:
        require(actor.user, capability, obj)


def authorize_unit(actor: Any, capability: str, unit: Any) -> None:
    """Like ``authorize`` for an action *for* a unit (registering in it): refused as forbidden, since
    the unit was chosen from a list of the user's own."""
    if actor.user is not None and not in_scope(actor.user, capability, unit.path):
        raise PermissionDenied


def require(user: Any, capability: str, obj: Scoped | None = None) -> None:
    """Raise unless ``user`` holds ``capability`` over ``obj`` (or anywhere, when obj is None).

    Outside the user's sight: Http404. Visible but not allowed: PermissionDenied.
    """
    if obj is None:
        if not has_capability(user, capability):
            raise PermissionDenied
        return
    path = obj.scope_path_value
    if in_scope(user, capability, path):
        return
    if can_see(user, path):
        raise PermissionDenied
    raise Http404
