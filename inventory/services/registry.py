"""The verbs of the inventory. Every write is one transaction with one audit record.

Authorization is checked here as well as in the views (``_authorize``): the services are also called
by commands, tasks and the REST API, and a rule enforced in one place cannot be forgotten in another.
System actors (commands run by an operator, scheduled tasks) carry no user and are trusted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from inventory import availability
from inventory.models import (
    Api,
    ApiDependency,
    ApiStatus,
    AuthScheme,
    AvailabilityWindow,
    Component,
    ConsumerService,
    Environment,
    Lifecycle,
    Operation,
    PerformanceBaseline,
    Protocol,
    ResponseCode,
    SbomImport,
    Server,
    Spec,
)
from portal import audit
from portal.access import Cap, in_scope, require
from portal.audit import Actor
from portal.models import OrgUnit

# --- Authorization ---------------------------------------------------------------------------------


def _authorize(actor: Actor, capability: str, obj: Any = None) -> None:
    if actor.user is None:
        return  # system actor: an operator's command or a scheduled task
    require(actor.user, capability, obj)


def _authorize_unit(actor: Actor, capability: str, unit: OrgUnit) -> None:
    if actor.user is not None and not in_scope(actor.user, capability, unit.path):
        raise PermissionDenied


# --- The API record ----------------------------------------------------------------------------------

API_FIELDS = [
    "name", "description", "technical_contact_name", "technical_contact_email", "lifecycle", "version",
    "exposure", "data_classification", "handles_personal_data", "auth_schemes", "protocols",
    "availability_target",
]  # fmt: skip


def _validate_choices(values: list[str], choices: type, label: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValidationError({label: "Give a list of names."})
    unknown = sorted(set(values) - set(choices.values))
    if unknown:
        raise ValidationError(
            {label: f"Unknown: {', '.join(unknown)}. Choose from {', '.join(choices.values)}."}
        )
    return sorted(set(values), key=list(choices.values).index)


def _clean_api(api: Api) -> None:
    api.auth_schemes = _validate_choices(api.auth_schemes or [], AuthScheme, "auth_schemes")
    api.protocols = _validate_choices(api.protocols or [], Protocol, "protocols")
    if AuthScheme.NONE in api.auth_schemes and len(api.auth_schemes) > 1:
        raise ValidationError({"auth_schemes": "“None” cannot be combined with other schemes."})
    api.full_clean()


@transaction.atomic
def api_create(*, actor: Actor, org_unit: OrgUnit, slug: str, name: str, **fields: Any) -> Api:
    """Register a new API as a draft for ``org_unit``."""
    _authorize_unit(actor, Cap.INVENTORY_SUBMIT, org_unit)
    unknown = set(fields) - set(API_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    if Api.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": "An API with this slug is already registered."})
    api = Api(org_unit=org_unit, slug=slug, name=name, created_by=actor.user, **fields)
    _clean_api(api)
    api.save()
    refresh_summary(api)
    audit.record(
        actor=actor,
        action="api.create",
        obj=api,
        org_unit=org_unit,
        after=audit.snapshot(api, ["slug", *API_FIELDS]),
    )
    return api


@transaction.atomic
def api_update(*, actor: Actor, api: Api, **fields: Any) -> Api:
    _authorize(actor, Cap.INVENTORY_SUBMIT, api)
    unknown = set(fields) - set(API_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    api = Api.objects.select_for_update().select_related("org_unit").get(pk=api.pk)
    if api.status == ApiStatus.RETIRED:
        raise ValidationError("A retired API can no longer be changed.")
    changed = [k for k, v in fields.items() if getattr(api, k) != v]
    if not changed:
        return api
    before = audit.snapshot(api, changed)
    for key in changed:
        setattr(api, key, fields[key])
    _clean_api(api)
    api.updated_at = timezone.now()
    api.save(update_fields=[*changed, "updated_at"])
    refresh_summary(api)
    audit.record(
        actor=actor,
        action="api.update",
        obj=api,
        org_unit=api.org_unit,
        before=before,
        after=audit.snapshot(api, changed),
    )
    return api


@transaction.atomic
def api_upsert(*, actor: Actor, org_unit: OrgUnit, slug: str, name: str, **fields: Any) -> tuple[Api, bool]:
    """Create or update by slug: what CI calls on every pipeline run (idempotent)."""
    existing = Api.objects.select_related("org_unit").filter(slug=slug).first()
    if existing is None:
        return api_create(actor=actor, org_unit=org_unit, slug=slug, name=name, **fields), True
    if actor.user is not None:
        require(actor.user, Cap.INVENTORY_SUBMIT, existing)
    if existing.org_unit_id != org_unit.pk:
        raise ValidationError(
            {"org_unit": "The API belongs to another unit; ownership is not changed by an update."}
        )
    return api_update(actor=actor, api=existing, name=name, **fields), False


# --- Workflow -----------------------------------------------------------------------------------------

# (from, to) → capability needed. Anything not listed is an illegal move.
TRANSITIONS: dict[tuple[str, str], str] = {
    (ApiStatus.DRAFT, ApiStatus.SUBMITTED): Cap.INVENTORY_SUBMIT,
    (ApiStatus.CHANGES_REQUESTED, ApiStatus.SUBMITTED): Cap.INVENTORY_SUBMIT,
    (ApiStatus.SUBMITTED, ApiStatus.APPROVED): Cap.INVENTORY_REVIEW,
    (ApiStatus.SUBMITTED, ApiStatus.CHANGES_REQUESTED): Cap.INVENTORY_REVIEW,
    (ApiStatus.APPROVED, ApiStatus.DEPRECATED): Cap.INVENTORY_SUBMIT,
    (ApiStatus.DEPRECATED, ApiStatus.RETIRED): Cap.INVENTORY_SUBMIT,
    (ApiStatus.APPROVED, ApiStatus.SUSPENDED): Cap.THREATS_SUSPEND,
    (ApiStatus.DEPRECATED, ApiStatus.SUSPENDED): Cap.THREATS_SUSPEND,
    (ApiStatus.SUSPENDED, ApiStatus.APPROVED): Cap.THREATS_SUSPEND,
}

_LIFECYCLE_FOR = {ApiStatus.DEPRECATED: Lifecycle.DEPRECATED, ApiStatus.RETIRED: Lifecycle.RETIRED}


class IllegalTransition(ValidationError):
    pass


@transaction.atomic
def _transition(*, actor: Actor, api: Api, to: str, comment: str = "", action: str) -> Api:
    api = Api.objects.select_for_update().select_related("org_unit").get(pk=api.pk)
    capability = TRANSITIONS.get((api.status, to))
    if capability is None:
        raise IllegalTransition(
            f"Cannot move from {ApiStatus(api.status).label.lower()} to {ApiStatus(to).label.lower()}."
        )
    _authorize(actor, capability, api)
    before = {"status": api.status, "lifecycle": api.lifecycle}
    now = timezone.now()
    api.status, api.status_changed_at, api.updated_at = to, now, now
    fields = ["status", "status_changed_at", "updated_at"]
    if to in _LIFECYCLE_FOR:
        api.lifecycle = _LIFECYCLE_FOR[to]
        fields.append("lifecycle")
    if capability == Cap.INVENTORY_REVIEW:
        api.review_comment, api.reviewed_by, api.reviewed_at = comment, actor.user, now
        fields += ["review_comment", "reviewed_by", "reviewed_at"]
    api.save(update_fields=fields)
    audit.record(
        actor=actor,
        action=action,
        obj=api,
        org_unit=api.org_unit,
        before=before,
        after={"status": api.status, "lifecycle": api.lifecycle, "comment": comment},
    )
    return api


def api_submit(*, actor: Actor, api: Api) -> Api:
    return _transition(actor=actor, api=api, to=ApiStatus.SUBMITTED, action="api.submit")


def api_approve(*, actor: Actor, api: Api, comment: str = "") -> Api:
    return _transition(actor=actor, api=api, to=ApiStatus.APPROVED, comment=comment, action="api.approve")


def api_request_changes(*, actor: Actor, api: Api, comment: str) -> Api:
    if not comment.strip():
        raise ValidationError({"comment": "Say what must change."})
    return _transition(
        actor=actor,
        api=api,
        to=ApiStatus.CHANGES_REQUESTED,
        comment=comment.strip(),
        action="api.request_changes",
    )


def api_deprecate(*, actor: Actor, api: Api) -> Api:
    return _transition(actor=actor, api=api, to=ApiStatus.DEPRECATED, action="api.deprecate")


def api_retire(*, actor: Actor, api: Api) -> Api:
    return _transition(actor=actor, api=api, to=ApiStatus.RETIRED, action="api.retire")


def api_suspend(*, actor: Actor, api: Api, reason: str) -> Api:
    """Shut an API off until it is examined (the gateway denies while suspended): fail closed."""
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason for the suspension."})
    return _transition(
        actor=actor, api=api, to=ApiStatus.SUSPENDED, comment=reason.strip(), action="api.suspend"
    )


def api_reinstate(*, actor: Actor, api: Api, comment: str = "") -> Api:
    return _transition(actor=actor, api=api, to=ApiStatus.APPROVED, comment=comment, action="api.reinstate")


@transaction.atomic
def api_confirm(*, actor: Actor, api: Api) -> Api:
    """The owners confirm the record is still accurate (resets the staleness clock)."""
    _authorize(actor, Cap.INVENTORY_SUBMIT, api)
    now = timezone.now()
    Api.objects.filter(pk=api.pk).update(confirmed_at=now, stale_notified_at=None)
    api.confirmed_at, api.stale_notified_at = now, None
    audit.record(actor=actor, action="api.confirm", obj=api, org_unit=api.org_unit)
    return api


def stale_cutoff() -> datetime:
    return timezone.now() - timedelta(days=settings.INVENTORY_STALE_DAYS)


# --- Completeness -------------------------------------------------------------------------------------

# (key, what to tell the owner). Ten pieces, ten points each.
COMPLETENESS_PIECES = [
    ("description", "a description"),
    ("contact", "a technical contact"),
    ("environments", "an environment with a base URL"),
    ("auth", "the authentication schemes"),
    ("protocols", "the protocols"),
    ("components", "the packages it is built with (SBOM or lockfile)"),
    ("spec", "an OpenAPI document"),
    ("servers", "the servers it runs on"),
    ("metrics", "typical performance metrics"),
    ("availability", "an availability target"),
]


def completeness_of(api: Api) -> tuple[int, list[str]]:
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
    missing = [label for key, label in COMPLETENESS_PIECES if not present[key]]
    score = round(100 * (len(COMPLETENESS_PIECES) - len(missing)) / len(COMPLETENESS_PIECES))
    return score, missing


def refresh_summary(api: Api) -> None:
    """Recompute the denormalized columns the list pages filter and sort on.

    Computed from the stored row, not from ``api``: callers may hold an instance older than the
    latest change in this transaction.
    """
    fresh = Api.objects.get(pk=api.pk)
    score, missing = completeness_of(fresh)
    has_spec = fresh.specs.filter(is_current=True).exists()
    component_count = fresh.components.count()
    Api.objects.filter(pk=api.pk).update(
        completeness=score, missing=missing, has_spec=has_spec, component_count=component_count
    )
    api.completeness, api.missing, api.has_spec, api.component_count = (
        score,
        missing,
        has_spec,
        component_count,
    )


# --- Environments, servers, metrics, windows ---------------------------------------------------------


def _validate_base_urls(urls: list[str]) -> list[str]:
    from urllib.parse import urlsplit

    if not isinstance(urls, list) or not urls:
        raise ValidationError({"base_urls": "Give at least one base URL."})
    cleaned = []
    for url in urls:
        if not isinstance(url, str) or len(url) > 500:
            raise ValidationError({"base_urls": "Each base URL must be text of at most 500 characters."})
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https", "grpc", "grpcs", "ws", "wss") or not parts.hostname:
            raise ValidationError({"base_urls": f"{url!r} is not an absolute URL (https://host/path)."})
        if parts.username or parts.password:
            raise ValidationError({"base_urls": "Base URLs must not contain credentials."})
        if parts.query or parts.fragment:
            raise ValidationError({"base_urls": "Base URLs must not have a query or fragment."})
        cleaned.append(url.strip().rstrip("/"))
    return sorted(set(cleaned))


@transaction.atomic
def environment_save(
    *, actor: Actor, api: Api, name: str, base_urls: list[str], is_production: bool = False
) -> Environment:
    _authorize(actor, Cap.INVENTORY_SUBMIT, api)
    urls = _validate_base_urls(base_urls)
    env, created = Environment.objects.get_or_create(
        api=api, name=name, defaults={"base_urls": urls, "is_production": is_production}
    )
    if not created and env.base_urls == urls and env.is_production == is_production:
        return env  # CI re-sends the same registration on every run: no change, no record
    before = None if created else {"base_urls": env.base_urls, "is_production": env.is_production}
    env.base_urls, env.is_production = urls, is_production
    env.full_clean()
    env.save()
    refresh_summary(api)
    audit.record(
        actor=actor,
        action="api.environment_save",
        obj=env,
        org_unit=api.org_unit,
        before=before,
        after={"name": name, "base_urls": urls, "is_production": is_production},
    )
    return env


@transaction.atomic
def environment_delete(*, actor: Actor, environment: Environment) -> None:
    api = environment.api
    _authorize(actor, Cap.INVENTORY_SUBMIT, api)
    audit.record(
        actor=actor,
        action="api.environment_delete",
        obj=environment,
        org_unit=api.org_unit,
        before={"name": environment.name, "base_urls": environment.base_urls},
    )
    environment.delete()
    refresh_summary(api)


@transaction.atomic
def server_save(
    *,
    actor: Actor,
    org_unit: OrgUnit,
    hostname: str,
    environment: str = "",
    addresses: list[str] | None = None,
    location: str = "",
    operating_system: str = "",
) -> Server:
    import ipaddress

    _authorize_unit(actor, Cap.INVENTORY_SUBMIT, org_unit)
    clean_addresses = []
    for addr in addresses or []:
        try:
            clean_addresses.append(str(ipaddress.ip_address(str(addr).strip())))
        except ValueError as exc:
            raise ValidationError({"addresses": f"{addr!r} is not an IP address."}) from exc
    hostname = hostname.strip().lower().rstrip(".")
    server = Server.objects.filter(hostname=hostname).first()
    if server is not None and actor.user is not None:
        require(actor.user, Cap.INVENTORY_SUBMIT, server)
    if server is None:
        server = Server(hostname=hostname, org_unit=org_unit)
    before = (
        audit.snapshot(server, ["environment", "addresses", "location", "operating_system"])
        if server.pk
        else None
    )
    server.environment, server.addresses = environment, clean_addresses
    server.location, server.operating_system = location, operating_system
    server.full_clean()
    server.save()
    audit.record(
        actor=actor,
        action="server.save",
        obj=server,
        org_unit=server.org_unit,
        before=before,
        after=audit.snapshot(
            server, ["hostname", "environment", "addresses", "location", "operating_system"]
        ),
    )
    return server


@transaction.atomic
def environment_set_servers(*, actor: Actor, environment: Environment, servers: list[Server]) -> Environment:
    api = environment.api
    _authorize(actor, Cap.INVENTORY_SUBMIT, api)
    if actor.user is not None:
        for server in servers:
            require(actor.user, Cap.INVENTORY_VIEW, server)
    before = sorted(environment.servers.values_list("hostname", flat=True))
    environment.servers.set(servers)
    refresh_summary(api)
    audit.record(
        actor=actor,
        action="api.environment_servers",
        obj=environment,
        org_unit=api.org_unit,
        before={"servers": before},
        after={"servers": sorted(s.hostname for s in servers)},
    )
    return environment


@transaction.atomic
def baseline_save(
    *,
    actor: Actor,
    environment: Environment,
    p50_ms: int,
    p95_ms: int,
    p99_ms: int,
    requests_per_second: Any,
    error_rate_percent: Any,
) -> PerformanceBaseline:
    api = environment.api
    _authorize(actor, Cap.INVENTORY_SUBMIT, api)
    if not (0 <= p50_ms <= p95_ms <= p99_ms):
        raise ValidationError({"p95_ms": "Percentiles must satisfy p50 ≤ p95 ≤ p99."})
    baseline = PerformanceBaseline.objects.filter(environment=environment).first() or PerformanceBaseline(
        environment=environment
    )
    baseline.p50_ms, baseline.p95_ms, baseline.p99_ms = p50_ms, p95_ms, p99_ms
    baseline.requests_per_second, baseline.error_rate_percent = requests_per_second, error_rate_percent
    baseline.updated_at = timezone.now()
    baseline.full_clean()
    baseline.save()
    refresh_summary(api)
    audit.record(
        actor=actor,
        action="api.baseline_save",
        obj=environment,
        org_unit=api.org_unit,
        after={
            "p50_ms": p50_ms,
            "p95_ms": p95_ms,
            "p99_ms": p99_ms,
            "rps": str(requests_per_second),
            "error_rate": str(error_rate_percent),
        },
    )
    return baseline


def window_as_engine(window: AvailabilityWindow) -> availability.Window:
    if window.kind == AvailabilityWindow.Kind.RECURRING:
        return availability.RecurringWindow(
            tuple(window.weekdays), window.start_time, window.end_time, window.timezone
        )
    return availability.OneOffWindow(window.starts_at, window.ends_at)


@transaction.atomic
def window_add(
    *,
    actor: Actor,
    api: Api,
    kind: str,
    environment: Environment | None = None,
    description: str = "",
    tz: str = "UTC",
    weekdays: list[int] | None = None,
    start_time: time | None = None,
    end_time: time | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> AvailabilityWindow:
    _authorize(actor, Cap.INVENTORY_SUBMIT, api)
    if environment is not None and environment.api_id != api.pk:
        raise ValidationError({"environment": "That environment belongs to another API."})
    try:
        if kind == AvailabilityWindow.Kind.RECURRING:
            if start_time is None or end_time is None:
                raise availability.WindowError("Give a start and an end time.")
            engine = availability.make_recurring(weekdays or [], start_time, end_time, tz)
            window = AvailabilityWindow(
                api=api,
                environment=environment,
                kind=kind,
                description=description,
                timezone=tz,
                weekdays=list(engine.weekdays),
                start_time=start_time,
                end_time=end_time,
            )
        elif kind == AvailabilityWindow.Kind.ONE_OFF:
            if starts_at is None or ends_at is None:
                raise availability.WindowError("Give a start and an end.")
            engine = availability.make_one_off(starts_at, ends_at)
            window = AvailabilityWindow(
                api=api,
                environment=environment,
                kind=kind,
                description=description,
                timezone="UTC",
                starts_at=engine.starts_at,
                ends_at=engine.ends_at,
            )
        else:
            raise availability.WindowError("Kind must be 'recurring' or 'one_off'.")
        # Windows of the same scope (same environment, or API-wide) must not overlap.
        same_scope = AvailabilityWindow.objects.select_for_update().filter(api=api, environment=environment)
        clash = availability.first_overlap(
            engine, [window_as_engine(w) for w in same_scope], now=timezone.now()
        )
        if clash is not None:
            raise availability.WindowError(f"Overlaps the existing window {availability.describe(clash)}.")
    except availability.WindowError as exc:
        raise ValidationError({"window": str(exc)}) from exc
    window.full_clean()
    window.save()
    audit.record(
        actor=actor,
        action="api.window_add",
        obj=window,
        org_unit=api.org_unit,
        after={"kind": kind, "window": availability.describe(engine)},
    )
    return window


def window_add_from_input(*, actor: Actor, api: Api, data: dict[str, Any]) -> AvailabilityWindow:
    """``window_add`` from what a form or a REST body holds: the environment is named, not passed."""
    environment = None
    if data.get("environment"):
        environment = api.environments.filter(name=data["environment"]).first()
        if environment is None:
            raise ValidationError({"environment": "This API has no environment of that name."})
    return window_add(
        actor=actor,
        api=api,
        kind=data["kind"],
        environment=environment,
        description=data.get("description", ""),
        tz=data.get("timezone") or "UTC",
        weekdays=data.get("weekdays") or [],
        start_time=data.get("start_time"),
        end_time=data.get("end_time"),
        starts_at=data.get("starts_at"),
        ends_at=data.get("ends_at"),
    )


@transaction.atomic
def window_delete(*, actor: Actor, window: AvailabilityWindow) -> None:
    api = window.api
    _authorize(actor, Cap.INVENTORY_SUBMIT, api)
    audit.record(
        actor=actor,
        action="api.window_delete",
        obj=window,
        org_unit=api.org_unit,
        before={"window": availability.describe(window_as_engine(window))},
    )
    window.delete()


def is_expected_up(api: Api, at: datetime, environment: Environment | None = None) -> bool:
    """True unless a planned downtime window of the API (API-wide or for ``environment``) is open."""
    scope = Q(environment__isnull=True)
    if environment is not None:
        scope |= Q(environment=environment)
    windows = AvailabilityWindow.objects.filter(scope, api=api)
    return availability.is_expected_up([window_as_engine(w) for w in windows], at)


# --- Consumers ----------------------------------------------------------------------------------------


@transaction.atomic
def dependency_add(
    *,
    actor: Actor,
    api: Api,
    consumer_api: Api | None = None,
    consumer_service: ConsumerService | None = None,
    note: str = "",
) -> ApiDependency:
    """Record that a consumer relies on ``api``. Cycles are allowed (they exist in real systems);
    the blast-radius walk handles them."""
    _authorize(actor, Cap.INVENTORY_SUBMIT, api)
    if (consumer_api is None) == (consumer_service is None):
        raise ValidationError("Name exactly one consumer: a registered API or a service.")
    if consumer_api is not None and consumer_api.pk == api.pk:
        raise ValidationError({"consumer_api": "An API cannot consume itself."})
    dep, created = ApiDependency.objects.get_or_create(
        api=api, consumer_api=consumer_api, consumer_service=consumer_service, defaults={"note": note}
    )
    if created:
        audit.record(
            actor=actor,
            action="api.dependency_add",
            obj=dep,
            org_unit=api.org_unit,
            after={"consumer": str(consumer_api or consumer_service), "api": api.slug},
        )
    return dep


@transaction.atomic
def consumer_add(
    *, actor: Actor, api: Api, consumer_api_slug: str = "", consumer_service_name: str = "", note: str = ""
) -> ApiDependency:
    """Record a consumer named by the user: an API they can see (by slug), or a service, which is
    recorded as owned by the API's unit (the team that knows of it)."""
    consumer_api = None
    if consumer_api_slug:
        candidates = Api.objects.filter(slug=consumer_api_slug)
        if actor.user is not None:
            candidates = candidates.visible_to(actor.user, Cap.INVENTORY_VIEW)
        consumer_api = candidates.first()
        if consumer_api is None:
            raise ValidationError({"consumer_api": "No API with this slug that you can see."})
    service = None
    if consumer_service_name:
        service = consumer_service_save(actor=actor, owner=api.org_unit, name=consumer_service_name)
    return dependency_add(
        actor=actor, api=api, consumer_api=consumer_api, consumer_service=service, note=note
    )


