"""What a run tests, read from the inventory: the ``Target`` the checks get, and the client they send with.

    target = target_for(run, client_factory=scanner_client_factory(requests_per_second=plan.requests_per_second))

Everything here is read once per run, bounded: at most ``MAX_OPERATIONS`` operations of the API's
current spec (rows already stored at upload, with their documented response codes), their JSON
schemas from the stored document when it is small enough to parse again (``SPEC_SCHEMA_MAX_BYTES``),
the environment's performance baseline, this plan's recent ``latency_slo`` p95s, whether the API
should be up now, who depends on it, the production flag and the intrusive opt-ins. Identities are
decrypted and resolved by ``testing.engines.identities``, the owners' functional cases parsed by
``testing.engines.cases``.

Decisions: ``docs_public`` is true only for an API whose exposure is ``public`` (its documentation is
then meant to be seen; for internal and partner APIs, reachable docs are a finding). Intrusive checks
run only when the plan allows them and, on a production environment, the owner opted in too.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import timezone

from inventory.models import Exposure, Operation, PerformanceBaseline, ResponseCode
from inventory.selectors import blast_radius, is_expected_up, spec_current
from testing.crypto import IdentityKeyError
from testing.engines.checks.base import Identity, OperationSpec, Target
from testing.engines.checks.targets import operations_from_openapi
from testing.engines.safe_http import BudgetExceeded, Limits, SafeClient
from testing.models import (
    CheckOutcome,
    CheckResult,
    FunctionalCase,
    PlanIdentity,
    RunStatus,
    TestPlan,
    TestRun,
)

log = logging.getLogger(__name__)

MAX_OPERATIONS = 500
SPEC_SCHEMA_MAX_BYTES = 2 * 1024 * 1024
MAX_CONSUMERS = 50
LATENCY_CHECK = "latency_slo"
LATENCY_METRIC = "p95_ms"
HISTORY_RUNS = 10
IDENTITY_BUDGET = 20  # requests to resolve the identities (login steps, token endpoints)
MAX_CASES_SOURCES = 20

ClientFactory = Callable[[int], SafeClient]


def scanner_client_factory(*, requests_per_second: int | None = None) -> ClientFactory:
    """A factory of safe clients with the deployment's limits: allowed networks, timeouts, rate.
    ``requests_per_second``: a plan's own rate per host (``TestPlan.requests_per_second``), in place
    of the deployment's ``SCANNER_PER_HOST_RATE``; None keeps the deployment's."""
    timeout = float(settings.SCANNER_TIMEOUT_SECONDS)
    rate = float(settings.SCANNER_PER_HOST_RATE if requests_per_second is None else requests_per_second)
    networks = list(settings.SCANNER_ALLOWED_NETWORKS)

    def make(budget: int) -> SafeClient:
        limits = Limits(
            connect_timeout=timeout,
            read_timeout=timeout,
            total_timeout=3 * timeout,
            per_host_rate=rate,
            max_requests=budget,
        )
        return SafeClient(allowed_networks=networks, limits=limits)

    return make


def intrusive_allowed(plan: TestPlan) -> bool:
    """The plan's opt-in; on a production environment, the owner's as well."""
    return plan.intrusive_allowed and (not plan.environment.is_production or plan.production_opt_in)


def _parameter(stored: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: stored[k] for k in ("name", "in", "required") if k in stored}
    if stored.get("schema_type"):
        out["schema"] = {"type": str(stored["schema_type"]).split("|")[0]}
    return out


def operations_of(plan: TestPlan) -> tuple[OperationSpec, ...]:
    """The current spec's operations (bounded), with parameters, documented responses and, when the
    document is small enough to read again, their JSON schemas."""
    spec = spec_current(plan.api)
    if spec is None:
        return ()
    rows = list(
        Operation.objects.filter(spec=spec)
        .order_by("path", "method")
        .values_list("pk", "method", "path", "operation_id", "auth_required", "parameters")[:MAX_OPERATIONS]
    )
    codes: dict[int, list[str]] = {}
    for op_id, code in ResponseCode.objects.filter(operation_id__in=[r[0] for r in rows]).values_list(
        "operation_id", "code"
    ):
        codes.setdefault(op_id, []).append(code)
    schemas = _schemas(spec.pk, {(r[1], r[2]) for r in rows})
    out = []
    for pk, method, path, operation_id, auth_required, parameters in rows:
        found = schemas.get((method.upper(), path))
        responses: dict[str, Any] = dict.fromkeys(codes.get(pk, []))
        if found is not None:
            responses |= {code: schema for code, schema in found.responses.items() if code in responses}
        out.append(
            OperationSpec(
                method=method,
                path=path,
                operation_id=operation_id,
                auth_required=auth_required,
                # The document's own parameter objects (schemas, examples) when it could be read.
                parameters=found.parameters
                if found is not None and found.parameters
                else tuple(_parameter(p) for p in parameters or [] if isinstance(p, dict)),
                request_schema=found.request_schema if found is not None else None,
                responses=responses,
            )
        )
    return tuple(out)


def _schemas(spec_id: int, keys: set[tuple[str, str]]) -> dict[tuple[str, str], OperationSpec]:
    """The document's own view of the stored operations (schemas, parameter objects, examples),
    read by the one bounded reader the checks use (``checks.targets.operations_from_openapi``)."""
    from inventory.engines.openapi import SpecError, parse_spec
    from inventory.models import Spec

    row = Spec.objects.filter(pk=spec_id).values_list("content", flat=True).first()
    if not row or len(row) > SPEC_SCHEMA_MAX_BYTES:
        return {}
    try:
        document = parse_spec(row.encode()).document
    except SpecError:
        log.warning("The current spec %s no longer parses; testing without its schemas", spec_id)
        return {}
    wanted = {(method.upper(), path) for method, path in keys}
    return {
        (op.method, op.path): op for op in operations_from_openapi(document) if (op.method, op.path) in wanted
    }


def latency_history(plan: TestPlan, *, before: TestRun | None = None) -> tuple[float, ...]:
    """This plan's ``latency_slo`` p95s (ms) of its last finished runs, oldest first."""
    from testing.services.runs import plan_base_url

    # Only runs of the registered deployment: a preview tested with --base-url is another server.
    results = CheckResult.objects.filter(
        run__plan=plan,
        run__base_url=plan_base_url(plan),
        run__status__in=(RunStatus.PASSED, RunStatus.FAILED),
        check_key=LATENCY_CHECK,
        outcome__in=(CheckOutcome.PASSED, CheckOutcome.FAILED),
    )
    if before is not None:
        results = results.exclude(run=before)
    metrics = list(results.order_by("-created_at", "-pk").values_list("metrics", flat=True)[:HISTORY_RUNS])
    values = []
    for metric in reversed(metrics):
        value = metric.get(LATENCY_METRIC) if isinstance(metric, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 3_600_000:
            values.append(float(value))
    return tuple(values)


def _identities(
    plan: TestPlan, client: SafeClient, base_url: str
) -> tuple[tuple[Identity, ...], tuple[str, ...]]:
    """The plan's identities, decrypted and resolved into headers by the identities engine (a login
    step or an OAuth2 token request goes out through ``client``), and the ones that could not be
    opened or resolved as "name: reason" (no secret): those make the run untrustworthy, never green."""
    from testing.engines import identities as engine
    from testing.services.identities import identity_secret
    from testing.services.runs import origin_of

    resolved: list[Identity] = []
    errors: list[str] = []
    origin = origin_of(base_url)
    for identity in PlanIdentity.objects.filter(plan=plan).order_by("name"):
        # Credentials go only where they were set for, and never in clear text off this machine:
        # a changed base URL, a preview (--base-url) or an added http:// URL gets no secret.
        if not identity.origin or identity.origin != origin:
            errors.append(
                f"{identity.name}: set for {identity.origin or 'another URL'}, not sent to {origin}; set it again"
            )
            continue
        if origin.startswith("http://") and not _loopback(origin):
            errors.append(f"{identity.name}: not sent over plain HTTP")
            continue
        try:
            spec = engine.from_json(json.dumps(identity_secret(identity)))
            resolved.append(engine.resolve(spec, client=client, base_url=base_url))
        except (engine.IdentityError, IdentityKeyError, BudgetExceeded) as exc:
            # The engine's and the key ring's messages hold no secret.
            log.warning("Identity %s of plan %s could not be used: %s", identity.name, plan.pk, exc)
            errors.append(f"{identity.name}: {str(exc)[:150]}")
    return tuple(resolved), tuple(errors)


def _loopback(origin: str) -> bool:
    host = origin.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _cases(plan: TestPlan) -> tuple[Any, ...]:
    """The API's enabled functional cases, parsed by the cases engine. Saved valid; a source the
    engine no longer accepts is left out and logged, it does not stop the run."""
    from testing.engines.cases import CaseError, parse_cases

    cases: list[Any] = []
    sources = FunctionalCase.objects.filter(api=plan.api, enabled=True).order_by("name")
    for name, source in sources.values_list("name", "source")[:MAX_CASES_SOURCES]:
        try:
            cases.extend(parse_cases(source))
        except CaseError as exc:
            log.warning("Functional cases %r of plan %s do not parse: %s", name, plan.pk, exc)
    return tuple(cases)


def target_for(run: TestRun, *, client_factory: ClientFactory) -> Target:
    plan = run.plan
    api, environment = plan.api, plan.environment
    base_url = (run.base_url or "").rstrip("/")
    baseline = (
        PerformanceBaseline.objects.filter(environment=environment).values_list("p95_ms", flat=True).first()
    )
    consumers = [entry.name for entry in blast_radius(api)[:MAX_CONSUMERS]]
    identity_client = client_factory(IDENTITY_BUDGET)
    try:
        identities, identity_errors = _identities(plan, identity_client, base_url)
    finally:
        identity_client.close()
    return Target(
        base_url=base_url,
        operations=operations_of(plan),
        identities=identities,
        identity_errors=identity_errors,
        auth_schemes=tuple(str(s) for s in api.auth_schemes or []),
        production=environment.is_production,
        intrusive_allowed=intrusive_allowed(plan),
        latency_p95_ms=float(baseline) if baseline is not None else None,
        latency_tolerance=float(plan.latency_tolerance),
        latency_history=latency_history(plan, before=run),
        expected_up=is_expected_up(api, timezone.now(), environment),
        consumers=tuple(consumers),
        docs_public=api.exposure == Exposure.PUBLIC,
        cases=_cases(plan),
    )
