"""Benchmark for the inventory pages and their REST equivalents, against PostgreSQL and gunicorn.

    .venv/bin/python bench/inventory_bench.py                     # 10,000 APIs, 100,000 components
    .venv/bin/python bench/inventory_bench.py --requests 500 --concurrency 2
    .venv/bin/python bench/inventory_bench.py --explain           # also EXPLAIN ANALYZE the list queries

What it does:

1. Creates the database ``portal_bench`` if missing (``--database``), migrates it and seeds it with
   ``bulk_create`` (org tree of ~100 teams, APIs with environments, servers, baselines, specs with
   operations, components, SBOM imports, a CISO with a confirmed TOTP device and a developer on one
   team). Seeding is skipped when the counts are already there, so a second run starts measuring
   at once; a different ``--apis``/``--components`` wipes and reseeds.
2. Counts the SQL queries of each endpoint in-process (django.test.Client + CaptureQueriesContext),
   here and in a small database (``portal_bench_small``: 100 APIs, 1,000 components, seeded the
   same way by a child run of this script), so "constant query count" is checked, not assumed.
3. Starts ``gunicorn portal.wsgi -w 2`` on a free port (always stopped at the end), then for each
   endpoint and user (CISO: sees every API; developer: sees one team) sends ``--requests`` GETs at
   ``--concurrency`` after a warm-up, and prints p50/p95/p99 and requests/s as a Markdown table.

The load generator runs on the same machine as gunicorn and PostgreSQL, so it competes with them
for the 2 cores: the figures are pessimistic. The load average before and during the run is
printed; if it was high before the run started, other work (a test suite…) was sharing the CPUs.
The REST user throttle is raised for the gunicorn process (THROTTLE_USER) so the benchmark is not
answered with 429s; the throttle check itself still runs on every request.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_SERVER = "postgres://postgres@127.0.0.1:5432"
TARGET_P95_MS = 100.0
SMALL_APIS, SMALL_COMPONENTS = 100, 1_000
SEED = 20240601
SEED_VERSION = 2  # bump when the generated data changes: a run then reseeds
ROOT_NAME = f"Bench Corp (seed v{SEED_VERSION})"
BENCH_TOKEN_NAME = "inventory-bench"  # noqa: S105 - a label, not a secret
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


# --- Database and Django --------------------------------------------------------------------------------


def ensure_database(name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["PORTAL_ENV"] = "development"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"migrate: {time.perf_counter() - t0:.1f} s")


# --- Seeding --------------------------------------------------------------------------------------------

DIVISIONS = ["Retail", "Payments", "Platform", "Corporate"]
DEPARTMENTS = ["Core", "Growth", "Data", "Operations", "Partners"]
TEAMS = ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]
NAME_HEADS = [
    "Payments", "Orders", "Customer", "Inventory", "Shipping", "Billing", "Identity", "Search",
    "Catalog", "Pricing", "Loyalty", "Notification", "Fraud", "Ledger", "Partner", "Reporting",
    "Document", "Account", "Checkout", "Refund",
]  # fmt: skip
NAME_TAILS = ["API", "Gateway", "Service", "Events", "Sync", "Lookup", "Admin", "Webhooks"]
ECOSYSTEMS = {
    "pypi": ["django", "requests", "flask", "fastapi", "pydantic", "sqlalchemy", "celery", "urllib3",
             "cryptography", "pyyaml", "jinja2", "gunicorn", "boto3", "numpy", "pillow", "lxml"],
    "npm": ["express", "lodash", "axios", "react", "next", "jsonwebtoken", "moment", "body-parser",
            "helmet", "cors", "ws", "minimist", "qs", "semver", "uuid", "debug"],
    "maven": ["org.springframework:spring-web", "com.fasterxml.jackson.core:jackson-databind",
              "org.apache.logging.log4j:log4j-core", "io.netty:netty-handler", "com.google.guava:guava",
              "org.yaml:snakeyaml", "org.apache.commons:commons-text", "io.micrometer:micrometer-core"],
    "golang": ["github.com/gin-gonic/gin", "golang.org/x/net", "github.com/golang-jwt/jwt",
               "google.golang.org/grpc", "github.com/spf13/cobra", "gopkg.in/yaml.v3"],
}  # fmt: skip
POOL_PER_ECOSYSTEM = 800  # real names first, then synthetic ones: ~3,200 distinct packages
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
RESOURCES = ["accounts", "orders", "charges", "customers", "items", "refunds", "users", "events"]


def _package_pool() -> list[tuple[str, str, str]]:
    """(ecosystem, name, kind) tuples."""
    pool = []
    for eco, names in ECOSYSTEMS.items():
        for i in range(POOL_PER_ECOSYSTEM):
            name = names[i] if i < len(names) else f"{eco}-lib-{i:04d}"
            kind = "framework" if i in (0, 1, 2) else "library"
            pool.append((eco, name, kind))
    return pool


def _purl(eco: str, name: str, version: str) -> str:
    if eco == "maven" and ":" in name:
        group, artifact = name.split(":", 1)
        return f"pkg:maven/{group}/{artifact}@{version}"
    return f"pkg:{eco}/{name}@{version}"


def _spec_yaml(title: str, ops: list[tuple[str, str]]) -> str:
    """An OpenAPI document of about 1 KB per operation (descriptions, parameters, schemas)."""
    lines = ["openapi: 3.0.3", "info:", f"  title: {title}", "  version: 1.0.0", "paths:"]
    by_path: dict[str, list[str]] = {}
    for method, path in ops:
        by_path.setdefault(path, []).append(method)
    for path, methods in by_path.items():
        lines.append(f"  {path}:")
        for method in methods:
            op_id = method.lower() + path.replace("/", "_").replace("{", "").replace("}", "")
            lines += [
                f"    {method.lower()}:",
                f"      operationId: {op_id}",
                f"      summary: {method} {path}",
                f"      description: Handles {method} on {path}. Requires a token with the matching scope;",
                "        responses are paginated where they list more than one item.",
                "      security: [{oauth2: [read, write]}]",
                "      parameters:",
                "        - {name: X-Request-ID, in: header, required: false, schema: {type: string}}",
                "        - {name: limit, in: query, required: false, schema: {type: integer, maximum: 200}}",
                "      responses:",
                "        '200':",
                "          description: OK",
                "          content:",
                "            application/json:",
                "              schema: {type: object, properties: {id: {type: string}, created: {type: string,",
                "                format: date-time}, status: {type: string, enum: [active, closed]}}}",
                "        '401': {description: Unauthorized}",
                "        '403': {description: Forbidden}",
                "        '404': {description: Not found}",
            ]
    lines += [
        "components:",
        "  securitySchemes:",
        "    oauth2: {type: oauth2, flows: {clientCredentials: {tokenUrl: /oauth/token, scopes: {read: r}}}}",
    ]
    return "\n".join(lines) + "\n"


def seed(n_apis: int, n_components: int) -> bool:
    """Fill the database; False when it already holds this data set."""
    from django.db import connection, transaction
    from django.utils import timezone

    from inventory.models import (
        Api,
        Component,
        Environment,
        Operation,
        PerformanceBaseline,
        ResponseCode,
        SbomImport,
        Server,
        Spec,
    )
    from inventory.selectors import COMPLETENESS_PIECES
    from portal.models import OrgUnit

    if (
        OrgUnit.objects.filter(slug="bench-root", name=ROOT_NAME).exists()
        and Api.objects.count() == n_apis
        and Component.objects.count() == n_components
    ):
        print(f"seed: already there ({n_apis:,} APIs, {n_components:,} components), skipped")
        return False

    rng = random.Random(SEED)
    t0 = time.perf_counter()
    now = timezone.now()
    with connection.cursor() as cursor:
        # Everything hanging off the org tree (APIs and all below them) goes with it.
        cursor.execute(f"TRUNCATE {OrgUnit._meta.db_table}, {Server._meta.db_table} CASCADE")

    with transaction.atomic():
        # Org tree: root → 4 divisions → 20 departments → 100 teams.
        root = OrgUnit.objects.create(
            name=ROOT_NAME, slug="bench-root", kind=OrgUnit.Kind.COMPANY, path="/pending-root/"
        )
        root.path = f"/{root.pk}/"
        root.save(update_fields=["path"])

        def level(parents: list[OrgUnit], names: list[str], kind: str) -> list[OrgUnit]:
            units = [
                OrgUnit(
                    name=f"{parent.name} {name}" if parent is not root else name,
                    slug=f"{parent.slug}-{name.lower()}",
                    kind=kind,
                    parent=parent,
                    path=f"/pending-{parent.pk}-{i}/",
                    depth=parent.depth + 1,
                )
                for parent in parents
                for i, name in enumerate(names)
            ]
            OrgUnit.objects.bulk_create(units)
            for unit in units:
                unit.path = f"{unit.parent.path}{unit.pk}/"
            OrgUnit.objects.bulk_update(units, ["path"])
            return units

        divisions = level([root], DIVISIONS, OrgUnit.Kind.DIVISION)
        departments = level(divisions, DEPARTMENTS, OrgUnit.Kind.DEPARTMENT)
        teams = level(departments, TEAMS, OrgUnit.Kind.TEAM)

        # Servers, owned by the teams.
        servers = [
            Server(
                hostname=f"srv-{i:04d}.dc{i % 3 + 1}.example.internal",
                environment="production" if i % 4 else "staging",
                addresses=[f"10.{i // 250}.{i % 250}.10"],
                location=f"dc{i % 3 + 1}",
                operating_system=rng.choice(["Ubuntu 22.04", "Ubuntu 24.04", "RHEL 9", "Debian 12"]),
                org_unit=teams[i % len(teams)],
            )
            for i in range(max(30, n_apis // 30))
        ]
        Server.objects.bulk_create(servers, batch_size=2000)

        # APIs.
        statuses = ["approved"] * 60 + ["submitted"] * 10 + ["draft"] * 15 + ["changes_requested"] * 5
        statuses += ["deprecated"] * 5 + ["suspended"] * 2 + ["retired"] * 3
        plans = []
        apis = []
        for i in range(n_apis):
            head, tail = NAME_HEADS[i % len(NAME_HEADS)], NAME_TAILS[(i // len(NAME_HEADS)) % len(NAME_TAILS)]
            name = f"{head} {tail} {i:05d}"
            plan = {
                "description": rng.random() < 0.85,
                "contact": rng.random() < 0.8,
                "environments": rng.random() < 0.9,
                "auth": rng.random() < 0.8,
                "protocols": rng.random() < 0.85,
                "spec": rng.random() < 0.3,
                "servers": rng.random() < 0.5,
                "metrics": rng.random() < 0.3,
                "availability": rng.random() < 0.6,
                "staging": rng.random() < 0.6,
            }
            plans.append(plan)
            created = now - timedelta(days=rng.uniform(30, 900))
            status = rng.choice(statuses)
            apis.append(
                Api(
                    name=name,
                    slug=f"{head.lower()}-{tail.lower()}-{i:05d}",
                    description=(
                        f"{head} {tail.lower()} for the {rng.choice(DIVISIONS).lower()} division. "
                        "Serves internal and partner clients; see the runbook for on-call details."
                        if plan["description"]
                        else ""
                    ),
                    org_unit=teams[rng.randrange(len(teams))] if i else teams[0],
                    technical_contact_name=f"Owner {i}" if plan["contact"] else "",
                    technical_contact_email=f"owner{i}@example.com" if plan["contact"] else "",
                    lifecycle=rng.choice(
                        ["production"] * 6 + ["design", "experimental", "deprecated", "retired"]
                    ),
                    version=f"{rng.randint(1, 5)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
                    exposure=rng.choice(["internal"] * 6 + ["partner"] * 2 + ["public"] * 2),
                    data_classification=rng.choice(
                        ["public", "internal", "internal", "confidential", "restricted"]
                    ),
                    handles_personal_data=rng.random() < 0.35,
                    auth_schemes=rng.sample(["oauth2", "bearer", "api_key", "mtls"], rng.randint(1, 2))
                    if plan["auth"]
                    else [],
                    protocols=["rest_https"] + (["graphql"] if rng.random() < 0.1 else [])
                    if plan["protocols"]
                    else [],
                    availability_target=Decimal(
                        rng.choice(["99.000", "99.500", "99.900", "99.950", "99.990"])
                    )
                    if plan["availability"]
                    else None,
                    status=status,
                    status_changed_at=created + timedelta(days=5),
                    confirmed_at=now - timedelta(days=rng.uniform(0, 400)),
                    created_at=created,
                    updated_at=now - timedelta(days=rng.uniform(0, 30)),
                )
            )
        Api.objects.bulk_create(apis, batch_size=2000)

        # Components per API: log-normal (most APIs a few dozen, a few hundreds, ~8 % none).
        pool = _package_pool()
        weights = [0.0 if rng.random() < 0.08 else rng.lognormvariate(0, 1) for _ in apis]
        total_w = sum(weights) or 1.0
        counts = [min(len(pool), round(n_components * w / total_w)) for w in weights]
        diff = n_components - sum(counts)
        with_any = [i for i, c in enumerate(counts) if c] or list(range(len(apis)))
        while diff:
            i = rng.choice(with_any)
            if diff > 0 and counts[i] < len(pool):
                counts[i] += 1
                diff -= 1
            elif diff < 0 and counts[i] > 0:
                counts[i] -= 1
                diff += 1
        components: list[Component] = []
        imports: list[SbomImport] = []
        for api, count in zip(apis, counts, strict=True):
            purls = []
            for eco, name, kind in rng.sample(pool, count):
                version = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"
                purl = _purl(eco, name, version)
                purls.append(purl)
                components.append(
                    Component(
                        api=api,
                        ecosystem=eco,
                        name=name,
                        version=version,
                        purl=purl,
                        kind=kind,
                        direct=rng.random() < 0.3,
                    )
                )
            if count:
                imports.append(
                    SbomImport(
                        api=api,
                        format="cyclonedx-json",
                        filename="bom.json",
                        sha256=f"{api.pk:064x}",
                        component_count=count,
                        added=purls[:20],
                        uploaded_at=api.updated_at,
                    )
                )
            api.component_count = count
        Component.objects.bulk_create(components, batch_size=5000)
        SbomImport.objects.bulk_create(imports, batch_size=2000)
        del components

        # Environments, servers, baselines.
        envs: list[Environment] = []
        for api, plan in zip(apis, plans, strict=True):
            envs.append(
                Environment(
                    api=api,
                    name="production",
                    is_production=True,
                    base_urls=[f"https://{api.slug}.api.example.com/v1"] if plan["environments"] else [],
                )
            )
            if plan["staging"]:
                envs.append(
                    Environment(
                        api=api, name="staging", base_urls=[f"https://{api.slug}.staging.example.com/v1"]
                    )
                )
        Environment.objects.bulk_create(envs, batch_size=5000)
        through = Environment.servers.through
        links = []
        baselines = []
        plan_by_api = {api.pk: plan for api, plan in zip(apis, plans, strict=True)}
        for env in envs:
            plan = plan_by_api[env.api_id]
            if env.is_production and plan["servers"]:
                for server in rng.sample(servers, 2):
                    links.append(through(environment_id=env.pk, server_id=server.pk))
            if env.is_production and plan["metrics"]:
                p50 = rng.randint(10, 80)
                baselines.append(
                    PerformanceBaseline(
                        environment=env,
                        p50_ms=p50,
                        p95_ms=p50 * 3,
                        p99_ms=p50 * 6,
                        requests_per_second=Decimal(rng.randint(1, 2000)),
                        error_rate_percent=Decimal("0.100"),
                    )
                )
        through.objects.bulk_create(links, batch_size=5000)
        PerformanceBaseline.objects.bulk_create(baselines, batch_size=5000)

        # Specs with operations and response codes, for ~30 % of the APIs.
        specs: list[Spec] = []
        spec_ops: list[list[tuple[str, str]]] = []
        for api, plan in zip(apis, plans, strict=True):
            if not plan["spec"]:
                continue
            ops = sorted(
                {
                    (
                        rng.choice(METHODS),
                        f"/{rng.choice(RESOURCES)}" + ("/{id}" if rng.random() < 0.5 else ""),
                    )
                    for _ in range(rng.randint(4, 30))
                }
            )
            content = _spec_yaml(api.name, ops)
            specs.append(
                Spec(
                    api=api,
                    number=1,
                    sha256=f"{api.pk:064x}",
                    format="yaml",
                    content=content,
                    openapi_version="3.0.3",
                    title=api.name,
                    info_version="1.0.0",
                    filename="openapi.yaml",
                    operation_count=len(ops),
                    uploaded_at=api.updated_at,
                )
            )
            spec_ops.append(ops)
        Spec.objects.bulk_create(specs, batch_size=2000)
        operations = [
            Operation(
                spec=spec,
                method=method,
                path=path,
                operation_id=f"{method.lower()}{path.replace('/', '_')}",
                summary=f"{method} {path}",
                auth_required=rng.random() < 0.95,
            )
            for spec, ops in zip(specs, spec_ops, strict=True)
            for method, path in ops
        ]
        Operation.objects.bulk_create(operations, batch_size=5000)
        codes = [ResponseCode(operation=op, code=code) for op in operations for code in ("200", "401")]
        ResponseCode.objects.bulk_create(codes, batch_size=5000)

        # The denormalized summary the list pages sort and filter on.
        for api, plan in zip(apis, plans, strict=True):
            present = {
                "description": plan["description"],
                "contact": plan["contact"],
                "environments": plan["environments"],
                "auth": plan["auth"],
                "protocols": plan["protocols"],
                "components": api.component_count > 0,
                "spec": plan["spec"],
                "servers": plan["servers"],
                "metrics": plan["metrics"],
                "availability": plan["availability"],
            }
            api.missing = [piece.label for piece in COMPLETENESS_PIECES if not present[piece.key]]
            api.completeness = round(
                100 * (len(COMPLETENESS_PIECES) - len(api.missing)) / len(COMPLETENESS_PIECES)
            )
            api.has_spec = plan["spec"]
        Api.objects.bulk_update(
            apis, ["missing", "completeness", "has_spec", "component_count"], batch_size=2000
        )

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"seed: {len(teams)} teams, {n_apis:,} APIs, {len(envs):,} environments, {n_components:,} components,"
        f" {len(specs):,} specs, {len(operations):,} operations in {time.perf_counter() - t0:.1f} s"
    )
    return True


# --- Users, sessions, tokens ----------------------------------------------------------------------------


@dataclass
class Persona:
    key: str
    user: Any
    device: Any = None
    session_key: str = ""
    token: str = ""
    visible: int = 0


def personas() -> list[Persona]:
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from inventory.models import Api
    from portal.models import ApiToken, Membership, OrgUnit, Role

    User = get_user_model()
    root = OrgUnit.objects.get(slug="bench-root")
    team = OrgUnit.objects.filter(kind=OrgUnit.Kind.TEAM, path__startswith=root.path).order_by("path").first()
    out = []
    for key, role, unit in (("ciso", Role.CISO, root), ("developer", Role.DEVELOPER, team)):
        user, _ = User.objects.get_or_create(
            username=f"bench-{key}", defaults={"email": f"{key}@example.com"}
        )
        if user.has_usable_password():
            user.set_unusable_password()
            user.save(update_fields=["password"])
        Membership.objects.get_or_create(user=user, org_unit=unit, role=role)
        device = None
        if role == Role.CISO:
            device = TOTPDevice.objects.filter(
                user=user, confirmed=True
            ).first() or TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
        ApiToken.objects.filter(user=user, name=BENCH_TOKEN_NAME).delete()
        visible = Api.objects.filter(org_unit__path__startswith=unit.path).count()
        out.append(Persona(key, user, device, visible=visible))
    return out


def issue_credentials(persona: Persona) -> None:
    """A logged-in, second-factor-verified session (as the login views would leave it) and a token."""
    from importlib import import_module

    from django.conf import settings

    from portal.audit import Actor
    from portal.services.tokens import api_token_create

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    now = int(time.time())
    store["_auth_user_id"] = str(persona.user.pk)
    store["_auth_user_backend"] = MODEL_BACKEND
    store["_auth_user_hash"] = persona.user.get_session_auth_hash()
    if persona.device is not None:
        store["otp_device_id"] = persona.device.persistent_id
    store["_started_at"] = now
    store["_seen_at"] = now
    store.create()
    persona.session_key = store.session_key
    issued = api_token_create(
        actor=Actor.system("bench"), user=persona.user, name=BENCH_TOKEN_NAME, days=1, second_factor=True
    )
    persona.token = issued.secret


def detail_slug() -> tuple[str, int]:
    """The API with a spec and the most components on the developer's team (both personas see it)."""
    from inventory.models import Api
    from portal.models import Membership, Role

    team = Membership.objects.get(user__username="bench-developer", role=Role.DEVELOPER).org_unit
    api = Api.objects.filter(org_unit=team).order_by("-has_spec", "-component_count", "id").first()
    return api.slug, api.component_count