@transaction.atomic
def dependency_remove(*, actor: Actor, dependency: ApiDependency) -> None:
    api = dependency.api
    _authorize(actor, Cap.INVENTORY_SUBMIT, api)
    audit.record(
        actor=actor,
        action="api.dependency_remove",
        obj=dependency,
        org_unit=api.org_unit,
        before={"consumer": str(dependency.consumer_api or dependency.consumer_service)},
    )
    dependency.delete()


@transaction.atomic
def consumer_service_save(
    *, actor: Actor, owner: OrgUnit, name: str, contact_email: str = ""
) -> ConsumerService:
    _authorize_unit(actor, Cap.INVENTORY_SUBMIT, owner)
    service, created = ConsumerService.objects.get_or_create(
        owner=owner, name=name.strip(), defaults={"contact_email": contact_email}
    )
    if not created and service.contact_email != contact_email and contact_email:
        service.contact_email = contact_email
        service.full_clean()
        service.save(update_fields=["contact_email"])
    elif created:
        service.full_clean()
        audit.record(
            actor=actor,
            action="consumer_service.create",
            obj=service,
            org_unit=owner,
            after={"name": service.name},
        )
    return service


# --- Components (SBOM / lockfiles) --------------------------------------------------------------------


@dataclass
class ComponentReplaceResult:
    sbom_import: SbomImport
    warnings: list[str] = field(default_factory=list)


