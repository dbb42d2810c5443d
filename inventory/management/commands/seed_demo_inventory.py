"""Demo APIs for the demo org chart (seed_demo): every status, specs, packages, windows, consumers and
a few shadow endpoints found in a gateway log. Safe to run again: an API that exists is left alone."""

from __future__ import annotations

from datetime import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from inventory.models import Api, DiscoveredEndpoint
from inventory.services import (
    components,
    consumers,
    discovered,
    environments,
    registration,
    review,
    specs,
    windows,
)
from portal.audit import Actor
from portal.models import OrgUnit


def _spec(title: str, base: str, ops: list[tuple[str, str, str, bool]]) -> bytes:
    """A small valid OpenAPI 3.0 document: (method, path, summary, deprecated) per operation."""
    lines = [
        "openapi: 3.0.3",
        f"info: {{title: {title}, version: '1.0.0'}}",
        f"servers: [{{url: '{base}'}}]",
        "security: [{bearer: []}]",
        "paths:",
    ]
    by_path: dict[str, list[tuple[str, str, bool]]] = {}
    for method, path, summary, deprecated in ops:
        by_path.setdefault(path, []).append((method, summary, deprecated))
    for path, methods in by_path.items():
        lines.append(f"  {path}:")
        if "{id}" in path:
            lines.append("    parameters: [{name: id, in: path, required: true, schema: {type: string}}]")
        for method, summary, deprecated in methods:
            lines.append(f"    {method}:")
            lines.append(f"      summary: {summary}")
            if deprecated:
                lines.append("      deprecated: true")
            lines.append("      responses:")
            lines.append("        '200': {description: OK}")
            lines.append("        '401': {description: Authentication required}")
            if "{id}" in path:
                lines.append("        '404': {description: Not found}")
    lines += ["components:", "  securitySchemes:", "    bearer: {type: http, scheme: bearer}", ""]
    return "\n".join(lines).encode()


# slug, name, team, status to reach, base URL, requirements, operations
DEMO_APIS: list[dict[str, Any]] = [
    {
        "slug": "payments-api",
        "name": "Payments API",
        "team": "payments-api",
        "status": "approved",
        "base": "https://payments.demo.example/v1",
        "exposure": "public",
        "classification": "restricted",
        "personal_data": True,
        "requirements": b"django==5.2.1\ndjangorestframework==3.16.0\nstripe==10.1.0\n",
        "ops": [
            ("get", "/payments/{id}", "Read a payment", False),
            ("post", "/payments", "Create a payment", False),
            ("post", "/payments/{id}/refund", "Refund a payment", False),
            ("get", "/charges", "Old charge list", True),
        ],
    },
    {
        "slug": "cards-api",
        "name": "Cards API",
        "team": "cards",
        "status": "submitted",
        "base": "https://cards.demo.example",
        "exposure": "partner",
        "classification": "confidential",
        "personal_data": True,
        "requirements": b"flask==3.0.3\nrequests==2.32.3\n",
        "ops": [
            ("get", "/cards/{id}", "Read a card", False),
            ("post", "/cards/{id}/block", "Block a card", False),
        ],
    },
    {
        "slug": "accounts-api",
        "name": "Accounts API",
        "team": "accounts-core",
        "status": "changes_requested",
        "base": "https://accounts.demo.example/api",
        "exposure": "internal",
        "classification": "confidential",
        "personal_data": True,
        "requirements": None,
        "ops": [],
    },
    {
        "slug": "identity-api",
        "name": "Identity API",
        "team": "identity",
        "status": "approved",
        "base": "https://login.demo.example",
        "exposure": "public",
        "classification": "restricted",
        "personal_data": True,
        "requirements": b"fastapi==0.115.0\npyjwt==2.9.0\n",
        "ops": [("post", "/token", "Issue a token", False), ("get", "/userinfo", "Who am I", False)],
    },
    {
        "slug": "hr-legacy",
        "name": "HR legacy export",
        "team": "hr-apps",
        "status": "deprecated",
        "base": "http://hr-export.demo.example",
        "exposure": "internal",
        "classification": "confidential",
        "personal_data": True,
        "requirements": None,
        "ops": [("get", "/export/{id}", "Export an employee record", True)],
    },
]

