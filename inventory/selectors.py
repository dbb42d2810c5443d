"""Reads of the inventory, scoped and with their joins already applied."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from inventory.models import Api, ApiDependency, Component, DiscoveredEndpoint, Environment, Operation, Spec
from portal.access import Cap

SORTS = {
    "name": "name", "-name": "-name",
    "completeness": "completeness", "-completeness": "-completeness",
    "updated": "updated_at", "-updated": "-updated_at",
    "status": "status", "-status": "-status",
    "owner": "org_unit__path", "-owner": "-org_unit__path",
}  # fmt: skip


def apis_visible(user: Any, capability: str = Cap.INVENTORY_VIEW) -> QuerySet[Api]:
    return Api.objects.visible_to(user, capability).select_related("org_unit")


def api_list(user: Any, filters: dict[str, Any]) -> QuerySet[Api]:
    """The inventory list: every filter is an indexed column of Api or a prefix on the unit path."""
    qs = apis_visible(user)
    if q := (filters.get("q") or "").strip():
        qs = qs.filter(Q(name__icontains=q) | Q(slug__icontains=q) | Q(description__icontains=q))
    if unit := filters.get("unit"):
        qs = qs.filter(org_unit__path__startswith=unit.path)
    for name in ("lifecycle", "exposure", "data_classification", "status"):
        if value := filters.get(name):
            qs = qs.filter(**{name: value})
    if filters.get("has_spec") in (True, False):
        qs = qs.filter(has_spec=filters["has_spec"])
    if filters.get("min_completeness") is not None:
        qs = qs.filter(completeness__gte=filters["min_completeness"])
    if filters.get("max_completeness") is not None:
        qs = qs.filter(completeness__lte=filters["max_completeness"])
    if filters.get("stale"):
        from inventory.services import stale_cutoff

        qs = qs.filter(confirmed_at__lt=stale_cutoff())
    return qs.order_by(SORTS.get(filters.get("sort") or "name", "name"), "id")


def api_detail(user: Any, slug: str) -> Api:
    """The API by slug if the user may see it; Http404 otherwise (existence does not leak)."""
    from django.shortcuts import get_object_or_404

    # The document text can be megabytes; no page that uses this shows it.
    current_spec = Spec.objects.filter(is_current=True).defer("content")
    return get_object_or_404(
        apis_visible(user).prefetch_related(
            Prefetch(
                "environments",
                queryset=Environment.objects.prefetch_related("servers").select_related("baseline"),
            ),
            Prefetch("specs", queryset=current_spec, to_attr="current_specs"),
            "windows",
        ),
        slug=slug,
    )


def api_components(api: Api) -> QuerySet[Component]:
    return api.components.order_by("ecosystem", "name")


def spec_current(api: Api) -> Spec | None:
    return api.specs.filter(is_current=True).first()


def spec_operations_with_codes(spec: Spec) -> QuerySet[Operation]:
    return spec.operations.prefetch_related("responses").order_by("path", "method")


def consumers_of(api: Api) -> QuerySet[ApiDependency]:
    return api.consumers.select_related("consumer_api__org_unit", "consumer_service__owner")


def dependencies_of(api: Api) -> QuerySet[ApiDependency]:
    return api.dependencies.select_related("api__org_unit")


@dataclass(frozen=True)
class BlastEntry:
    kind: str  # "api" | "service"
    id: int
    name: str
    depth: int
    via: str  # the name of the API it depends on, one level closer to the shut-off API
    via_id: int = 0


def blast_radius(api: Api) -> list[BlastEntry]:
    """Everything that breaks, transitively, if ``api`` is shut off. Breadth-first, so each consumer
    appears once at its shortest distance; cycles stop at already-visited APIs.

    The edge list is loaded in one query (a few hundred thousand rows at most), never one per level.
    """
    edges: dict[int, list[tuple[str, int, str]]] = {}
    names: dict[int, str] = {}
    rows = ApiDependency.objects.values_list(
        "api_id",
        "api__name",
        "consumer_api_id",
        "consumer_api__name",
        "consumer_service_id",
        "consumer_service__name",
    )
    for provider_id, provider_name, c_api_id, c_api_name, c_svc_id, c_svc_name in rows:
        names[provider_id] = provider_name
        if c_api_id is not None:
            edges.setdefault(provider_id, []).append(("api", c_api_id, c_api_name))
        else:
            edges.setdefault(provider_id, []).append(("service", c_svc_id, c_svc_name))
    seen_apis = {api.pk}
    seen_services: set[int] = set()
    out: list[BlastEntry] = []
    queue: deque[tuple[int, int]] = deque([(api.pk, 0)])
    names[api.pk] = api.name
    while queue:
        provider, depth = queue.popleft()
        for kind, consumer_id, consumer_name in edges.get(provider, []):
            if kind == "api":
                if consumer_id in seen_apis:
                    continue
                seen_apis.add(consumer_id)
                queue.append((consumer_id, depth + 1))
            else:
                if consumer_id in seen_services:
                    continue
                seen_services.add(consumer_id)
            out.append(
                BlastEntry(kind, consumer_id, consumer_name, depth + 1, names.get(provider, ""), provider)
            )
    return out


def discovered_visible(user: Any) -> QuerySet[DiscoveredEndpoint]:
    return DiscoveredEndpoint.objects.visible_to(user, Cap.INVENTORY_VIEW).select_related("api", "org_unit")


def inventory_summary(user: Any) -> dict[str, Any]:
    """What the home page shows about the inventory, in a fixed number of aggregate queries."""
    from django.db.models import Count

    from inventory.models import ApiStatus
    from inventory.services import stale_cutoff

    apis = Api.objects.visible_to(user, Cap.INVENTORY_VIEW)
    by_status = dict(apis.values_list("status").annotate(n=Count("id")).order_by())
    findings = dict(
        discovered_visible(user)
        .filter(state=DiscoveredEndpoint.State.NEW)
        .values_list("finding")
        .annotate(n=Count("id"))
        .order_by()
    )
    attention = list(
        Api.objects.visible_to(user, Cap.INVENTORY_SUBMIT)
        .filter(status__in=[ApiStatus.DRAFT, ApiStatus.CHANGES_REQUESTED])
        .select_related("org_unit")
        .order_by("-updated_at")[:5]
    )
    return {
        "total": sum(by_status.values()),
        "statuses": [
            (s, ApiStatus(s).label, by_status.get(s, 0)) for s in ApiStatus.values if by_status.get(s)
        ],
        "waiting_review": Api.objects.visible_to(user, Cap.INVENTORY_REVIEW)
        .filter(status=ApiStatus.SUBMITTED)
        .count(),
        "stale": apis.filter(confirmed_at__lt=stale_cutoff()).exclude(status=ApiStatus.RETIRED).count(),
        "findings": [
            (f, DiscoveredEndpoint.Finding(f).label, findings.get(f, 0))
            for f in DiscoveredEndpoint.Finding.values
        ],
        "attention": attention,
    }