@transaction.atomic
def components_replace(
    *, actor: Actor, api: Api, data: bytes, filename: str = "", format: str | None = None
) -> ComponentReplaceResult:
    """Replace the API's uploaded component set with the file's, all or nothing, recording the changes."""
    from inventory import sbom

    _authorize(actor, Cap.INVENTORY_SUBMIT, api)
    try:
        parsed = sbom.parse_sbom(
            data, filename=filename, format=format, max_bytes=settings.PORTAL_UPLOAD_MAX_BYTES
        )
    except sbom.SbomError as exc:
        raise ValidationError({"file": str(exc)}) from exc
    api = Api.objects.select_for_update().select_related("org_unit").get(pk=api.pk)
    current = Component.objects.filter(api=api, source=Component.Source.SBOM)
    changes = sbom.diff_components([(c.ecosystem, c.name, c.version) for c in current], parsed.components)
    current.delete()
    Component.objects.bulk_create(
        [
            Component(
                api=api,
                ecosystem=c.ecosystem,
                name=c.name[:300],
                version=c.version[:100],
                purl=c.purl[:600],
                kind=c.kind,
                direct=c.direct,
                source=Component.Source.SBOM,
            )
            for c in parsed.components
        ],
        ignore_conflicts=True,  # a declared component with the same purl stays as declared
    )
    record = SbomImport.objects.create(
        api=api,
        format=parsed.format,
        filename=filename[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        component_count=len(parsed.components),
        added=changes.added,
        removed=changes.removed,
        upgraded=changes.upgraded,
        uploaded_by=actor.user,
    )
    refresh_summary(api)
    audit.record(
        actor=actor,
        action="api.components_replace",
        obj=api,
        org_unit=api.org_unit,
        after={
            "format": parsed.format,
            "sha256": record.sha256,
            "count": len(parsed.components),
            "added": len(changes.added),
            "removed": len(changes.removed),
            "upgraded": len(changes.upgraded),
        },
    )
    return ComponentReplaceResult(sbom_import=record, warnings=parsed.warnings)


@transaction.atomic
def component_declare(
    *, actor: Actor, api: Api, ecosystem: str, name: str, version: str, kind: str
) -> Component:
    """A framework or runtime declared in the form (kept across SBOM uploads)."""
    from packageurl import PackageURL

    _authorize(actor, Cap.INVENTORY_SUBMIT, api)
    if kind not in Component.Kind.values:
        raise ValidationError({"kind": "Unknown kind."})
    ecosystem = ecosystem.strip().lower() or "generic"
    try:
        purl = PackageURL(type=ecosystem, name=name.strip(), version=version.strip() or None).to_string()
    except ValueError as exc:
        raise ValidationError({"name": f"Not a valid package: {exc}"}) from exc
    component, _ = Component.objects.update_or_create(
        api=api,
        purl=purl,
        defaults={
            "ecosystem": ecosystem,
            "name": name.strip(),
            "version": version.strip(),
            "kind": kind,
            "direct": True,
            "source": Component.Source.DECLARED,
        },
    )
    refresh_summary(api)
    audit.record(
        actor=actor,
        action="api.component_declare",
        obj=component,
        org_unit=api.org_unit,
        after={"purl": purl, "kind": kind},
    )
    return component


# --- Specs --------------------------------------------------------------------------------------------


@dataclass
class SpecUploadResult:
    spec: Spec
    created: bool


@transaction.atomic
def spec_upload(*, actor: Actor, api: Api, data: bytes, filename: str = "") -> SpecUploadResult:
    """Validate and store a new version of the API's OpenAPI document; identical content is a no-op."""
    from inventory import openapi

    _authorize(actor, Cap.INVENTORY_SUBMIT, api)
    try:
        parsed = openapi.parse_spec(data, max_bytes=settings.PORTAL_UPLOAD_MAX_BYTES)
    except openapi.SpecError as exc:
        raise ValidationError({"file": str(exc)}) from exc
    api = Api.objects.select_for_update().select_related("org_unit").get(pk=api.pk)
    digest = hashlib.sha256(data).hexdigest()
    current = api.specs.filter(is_current=True).first()
    if current is not None and current.sha256 == digest:
        return SpecUploadResult(spec=current, created=False)
    number = (api.specs.aggregate(n=Max("number"))["n"] or 0) + 1
    api.specs.filter(is_current=True).update(is_current=False)
    spec = Spec.objects.create(
        api=api,
        number=number,
        sha256=digest,
        format=parsed.format,
        content=data.decode("utf-8-sig"),
        openapi_version=parsed.openapi_version,
        title=parsed.title[:300],
        info_version=parsed.info_version[:100],
        filename=filename[:255],
        operation_count=len(parsed.operations),
        uploaded_by=actor.user,
        is_current=True,
    )
    operations = Operation.objects.bulk_create(
        [
            Operation(
                spec=spec,
                method=op.method,
                path=op.path[:500],
                operation_id=op.operation_id[:200],
                summary=op.summary[:500],
                auth_required=op.auth_required,
                deprecated=op.deprecated,
                parameters=op.parameters,
            )
            for op in parsed.operations
        ]
    )
    if not all(o.pk for o in operations):  # backends without RETURNING ids on bulk insert
        operations = list(spec.operations.all())
    by_key = {(o.method, o.path): o for o in operations}
    ResponseCode.objects.bulk_create(
        [
            ResponseCode(operation=by_key[(op.method, op.path[:500])], code=code[:10], description=desc[:500])
            for op in parsed.operations
            for code, desc in op.responses.items()
        ]
    )
    refresh_summary(api)
    audit.record(
        actor=actor,
        action="api.spec_upload",
        obj=spec,
        org_unit=api.org_unit,
        after={
            "number": number,
            "sha256": digest,
            "operations": len(parsed.operations),
            "openapi": parsed.openapi_version,
        },
    )
    return SpecUploadResult(spec=spec, created=True)


def spec_operations(spec: Spec) -> list:
    """The stored operations of a spec as engine objects, for diffs."""
    from inventory import openapi

    ops = spec.operations.prefetch_related("responses")
    return [
        openapi.ParsedOperation(
            method=o.method,
            path=o.path,
            operation_id=o.operation_id,
            summary=o.summary,
            auth_required=o.auth_required,
            deprecated=o.deprecated,
            parameters=o.parameters,
            responses={r.code: r.description for r in o.responses.all()},
        )
        for o in ops
    ]