# --- Endpoints and query counts -------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    key: str
    path: str
    rest: bool


def endpoints(slug: str) -> list[Endpoint]:
    return [
        Endpoint("list", "/inventory/", False),
        Endpoint("list ?q=pay&sort=-completeness", "/inventory/?q=pay&sort=-completeness", False),
        Endpoint("detail (overview)", f"/inventory/apis/{slug}/", False),
        Endpoint("detail ?tab=packages", f"/inventory/apis/{slug}/?tab=packages", False),
        Endpoint("REST list", "/api/v1/inventory/apis/", True),
        Endpoint("REST detail", f"/api/v1/inventory/apis/{slug}/", True),
    ]


def count_queries(
    people: list[Persona], eps: list[Endpoint], timed: int = 0
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    """({persona: {endpoint: queries}}, {persona: {endpoint: ms}}) in-process.

    Queries: one request after a warm-up one. Milliseconds: median of ``timed`` sequential requests,
    no concurrency and no HTTP: what one request costs the application (and the database).
    """
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counts: dict[str, dict[str, int]] = {}
    times: dict[str, dict[str, float]] = {}
    for persona in people:
        html = Client()
        html.cookies["sessionid"] = persona.session_key
        rest = Client(headers={"Authorization": f"Bearer {persona.token}"})
        counts[persona.key], times[persona.key] = {}, {}
        for ep in eps:
            client = rest if ep.rest else html
            client.get(ep.path)  # warm-up: token last-used stamp, session touch, caches
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(ep.path)
            if response.status_code != 200:
                raise SystemExit(f"{persona.key} {ep.path}: HTTP {response.status_code} in-process")
            counts[persona.key][ep.key] = len(ctx.captured_queries)
            samples = []
            for _ in range(timed):
                t0 = time.perf_counter()
                client.get(ep.path)
                samples.append((time.perf_counter() - t0) * 1000)
            times[persona.key][ep.key] = statistics.median(samples) if samples else float("nan")
    return counts, times


def explain_lists(people: list[Persona]) -> None:
    """EXPLAIN ANALYZE of the SQL the list pages run: a page of rows (HTML and REST) and the REST count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from inventory import selectors

    for persona in people:
        for filters in ({}, {"q": "pay", "sort": "-completeness"}):
            qs = selectors.api_list(persona.user, filters)
            with CaptureQueriesContext(connection) as ctx:
                list(qs[:51])
                qs.count()
            for label, query in zip(("page", "count"), ctx.captured_queries, strict=True):
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN ANALYZE " + query["sql"])
                    plan = [row[0] for row in cursor.fetchall()]
                print(f"\n-- {persona.key} {filters or 'default'} {label}")
                print("\n".join(plan))


# --- HTTP load ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    def __init__(self, database_url: str, workers: int) -> None:
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="inventory-bench-gunicorn-", suffix=".log", delete=False
        )
        env = dict(os.environ)
        env.update(
            DATABASE_URL=database_url,
            PORTAL_ENV="development",
            DEBUG="false",
            LOG_LEVEL="WARNING",
            THROTTLE_USER="1000000/min",
        )
        self.proc = subprocess.Popen(  # noqa: S603
            [
                str(ROOT / ".venv/bin/gunicorn"),
                "portal.wsgi",
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "60",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited early:\n{Path(self.log.name).read_text()[-3000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not answer within 60 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@dataclass
class Result:
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    load: float = 0.0

    def pct(self, p: int) -> float:
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[p - 1]


def hammer(port: int, path: str, headers: dict[str, str], n: int, concurrency: int) -> Result:
    result = Result()
    counter = itertools.count()
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        local: list[float] = []
        errors: dict[int, int] = {}
        while next(counter) < n:
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            local.append((time.perf_counter() - t0) * 1000)
            if response.status != 200:
                errors[response.status] = errors.get(response.status, 0) + 1
            if response.will_close:  # gunicorn's sync workers close after each response
                conn.close()
        conn.close()
        with lock:
            result.latencies_ms.extend(local)
            for status, count in errors.items():
                result.errors[status] = result.errors.get(status, 0) + count

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - t0
    result.load = os.getloadavg()[0]
    return result


def check_response(port: int, ep: Endpoint, headers: dict[str, str], persona: Persona) -> str:
    """One request before measuring: the right page, not a redirect to the login or a 403."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", ep.path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise SystemExit(f"{persona.key} GET {ep.path}: HTTP {response.status} {body[:300]!r}")
    if ep.rest and ep.key == "REST list":  # a keyset page: no total, a full first page
        shown = len(json.loads(body)["results"])
        if shown != min(persona.visible, 50):
            raise SystemExit(f"{persona.key} REST list shows {shown} rows of {persona.visible}")
    return f"{len(body) / 1024:.0f} KiB"


def cpu_snapshot() -> tuple[int, dict[int, tuple[int, int, str]]]:
    """(busy clock ticks of the whole machine, {pid: (its CPU ticks, parent pid, command line)})."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields)
    busy = user + nice + system + irq + softirq + steal
    procs = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2 :].split()
        procs[int(entry.name)] = (int(rest[11]) + int(rest[12]), int(rest[1]), cmdline)
    return busy, procs


def other_cpu(before: tuple, after: tuple, ours: set[int], database: str) -> float:
    """CPU seconds the rest of the machine used between the snapshots: everything busy, minus this
    script, gunicorn and its workers, and the PostgreSQL backends serving the bench database.
    Counting from the machine total catches short-lived processes (test runs, browsers) too."""
    mine = 0
    for pid, (used, ppid, cmdline) in after[1].items():
        if pid in ours or ppid in ours or (cmdline.startswith("postgres:") and f" {database} " in cmdline):
            mine += used - before[1].get(pid, (0, 0, ""))[0]
    return max(0, after[0] - before[0] - mine) / os.sysconf("SC_CLK_TCK")


# --- Main -----------------------------------------------------------------------------------------------


def small_counts(args: argparse.Namespace) -> dict[str, dict[str, int]] | None:
    """Query counts in a small database, from a child run of this script."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [
            sys.executable,
            __file__,
            "--database",
            f"{args.database}_small",
            "--apis",
            str(SMALL_APIS),
            "--components",
            str(SMALL_COMPONENTS),
            "--queries-only",
            out.name,
        ]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            print(f"small-database run failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
            return None
        return json.loads(Path(out.name).read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apis", type=int, default=10_000)
    parser.add_argument("--components", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300, help="measured requests per endpoint and user")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--database", default="portal_bench")
    parser.add_argument("--no-compare", action="store_true", help="skip the small-database query counts")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the list queries")
    parser.add_argument("--queries-only", metavar="JSON", help=argparse.SUPPRESS)
    args = parser.parse_args()

    load_at_start = os.getloadavg()
    cores = os.cpu_count() or 1
    database_url = f"{PG_SERVER}/{args.database}"
    ensure_database(args.database)
    setup_django(database_url)
    seed(args.apis, args.components)
    people = personas()
    for persona in people:
        issue_credentials(persona)
    slug, slug_components = detail_slug()
    eps = endpoints(slug)

    counts, server_ms = count_queries(people, eps, timed=0 if args.queries_only else 15)
    if args.queries_only:
        Path(args.queries_only).write_text(json.dumps(counts))
        return 0
    small = None if args.no_compare else small_counts(args)
    if args.explain:
        explain_lists(people)

    print(f"\nload average before the run: {' '.join(f'{x:.2f}' for x in load_at_start)} ({cores} cores)")
    if load_at_start[0] > 0.5 * cores:
        print("WARNING: the machine was already busy before the benchmark started; figures are pessimistic.")

    server = Gunicorn(database_url, args.workers)
    rows = []
    try:
        server.wait_ready()
        ours = {os.getpid(), server.proc.pid}
        cpu_before, t_before = cpu_snapshot(), time.monotonic()
        for persona in people:
            for ep in eps:
                if ep.rest:
                    headers = {"Authorization": f"Bearer {persona.token}", "Accept": "application/json"}
                else:
                    headers = {"Cookie": f"sessionid={persona.session_key}"}
                size = check_response(server.port, ep, headers, persona)
                hammer(server.port, ep.path, headers, args.warmup, args.concurrency)
                result = hammer(server.port, ep.path, headers, args.requests, args.concurrency)
                rows.append((persona, ep, size, result))
                print(
                    f"{persona.key:9} {ep.key:32} p50 {result.pct(50):6.1f}  p95 {result.pct(95):6.1f}"
                    f"  p99 {result.pct(99):6.1f} ms  {len(result.latencies_ms) / result.seconds:6.1f} req/s"
                    f"  load {result.load:.2f}" + (f"  ERRORS {result.errors}" if result.errors else "")
                )
        others = other_cpu(cpu_before, cpu_snapshot(), ours, args.database) / (time.monotonic() - t_before)
    finally:
        server.stop()
        os.unlink(server.log.name)

    loads = [r[3].load for r in rows]
    busy = others > 0.25 * cores or load_at_start[0] > 0.5 * cores
    print(
        f"\n{args.apis:,} APIs, {args.components:,} components; detail page: `{slug}`"
        f" ({slug_components} components); {args.requests} requests per row at concurrency"
        f" {args.concurrency} after {args.warmup} warm-up, gunicorn -w {args.workers}, PostgreSQL.\n"
        f"Load average (1 min): {load_at_start[0]:.2f} before, {min(loads):.2f}–{max(loads):.2f} during"
        f" ({cores} cores). Other processes used {others:.2f} cores on average while measuring"
        + (" — the machine was BUSY: latencies are pessimistic." if busy else ".")
        + "\n"
    )
    small_header = f" queries at {SMALL_APIS} APIs |" if small else ""
    print(
        f"| user | endpoint | visible APIs | response | queries |{small_header} in-process ms"
        " | p50 ms | p95 ms | p99 ms | req/s |"
    )
    print("|---|---|---:|---:|---:|" + ("---:|" if small else "") + "---:|---:|---:|---:|---:|")
    failed = False
    for persona, ep, size, result in rows:
        p95 = result.pct(95)
        over = p95 > TARGET_P95_MS or bool(result.errors)
        failed |= over
        mark = "**" if over else ""
        small_cell = f" {small[persona.key][ep.key]} |" if small else ""
        print(
            f"| {persona.key} | `{ep.path.replace(slug, '<slug>')}` | {persona.visible:,} | {size} |"
            f" {counts[persona.key][ep.key]} |{small_cell} {server_ms[persona.key][ep.key]:.1f} |"
            f" {result.pct(50):.1f} | {mark}{p95:.1f}{mark} | {result.pct(99):.1f} |"
            f" {len(result.latencies_ms) / result.seconds:.0f} |"
        )
    constant = small is None or small == counts
    print()
    if small is not None:
        print(f"Query counts {'identical' if constant else 'DIFFER'} at {args.apis:,} and {SMALL_APIS} APIs.")
    print(f"Target p95 ≤ {TARGET_P95_MS:.0f} ms: {'missed (bold rows)' if failed else 'met on every row'}.")
    return 1 if failed or not constant else 0


if __name__ == "__main__":
    sys.exit(main())
