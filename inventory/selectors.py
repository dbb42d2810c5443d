"""Reads of the inventory, scoped and with their joins already applied."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from inventory.engines import availability
from inventory.models import (
    API_IN_USE,
    Api,
    ApiDependency,
    AvailabilityWindow,
    Component,
    DiscoveredEndpoint,
    Environment,
    LogIngest,
    Operation,
    PerformanceBaseline,
    ResponseCode,
    SbomImport,
    Spec,
)
from portal.access import Cap, has_capability, holds_company_wide, require
from portal.models import OrgUnit

if TYPE_CHECKING:
    from typing import TypedDict

    from django_stubs_ext import WithAnnotations

    from inventory.engines import openapi

    class _CurrentSpecs(TypedDict):
        current_specs: list[Spec]

    # An Api as api_detail returns it: its current spec prefetched (a list of zero or one).
    ApiDetail = WithAnnotations[Api, _CurrentSpecs]

SORTS = {
    "name": "name", "-name": "-name",
    "completeness": "completeness", "-completeness": "-completeness",
    "updated": "updated_at", "-updated": "-updated_at",
    "status": "status", "-status": "-status",
    "owner": "org_unit__path", "-owner": "-org_unit__path",
}  # fmt: skip


def unit_visible(user: Any, slug: str) -> OrgUnit | None:
    """The unit named ``slug`` if the user can see it. A unit outside their sight is answered exactly
    like one that does not exist, so a slug cannot be probed (filters, owners named in writes)."""
    return OrgUnit.objects.visible_to(user, Cap.INVENTORY_VIEW).filter(slug=slug).first()


def apis_visible(user: Any, capability: str = Cap.INVENTORY_VIEW) -> QuerySet[Api]:
    return Api.objects.visible_to(user, capability).select_related("org_unit")


# The columns a row of the inventory list shows, on the page and in the REST list: reading only these
# (not the description, the JSON lists, the contacts…) halves what building 50 rows costs.
LIST_COLUMNS = (
    "name", "slug", "org_unit__name", "org_unit__slug", "status", "lifecycle", "exposure",
    "data_classification", "handles_personal_data", "has_spec", "completeness", "component_count",
    "confirmed_at", "updated_at",
)  # fmt: skip


def api_list(user: Any, filters: dict[str, Any], *, columns: tuple[str, ...] = ()) -> QuerySet[Api]:
    """The inventory list: every filter is an indexed column of Api or a prefix on the unit path.
    ``columns`` limits what is read (``LIST_COLUMNS`` for the list's rows); all of them by default.

    The search (``q``) is ``icontains``: on PostgreSQL, trigram indexes on the three columns serve
    it (inventory migration 0008) for terms of three characters or more."""
    qs = apis_visible(user)
    order = (SORTS.get(filters.get("sort") or "name", "name"), "id")
    if columns:
        qs = qs.only(*columns)
    if q := (filters.get("q") or "").strip():
        qs = qs.filter(Q(name__icontains=q) | Q(slug__icontains=q) | Q(description__icontains=q))
    if unit_slug := filters.get("unit"):
        unit = unit_visible(user, unit_slug)
        if unit is None:  # missing or outside the user's sight: nothing of it to list, alike
            return qs.none().order_by(*order)
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
        qs = qs.filter(stale_q())
    return qs.order_by(*order)


# A row of the REST list, read as plain values (no model instances to build: half of what a page of
# 50 cost): ApiListSerializer's fields, the unit as its slug, and the id the cursor needs.
LIST_ROW_VALUES = (
    "id", "slug", "name", "org_unit__slug", "lifecycle", "exposure", "data_classification", "status",
    "completeness", "has_spec", "component_count", "updated_at",
)  # fmt: skip


def api_list_rows(user: Any, filters: dict[str, Any]) -> QuerySet[Api, dict[str, Any]]:
    """``api_list`` as ``LIST_ROW_VALUES`` dicts, plus the sorted column (a cursor names its value)."""
    sort_column = SORTS.get(filters.get("sort") or "name", "name").lstrip("-")
    extra = () if sort_column in LIST_ROW_VALUES else (sort_column,)
    rows: QuerySet[Api, dict[str, Any]] = api_list(user, filters).values(*LIST_ROW_VALUES, *extra)
    return rows


def api_detail(user: Any, slug: str) -> ApiDetail:
    """The API by slug if the user may see it; Http404 otherwise (existence does not leak)."""
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


def _require_view(user: Any, api: Api) -> None:
    """The per-API reads below take the API as ``api_detail`` returned it, and check again that the
    user may see it: a selector answers for its own scope, whoever calls it."""
    require(user, Cap.INVENTORY_VIEW, api)


def units_menu(user: Any) -> list[tuple[str, str]]:
    """(slug, indented name) of the units the user may see, in tree order: the filter's menu."""
    units = (
        OrgUnit.objects.visible_to(user, Cap.INVENTORY_VIEW).order_by("path").only("slug", "name", "depth")
    )
    return [(u.slug, "\u2003" * u.depth + u.name) for u in units]


def units_to_register_for(user: Any) -> QuerySet[OrgUnit]:
    """The units the user may register an API for (the owner menus of the forms)."""
    return OrgUnit.objects.visible_to(user, Cap.INVENTORY_SUBMIT).order_by("path")


def can_register(user: Any) -> bool:
    """From the grants already loaded for the request: a grant's unit exists, so no query."""
    return has_capability(user, Cap.INVENTORY_SUBMIT)


def environment_of(user: Any, api: Api, *, pk: int | None = None, name: str | None = None) -> Environment:
    """One environment of ``api`` by id or name; Http404 when it has none such (or the API is hidden)."""
    _require_view(user, api)
    environments: list[Environment] = list(api.environments.all())  # prefetched by api_detail: no query
    for env in environments:
        if (pk is not None and env.pk == pk) or (name is not None and env.name == name):
            return env
    raise Http404


def window_of(user: Any, api: Api, pk: int) -> AvailabilityWindow:
    _require_view(user, api)
    window: AvailabilityWindow = get_object_or_404(AvailabilityWindow.objects.filter(api=api), pk=pk)
    return window


def consumer_of(user: Any, api: Api, pk: int) -> ApiDependency:
    """One consumer relation of ``api`` (a dependency on it) by id."""
    _require_view(user, api)
    dependency: ApiDependency = get_object_or_404(ApiDependency.objects.filter(api=api), pk=pk)
    return dependency


@dataclass(frozen=True)
class WindowRow:
    window: AvailabilityWindow
    environment_name: str  # "" for an API-wide window
    weekday_names: str  # "Mon, Wed" for a weekly window


def windows_of(user: Any, api: Api) -> list[WindowRow]:
    """The downtime windows of ``api`` as the metrics tab lists them."""
    _require_view(user, api)
    env_names = {e.pk: e.name for e in api.environments.all()}
    return [
        WindowRow(
            window=w,
            environment_name=env_names.get(w.environment_id, "") if w.environment_id else "",
            weekday_names=", ".join(availability.WEEKDAY_NAMES[d][:3] for d in w.weekdays or []),
        )
        for w in api.windows.all()
    ]


def spec_version(user: Any, api: Api, number: int, *, with_content: bool = False) -> Spec:
    """One stored version of ``api``'s spec; Http404 if there is none (or the API is hidden). Its
    document (up to 10 MB) is read only ``with_content`` (the download)."""
    _require_view(user, api)
    versions = Spec.objects.filter(api=api)
    spec: Spec = get_object_or_404(versions if with_content else versions.defer("content"), number=number)
    return spec


def last_sbom_import(user: Any, api: Api) -> SbomImport | None:
    """The newest SBOM or lockfile import of ``api`` (the packages tab's summary)."""
    _require_view(user, api)
    return SbomImport.objects.filter(api=api).order_by("-uploaded_at", "-id").first()


def log_ingest_for(user: Any, pk: int) -> LogIngest | None:
    """A processed gateway log, for company-wide reviewers only (what one log held is not confined
    to a unit; see ``discovered.discovery_ingest``); None for anyone else or an unknown id."""
    if not holds_company_wide(user, Cap.INVENTORY_REVIEW):
        return None
    return LogIngest.objects.filter(pk=pk).first()


def api_components(api: Api) -> QuerySet[Component]:
    return api.components.order_by("ecosystem", "name")


def spec_current(api: Api) -> Spec | None:
    """The current version, without its document (up to 10 MB; only the download reads it)."""
    return api.specs.defer("content").filter(is_current=True).first()


def spec_operations_with_codes(spec: Spec) -> QuerySet[Operation]:
    return spec.operations.prefetch_related("responses").order_by("path", "method")


# --- Specs: versions, a page of operations, diffs ----------------------------------------------------------

SPEC_SEARCH_MAX = 200  # characters of a search within a spec's operations


def spec_search_text(raw: Any) -> str:
    """What the user typed in a spec's search box, trimmed and bounded."""
    return str(raw or "").strip()[:SPEC_SEARCH_MAX]


def spec_versions(api: Api) -> list[dict[str, Any]]:
    """Every version of the API's spec, newest first, without the documents themselves."""
    return list(api.specs.order_by("-number").values("number", "uploaded_at", "sha256", "info_version"))


def spec_operations_page(spec: Spec, *, search: str = "") -> QuerySet[Operation]:
    """The spec's operations in path order, with their response codes, narrowed to those whose path
    or summary contains ``search``. Slice it (``portal.web.offset_page``): the response codes are
    fetched for the slice only, in one query."""
    operations = spec.operations.order_by("path", "method", "pk")
    if search:
        operations = operations.filter(Q(path__icontains=search) | Q(summary__icontains=search))
    return operations.prefetch_related("responses")


@dataclass(frozen=True)
class SpecDiffEntry:
    kind: str  # added | removed | changed
    method: str
    path: str
    changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpecDiffView:
    """A diff between two spec versions, narrowed by a search: its entries (added, then removed,
    then changed, each in path order) and how many of each kind there are."""

    entries: list[SpecDiffEntry]
    added: int
    removed: int
    changed: int


SPEC_DIFF_CACHE_SECONDS = 24 * 3600


def spec_diff(old: Spec, new: Spec, *, search: str = "") -> SpecDiffView:
    """What changed from ``old`` to ``new``; with ``search``, only the operations whose path contains
    it. Four queries whatever the size of the specs, none once the pair's diff is cached."""
    from django.core.cache import cache

    from inventory.engines import openapi

    # Versions never change, and their content names them: the diff of two is computed once (0.5 s
    # at 4,000 operations) and every later page, search or viewer reads it from the shared cache.
    key = f"inventory:spec-diff:{old.sha256}:{new.sha256}"
    diff = cache.get(key)
    if diff is None:
        diff = openapi.diff_operations(spec_operations(old), spec_operations(new))
        cache.set(key, diff, SPEC_DIFF_CACHE_SECONDS)
    needle = search.casefold()

    def kept(path: str) -> bool:
        return not needle or needle in path.casefold()

    entries = [SpecDiffEntry("added", m, p) for m, p in diff.added if kept(p)]
    added = len(entries)
    entries += [SpecDiffEntry("removed", m, p) for m, p in diff.removed if kept(p)]
    removed = len(entries) - added
    entries += [
        SpecDiffEntry("changed", c["method"], c["path"], tuple(c["changes"]))
        for c in diff.changed
        if kept(c["path"])
    ]
    return SpecDiffView(entries=entries, added=added, removed=removed, changed=len(entries) - added - removed)


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


def _visible_ids(user: Any, ids: set[int]) -> set[int]:
    """Which of ``ids`` the user may see: one query bounded by the ids asked about, never every
    visible API (10,000 for a CISO)."""
    if not ids:
        return set()
    return set(apis_visible(user).filter(id__in=ids).values_list("id", flat=True))


@dataclass(frozen=True)
class ConsumerRow:
    """One consumer of an API as the user may see it: a hidden API is counted, never named."""

    id: int
    consumer_api: Api | None
    consumer_service_name: str
    consumer_service_owner: str
    note: str
    hidden: bool


@dataclass(frozen=True)
class DependencyRow:
    id: int
    api: Api | None  # None when the provider is outside the user's scope
    hidden: bool


@dataclass(frozen=True)
class BlastRow:
    kind: str
    name: str
    depth: int
    via: str | None  # None when the API one step closer is outside the user's scope


@dataclass(frozen=True)
class Relations:
    consumers: list[ConsumerRow]
    dependencies: list[DependencyRow]
    blast: list[BlastRow]
    blast_hidden: int


def relations_for(user: Any, api: Api, *, with_blast: bool = True) -> Relations:
    """Who relies on ``api``, what it relies on and what breaks if it is shut off, redacted for
    ``user``: the one place the rule "an API outside your scope is counted, never named" lives, for
    the HTML page and the REST endpoints alike."""
    consumers = list(consumers_of(api))
    dependencies = list(dependencies_of(api))
    entries = blast_radius(api) if with_blast else []
    ids = {d.consumer_api_id for d in consumers if d.consumer_api_id}
    ids |= {d.api_id for d in dependencies} | {e.id for e in entries if e.kind == "api"}
    visible = _visible_ids(user, ids) | {api.pk}
    consumer_rows = [
        ConsumerRow(
            id=d.pk,
            consumer_api=d.consumer_api if d.consumer_api_id in visible else None,
            consumer_service_name=d.consumer_service.name if d.consumer_service is not None else "",
            consumer_service_owner=d.consumer_service.owner.name if d.consumer_service is not None else "",
            note="" if d.consumer_api_id is not None and d.consumer_api_id not in visible else d.note,
            hidden=d.consumer_api_id is not None and d.consumer_api_id not in visible,
        )
        for d in consumers
    ]
    dependency_rows = [
        DependencyRow(id=d.pk, api=d.api if d.api_id in visible else None, hidden=d.api_id not in visible)
        for d in dependencies
    ]
    # A service is shown only when the API it relies on is visible: otherwise it would tell who
    # consumes another team's hidden API. "via" never names an API the user cannot see.
    blast = [
        BlastRow(kind=e.kind, name=e.name, depth=e.depth, via=e.via if e.via_id in visible else None)
        for e in entries
        if (e.id if e.kind == "api" else e.via_id) in visible
    ]
    return Relations(consumer_rows, dependency_rows, blast, len(entries) - len(blast))


# The records the audit trail files under an API: their events belong to its history. Each is
# (object_type as portal.audit records it, the model, the field naming the API).
HISTORY_CHILDREN: tuple[tuple[str, type[Any], str], ...] = (
    ("inventory.environment", Environment, "api"),
    ("inventory.availabilitywindow", AvailabilityWindow, "api"),
    ("inventory.apidependency", ApiDependency, "api"),
    ("inventory.component", Component, "api"),
    ("inventory.spec", Spec, "api"),
)


def api_history(user: Any, api: Api, *, limit: int = 100) -> list[Any]:
    """The audit events of ``api`` and of the records filed under it (environments, windows,
    consumers, components, specs), newest first.

    Reading them is audit-trail reading (who changed what, with the values), not inventory viewing:
    ``PermissionDenied`` unless the user holds ``audit.view`` over the API's unit (Http404 when they
    cannot see the API at all). The children are matched by subqueries, never by a list of ids, so
    an API with 10,000 components costs the same one query.
    """
    from django.db.models import CharField
    from django.db.models.functions import Cast

    from portal.models import AuditEvent

    require(user, Cap.AUDIT_VIEW, api)
    events = Q(object_type="inventory.api", object_id=str(api.pk))
    for object_type, model, api_field in HISTORY_CHILDREN:
        ids = model.objects.filter(**{api_field: api}).annotate(sid=Cast("pk", CharField())).values("sid")
        events |= Q(object_type=object_type, object_id__in=ids)
    return list(AuditEvent.objects.filter(events).order_by("-id")[:limit])


def api_counts_by_unit_path(user: Any) -> dict[str, int]:
    """How many APIs the user may see each unit owns directly, keyed by the unit's path: one
    aggregate query, for the org chart to add up per subtree."""
    from django.db.models import Count

    rows = apis_visible(user).order_by().values_list("org_unit__path").annotate(n=Count("id"))
    return dict(rows)


def discovered_list(
    user: Any, *, finding: str | None = None, state: str | None = None
) -> QuerySet[DiscoveredEndpoint]:
    """The discovery findings the user may see, newest first, narrowed by finding and state when
    they name one (anything else is no filter): the HTML page and the REST list alike."""
    qs = discovered_visible(user)
    if finding in DiscoveredEndpoint.Finding.values:
        qs = qs.filter(finding=finding)
    if state in DiscoveredEndpoint.State.values:
        qs = qs.filter(state=state)
    return qs.order_by("-last_seen", "id")


def discovered_visible(user: Any) -> QuerySet[DiscoveredEndpoint]:
    return DiscoveredEndpoint.objects.visible_to(user, Cap.INVENTORY_VIEW).select_related("api", "org_unit")


def _waiting_review(user: Any) -> list[tuple[str, str, int]]:
    """(status, label, count) of what the user may review now: the statuses approval starts from,
    read from the workflow table (submitted, and changed after approval)."""
    from django.db.models import Count

    from inventory.models import ApiStatus
    from inventory.services.review import API_WORKFLOW  # the table; services import selectors

    sources = API_WORKFLOW.move("approve").sources
    counts = dict(
        Api.objects.visible_to(user, Cap.INVENTORY_REVIEW)
        .filter(status__in=sources)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [(s, ApiStatus(s).label, counts.get(s, 0)) for s in sources]


def inventory_summary(user: Any) -> dict[str, Any]:
    """What the home page shows about the inventory, in a fixed number of aggregate queries."""
    from django.db.models import Count

    from inventory.models import ApiStatus

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
        "waiting_review": _waiting_review(user),
        "stale": apis.filter(stale_q()).count(),
        "findings": [
            (f, DiscoveredEndpoint.Finding(f).label, findings.get(f, 0))
            for f in DiscoveredEndpoint.Finding.values
        ],
        "attention": attention,
    }


# --- Derived facts (completeness, staleness, availability, spec operations) -------------------------


def stale_q() -> Q:
    """Records in use whose owners have not confirmed them for ``INVENTORY_STALE_DAYS``."""
    return Q(confirmed_at__lt=stale_cutoff(), status__in=API_IN_USE)


def is_stale(api: Api, cutoff: datetime | None = None) -> bool:
    return api.status in API_IN_USE and api.confirmed_at < (cutoff or stale_cutoff())


def stale_cutoff() -> datetime:
    return timezone.now() - timedelta(days=settings.INVENTORY_STALE_DAYS)


@dataclass(frozen=True)
class Piece:
    key: str
    label: str  # what to tell the owner: "Missing: a description"
    # Where it is filled in: a key of inventory.forms.SECTIONS, or "tab:<name>" for a tab of the API page.
    section: str
    required: bool  # needed before the API can be submitted for review

    @property
    def tab(self) -> str:
        """The API page's tab where it is filled in ("" when it is an edit section)."""
        return self.section.removeprefix("tab:") if self.section.startswith("tab:") else ""


# Ten pieces, ten points each. The required ones are what a reviewer and the scanner cannot do without:
# what it is, whom to call, where it runs, how it authenticates and what it speaks.
COMPLETENESS_PIECES = [
    Piece("description", "a description", "basics", True),
    Piece("contact", "a technical contact", "contact", True),
    Piece("environments", "an environment with a base URL", "tab:servers", True),
    Piece("auth", "the authentication schemes", "security", True),
    Piece("protocols", "the protocols", "security", True),
    Piece("components", "the packages it is built with (SBOM or lockfile)", "tab:packages", False),
    Piece("spec", "an OpenAPI document", "tab:spec", False),
    Piece("servers", "the servers it runs on", "tab:servers", False),
    Piece("metrics", "typical performance metrics", "tab:metrics", False),
    Piece("availability", "an availability target", "availability", False),
]
PIECES_BY_LABEL = {p.label: p for p in COMPLETENESS_PIECES}


def completeness_of(api: Api) -> tuple[int, list[str]]:
    """(score 0–100, labels of the missing pieces) computed from the stored rows."""
    envs = list(api.environments.all())
    env_ids = [e.pk for e in envs]
    present = {
        "description": bool(api.description.strip()),
        "contact": bool(api.technical_contact_email),
        "environments": any(e.base_urls for e in envs),
        "auth": bool(api.auth_schemes),
        "protocols": bool(api.protocols),
        "components": api.components.exists(),
        "spec": api.specs.filter(is_current=True).exists(),
        "servers": Environment.servers.through.objects.filter(environment_id__in=env_ids).exists(),
        "metrics": PerformanceBaseline.objects.filter(environment_id__in=env_ids).exists(),
        "availability": api.availability_target is not None,
    }
    missing = [p.label for p in COMPLETENESS_PIECES if not present[p.key]]
    score = round(100 * (len(COMPLETENESS_PIECES) - len(missing)) / len(COMPLETENESS_PIECES))
    return score, missing


def missing_pieces(api: Api) -> list[Piece]:
    """The pieces the stored summary names as missing, required ones first (for the page's links)."""
    pieces = [PIECES_BY_LABEL[label] for label in api.missing or [] if label in PIECES_BY_LABEL]
    return sorted(pieces, key=lambda p: not p.required)


def missing_required(api: Api) -> list[str]:
    """Labels of the required pieces ``api`` lacks, from its stored summary."""
    return [p.label for p in missing_pieces(api) if p.required]


def window_as_engine(window: AvailabilityWindow) -> availability.Window:
    # The window_fields_for_kind constraint guarantees the fields of each kind are set.
    if window.kind == AvailabilityWindow.Kind.RECURRING:
        assert window.start_time is not None and window.end_time is not None
        return availability.RecurringWindow(
            tuple(window.weekdays), window.start_time, window.end_time, window.timezone
        )
    assert window.starts_at is not None and window.ends_at is not None
    return availability.OneOffWindow(window.starts_at, window.ends_at)


def is_expected_up(api: Api, at: datetime, environment: Environment | None = None) -> bool:
    """True unless a planned downtime window of the API (API-wide or for ``environment``) is open."""
    scope = Q(environment__isnull=True)
    if environment is not None:
        scope |= Q(environment=environment)
    windows = AvailabilityWindow.objects.filter(scope, api=api)
    return availability.is_expected_up([window_as_engine(w) for w in windows], at)


def spec_operations(spec: Spec) -> list[openapi.ParsedOperation]:
    """The stored operations of a spec as engine objects, for diffs: two queries of plain rows (no
    model instances: a diff of two 4,000-operation specs reads some 30,000 rows)."""
    from inventory.engines import openapi

    responses: dict[int, dict[str, str]] = {}
    for operation_id, code, description in ResponseCode.objects.filter(operation__spec=spec).values_list(
        "operation_id", "code", "description"
    ):
        responses.setdefault(operation_id, {})[code] = description
    rows = spec.operations.order_by("path", "method").values_list(
        "pk", "method", "path", "operation_id", "summary", "auth_required", "deprecated", "parameters"
    )
    return [
        openapi.ParsedOperation(
            method=method,
            path=path,
            operation_id=operation_id,
            summary=summary,
            auth_required=auth_required,
            deprecated=deprecated,
            parameters=parameters,
            responses=responses.get(pk, {}),
        )
        for pk, method, path, operation_id, summary, auth_required, deprecated, parameters in rows
    ]
