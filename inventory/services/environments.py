"""Where an API runs: its environments, the servers behind them and their typical performance.

Every verb is one transaction with one audit record and checks access itself (``portal.access.authorize``).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from inventory.models import (
    Api,
    Environment,
    Limits,
    PerformanceBaseline,
    Server,
)
from inventory.services import review
from inventory.services.summary import refresh_summary
from portal import audit
from portal.access import Cap, authorize, authorize_unit, in_scope, require
from portal.audit import Actor
from portal.models import OrgUnit

# A base URL as text, before it is parsed; the REST schema says the same (inventory.serializers).
BASE_URL_MAX_LENGTH = 500
# An IP address as text: the longest IPv6 form (IPv4-mapped) is 45 characters.
SERVER_ADDRESS_MAX_LENGTH = 45


def _validate_base_urls(urls: list[str]) -> list[str]:
    from urllib.parse import urlsplit

    if not isinstance(urls, list) or not urls:
        raise ValidationError({"base_urls": "Give at least one base URL."})
    if len(urls) > Limits.BASE_URLS:
        raise ValidationError({"base_urls": f"At most {Limits.BASE_URLS} base URLs per environment."})
    cleaned = []
    for url in urls:
        if not isinstance(url, str) or len(url) > BASE_URL_MAX_LENGTH:
            raise ValidationError(
                {"base_urls": f"Each base URL must be text of at most {BASE_URL_MAX_LENGTH} characters."}
            )
        parts = urlsplit("")
        try:
            parts = urlsplit(url.strip())
            hostname = parts.hostname
        except ValueError:  # e.g. an unclosed IPv6 bracket: "https://[::1"
            hostname = None
        if not hostname or parts.scheme not in ("http", "https", "grpc", "grpcs", "ws", "wss"):
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
    authorize(actor, Cap.INVENTORY_SUBMIT, api)
    urls = _validate_base_urls(base_urls)
    if not api.environments.filter(name=name).exists() and api.environments.count() >= Limits.ENVIRONMENTS:
        raise ValidationError({"name": f"An API has at most {Limits.ENVIRONMENTS} environments."})
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
    # Base URLs are where the scanner goes and a production flag decides which checks may run there.
    review.api_send_back(actor=actor, api=api, what=f"environment {name} {'added' if created else 'changed'}")
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
    authorize(actor, Cap.INVENTORY_SUBMIT, api)
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

    authorize_unit(actor, Cap.INVENTORY_SUBMIT, org_unit)
    if len(addresses or []) > Limits.SERVER_ADDRESSES:
        raise ValidationError({"addresses": f"At most {Limits.SERVER_ADDRESSES} addresses."})
    clean_addresses = []
    for addr in addresses or []:
        if len(str(addr).strip()) > SERVER_ADDRESS_MAX_LENGTH:
            raise ValidationError(
                {"addresses": f"An IP address has at most {SERVER_ADDRESS_MAX_LENGTH} characters."}
            )
        try:
            clean_addresses.append(str(ipaddress.ip_address(str(addr).strip())))
        except ValueError as exc:
            raise ValidationError({"addresses": f"{addr!r} is not an IP address."}) from exc
    hostname = normalize_hostname(hostname)
    server = Server.objects.filter(org_unit=org_unit, hostname=hostname).first()
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
    if before is not None and before != audit.snapshot(server, list(before)):
        # Every API running on this host shows it: what their reviewers see has changed (one UPDATE
        # however many APIs share the host; nothing the summary counts has).
        on_host = Api.objects.filter(environments__servers=server).values("pk")
        Api.objects.filter(pk__in=on_host).update(revision=F("revision") + 1)
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
    authorize(actor, Cap.INVENTORY_SUBMIT, api)
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


def normalize_hostname(hostname: str) -> str:
    return hostname.strip().lower().rstrip(".")


@transaction.atomic
def environment_attach_server(
    *,
    actor: Actor,
    environment: Environment,
    hostname: str,
    addresses: list[str] | None = None,
    location: str = "",
    operating_system: str = "",
) -> Server:
    """Record the host an environment runs on and attach it: what the form and REST both call.

    The API's team's own record of the host is created or updated. A host that only a team the actor
    can see but not act for has registered (a shared platform host) is attached as it is. Records the
    actor cannot see are never touched nor revealed: the answer is the same as for a new name.
    """
    api = environment.api
    authorize(actor, Cap.INVENTORY_SUBMIT, api)
    hostname = normalize_hostname(hostname)
    records = Server.objects.filter(hostname=hostname).select_related("org_unit")
    if actor.user is not None:
        records = records.visible_to(actor.user, Cap.INVENTORY_VIEW)
    by_unit = {server.org_unit_id: server for server in records}
    shared = next(
        (
            s
            for s in by_unit.values()
            if actor.user is not None and not in_scope(actor.user, Cap.INVENTORY_SUBMIT, s.scope_path_value)
        ),
        None,
    )
    if api.org_unit_id not in by_unit and shared is not None:
        server = shared
    else:
        server = server_save(
            actor=actor,
            org_unit=api.org_unit,
            hostname=hostname,
            environment=environment.name,
            addresses=addresses,
            location=location,
            operating_system=operating_system,
        )
    # environment_set_servers checks the actor may see every server (404 for another team's hidden host).
    environment_set_servers(
        actor=actor, environment=environment, servers=[*environment.servers.all(), server]
    )
    attached: Server = server
    return attached


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
    authorize(actor, Cap.INVENTORY_SUBMIT, api)
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
