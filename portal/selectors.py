from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Count

from portal.access import Cap
from portal.models import ApiToken, AuditEvent, Heartbeat, Membership, OrgUnit

if TYPE_CHECKING:
    from datetime import datetime

    from django.db.models import QuerySet

    from portal.extensions import VisibleUnitCount


def org_units_visible(user: Any) -> list[OrgUnit]:
    return list(units_visible(user))


def units_visible(user: Any, capability: str = Cap.ORG_VIEW) -> QuerySet[OrgUnit]:
    """The units in the user's subtrees for ``capability``, in tree order."""
    return OrgUnit.objects.visible_to(user, capability).order_by("path")


def unit_as_stored(unit: OrgUnit) -> OrgUnit:
    """The row as the database holds it, for an audit event's "before" when a form has already
    written new values onto ``unit``."""
    return OrgUnit.objects.get(pk=unit.pk)


def people_assignable(user: Any) -> QuerySet[Any]:
    """Whom an org manager may give a role: people already in their subtrees, or in no unit yet
    (new joiners); never the whole company's staff list. Everyone active for a superuser."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    people = get_user_model().objects.filter(is_active=True)
    if not getattr(user, "is_superuser", False):
        in_scope_ids = Membership.objects.visible_to(user, Cap.ORG_MANAGE).values("user_id")
        people = people.filter(Q(pk__in=in_scope_ids) | Q(memberships__isnull=True)).distinct()
    return people.order_by("username")


def worker_last_seen() -> datetime | None:
    """When the Celery worker last wrote its heartbeat (None: never). Not scoped: no user is asking
    (the health probe), and it says nothing about any unit."""
    return Heartbeat.objects.filter(name="worker").values_list("seen_at", flat=True).first()


@dataclass(frozen=True)
class OrgChartCell:
    """One app's count for one unit (its subtree), with the page that lists what it counts."""

    value: int
    label: str  # what is counted: "APIs"
    url: str


@dataclass(frozen=True)
class OrgChartRow:
    unit: OrgUnit
    people: int  # people holding a role on the unit itself
    cells: list[OrgChartCell]  # one per count the user may see, in the order of ``columns``

    @property
    def url(self) -> str:
        """Where the unit's name links: the first count's list ("" when no count is shown)."""
        return self.cells[0].url if self.cells else ""


def people_by_unit(user: Any) -> dict[int, int]:
    """People holding a role on each unit the user may see, by unit id: one aggregate query."""
    rows = (
        Membership.objects.visible_to(user, Cap.ORG_VIEW)
        .order_by()
        .values_list("org_unit_id")
        .annotate(n=Count("user_id", distinct=True))
    )
    return dict(rows)


def subtree_totals(counts_by_path: Mapping[str, int]) -> dict[str, int]:
    """Per unit path, the sum of the counts of that unit and every unit below it. Each count is
    added to its unit's ancestors by walking the materialized path: no query, no scan per unit."""
    totals: dict[str, int] = {}
    for path, n in counts_by_path.items():
        prefix = "/"
        for part in path.strip("/").split("/"):
            prefix += part + "/"
            totals[prefix] = totals.get(prefix, 0) + n
    return totals


def org_chart(user: Any, counts: Sequence[VisibleUnitCount] = ()) -> list[OrgChartRow]:
    """The units the user may see, in tree order, with their people and, for each app's count
    (``portal.extensions.unit_counts_for``), the total of their subtree and the page listing it."""
    people = people_by_unit(user)
    totals = [(c.count, subtree_totals(c.by_path)) for c in counts]
    return [
        OrgChartRow(
            unit=unit,
            people=people.get(unit.pk, 0),
            cells=[
                OrgChartCell(by_path.get(unit.path, 0), count.label, count.url(unit))
                for count, by_path in totals
            ],
        )
        for unit in org_units_visible(user)
    ]


def memberships_visible(user: Any) -> QuerySet[Membership]:
    return Membership.objects.visible_to(user, Cap.ORG_VIEW).select_related("user", "org_unit")


def audit_events_visible(user: Any) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.visible_to(user, Cap.AUDIT_VIEW).order_by("-id")


def api_tokens_of(user: Any) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def memberships_of(user: Any) -> list[Membership]:
    return list(Membership.objects.filter(user=user).select_related("org_unit").order_by("org_unit__path"))