GATEWAY_LOG = "\n".join(
    f'10.20.0.{i % 50} - - [28/Nov/2026:09:{i % 60:02d}:00 +0000] "{req}" {status} 321 "-" "demo" "{host}"'
    for i, (host, req, status) in enumerate(
        [("payments.demo.example", "GET /v1/payments/1001 HTTP/1.1", 200)] * 40
        + [("payments.demo.example", "GET /v1/charges HTTP/1.1", 200)] * 5
        + [("payments.demo.example", "DELETE /v1/payments/1001 HTTP/1.1", 405)] * 3
        + [
            (
                "reports.demo.example",
                "GET /internal/export/3f2504e0-4f89-11d3-9a0c-0305e82c3301 HTTP/1.1",
                200,
            )
        ]
        * 7
        + [("hr-export.demo.example", "GET /export/77 HTTP/1.1", 200)] * 4
    )
).encode()


class Command(BaseCommand):
    help = "Create demo APIs for the demo org chart (idempotent; refused in production)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo_inventory is refused when PORTAL_ENV=production.")
        actor = Actor.system("seed_demo")
        units = {u.slug: u for u in OrgUnit.objects.filter(slug__in=[a["team"] for a in DEMO_APIS])}
        if len(units) < len(DEMO_APIS):
            raise CommandError("Run seed_demo first: the demo teams are missing.")
        created = 0
        with transaction.atomic():
            for spec in DEMO_APIS:
                if Api.objects.filter(slug=spec["slug"]).exists():
                    continue
                self._create(actor, spec, units[spec["team"]])
                created += 1
            payments, identity = Api.objects.get(slug="payments-api"), Api.objects.get(slug="identity-api")
            consumers.dependency_add(actor=actor, api=identity, consumer_api=payments, note="token checks")
            app = consumers.consumer_service_save(
                actor=actor, owner=units["payments-api"], name="Web shop checkout"
            )
            consumers.dependency_add(actor=actor, api=payments, consumer_service=app)
        if created and not DiscoveredEndpoint.objects.exists():
            discovered.discovery_ingest(actor=actor, chunks=[GATEWAY_LOG], filename="demo-gateway.log")
        self.stdout.write(self.style.SUCCESS(f"Demo APIs ready ({created} created)."))

    def _create(self, actor: Actor, spec: dict[str, Any], unit: OrgUnit) -> None:
        api = registration.api_create(
            actor=actor,
            org_unit=unit,
            slug=spec["slug"],
            name=spec["name"],
            description=f"{spec['name']} of the demo company.",
            technical_contact_name="Dana Developer",
            technical_contact_email="developer@example.com",
            lifecycle="production",
            version="1.0.0",
            exposure=spec["exposure"],
            data_classification=spec["classification"],
            handles_personal_data=spec["personal_data"],
            auth_schemes=["bearer"],
            protocols=["rest_https"],
            availability_target="99.900",
        )
        env = environments.environment_save(
            actor=actor, api=api, name="production", base_urls=[spec["base"]], is_production=True
        )
        if spec["ops"]:
            specs.spec_upload(
                actor=actor,
                api=api,
                data=_spec(spec["name"], spec["base"], spec["ops"]),
                filename="openapi.yaml",
            )
        if spec["requirements"]:
            components.components_replace(
                actor=actor, api=api, data=spec["requirements"], filename="requirements.txt"
            )
        components.component_declare(
            actor=actor, api=api, ecosystem="generic", name="python", version="3.11", kind="runtime"
        )
        environments.baseline_save(
            actor=actor,
            environment=env,
            p50_ms=25,
            p95_ms=90,
            p99_ms=250,
            requests_per_second="40",
            error_rate_percent="0.2",
        )
        server = environments.server_save(
            actor=actor,
            org_unit=unit,
            hostname=f"{spec['slug']}-1.dc1.demo.example",
            environment="production",
            addresses=["10.0.1.10"],
            location="dc1",
            operating_system="Debian 12",
        )
        environments.environment_set_servers(actor=actor, environment=env, servers=[server])
        windows.window_add(
            actor=actor,
            api=api,
            kind="recurring",
            tz="Europe/Berlin",
            weekdays=[6],
            start_time=time(2),
            end_time=time(4),
            description="Sunday patching",
        )
        target = spec["status"]
        if target in ("submitted", "approved", "changes_requested", "deprecated"):
            review.api_submit(actor=actor, api=api)
        if target == "changes_requested":
            review.api_request_changes(
                actor=actor, api=api, comment="Upload the OpenAPI document and an SBOM."
            )
        if target in ("approved", "deprecated"):
            review.api_approve(actor=actor, api=api, comment="Demo approval.")
        if target == "deprecated":
            review.api_deprecate(actor=actor, api=api)
