"""``manage.py seed_demo_testing``: the demo's testing side, called by ``seed_demo`` after the demo APIs.

- **Demo Shop API** (``demo-shop``, Payments API team, so the ``developer`` login owns it): the demo
  target's OpenAPI document, environment ``staging`` at ``http://127.0.0.1:<DEMO_TARGET_PORT>``
  (the deliberately flawed API ``run_portal`` starts next to the portal), its performance baseline,
  two consumers, submitted and approved by the seed (a system actor, as ``seed_demo_inventory``).
- Its test plan: every registered check, intrusive ones allowed (staging, and a toy), every 15
  minutes at 50 requests per second (loopback), first run at the next sweep; identities ``alice``
  and ``bob`` (login steps against POST /auth/login, with the orders each owns, for BOLA); a
  functional case document with three cases, one of which fails on purpose.
- The fictional demo APIs of ``seed_demo_inventory`` (hosts under ``.demo.example``, which do not
  resolve) get their plans **disabled**: otherwise the sweep would give them default plans whose
  runs could only fail to connect.

Safe to run again: what exists is left alone (a plan, identities and cases someone changed stay as
they are). One exception: when ``DEMO_TARGET_PORT`` changed, the staging base URL follows it (a
changed environment goes back to review; the seed approves it again). Refused in production.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from inventory.management.commands.seed_demo_inventory import DEMO_APIS
from inventory.models import Api, ApiStatus, Environment
from inventory.services import consumers, environments, registration, review, specs
from portal.audit import Actor
from portal.models import OrgUnit
from testing.engines.checks import all_checks
from testing.engines.demo_target import DEMO_USERS, PERFORMANCE_BASELINE_P95_MS, openapi_bytes
from testing.models import FunctionalCase, PlanIdentity, ScheduleKind, TestPlan
from testing.services.cases import cases_save
from testing.services.identities import identity_set
from testing.services.plans import DEFAULT_INTERVAL_MINUTES, default_checks, plan_save

SLUG = "demo-shop"
NAME = "Demo Shop API"
TEAM = "payments-api"
ENVIRONMENT = "staging"
INTERVAL_MINUTES = 15
REQUESTS_PER_SECOND = 50
CONSUMERS = ("Shop web front end", "Shop mobile app")
CASES_NAME = "Shop smoke tests"
# Three cases: a login and the user's own orders, a public product, and one that fails on purpose
# (the owners documented 200 for GET /promotions; the demo answers 204), so a functional finding shows.
CASES = """\
cases:
  - name: alice logs in and lists her orders
    steps:
      - name: login
        request:
          method: POST
          path: /auth/login
          json: {username: alice, password: "{{ secrets.alice.password }}"}
        capture:
          token: $.access_token
        expect:
          status: 200
          jsonpath: {"$.token_type": Bearer}
      - name: my orders
        request:
          method: GET
          path: /orders
          headers: {Authorization: "Bearer {{ token }}"}
        expect:
          status: 200
          schema: {type: object, required: [items]}
  - name: read a product
    steps:
      - request: {method: GET, path: /products/1}
        expect:
          status: 200
          jsonpath: {"$.name": Coffee mug}
          max_latency_ms: 2000
  - name: "promotions are listed (fails on purpose: the demo answers 204)"
    steps:
      - request: {method: GET, path: /promotions}
        expect:
          status: 200
"""


def demo_base_url() -> str:
    """Where ``run_portal`` serves the demo target."""
    return f"http://127.0.0.1:{settings.DEMO_TARGET_PORT}"


class Command(BaseCommand):
    help = (
        "Register the Demo Shop API (the demo target run_portal starts) with a test plan, identities and "
        "cases; disable the plans of the fictional demo APIs (idempotent; refused in production)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo_testing is refused when PORTAL_ENV=production.")
        actor = Actor.system("seed_demo")
        unit = OrgUnit.objects.filter(slug=TEAM).first()
        if unit is None:
            raise CommandError("Run seed_demo first: the demo teams are missing.")
        base_url = demo_base_url()
        with transaction.atomic():
            api = Api.objects.filter(slug=SLUG).first()
            created = api is None
            if api is None:
                api = self._register(actor, unit, base_url)
            else:
                self._follow_port(actor, api, base_url)
            environment = Environment.objects.get(api=api, name=ENVIRONMENT)
            plan, plan_created = self._plan(actor, api, environment)
            self._identities(actor, plan)
            if not FunctionalCase.objects.filter(api=api, name=CASES_NAME).exists():
                cases_save(actor=actor, api=api, name=CASES_NAME, source=CASES)
            disabled = self._disable_fictional(actor)
        state = "registered" if created else "already there"
        first = "first run at the next sweep (within a minute)" if plan_created else "plan left as it was"
        self.stdout.write(
            self.style.SUCCESS(
                f"{NAME} ({state}): staging at {base_url}, the demo target; every check every "
                f"{INTERVAL_MINUTES} minutes as alice and bob; {first}."
            )
        )
        self.stdout.write(
            f"Plans of the fictional demo APIs ({', '.join(a['slug'] for a in DEMO_APIS)}) are disabled: "
            f"their *.demo.example hosts do not resolve ({disabled} disabled plans created)."
        )

    def _register(self, actor: Actor, unit: OrgUnit, base_url: str) -> Api:
        api = registration.api_create(
            actor=actor,
            org_unit=unit,
            slug=SLUG,
            name=NAME,
            description=(
                "The demo shop: a deliberately flawed API served on loopback next to the portal "
                "(manage.py demo_target), so the demo's test runs find real problems."
            ),
            technical_contact_name="Dana Developer",
            technical_contact_email="developer@example.com",
            lifecycle="experimental",
            version="1.0.0",
            exposure="public",  # its OpenAPI document is public by design
            data_classification="confidential",
            handles_personal_data=True,
            auth_schemes=["bearer"],
            protocols=["http"],
            availability_target="99.500",
        )
        environment = environments.environment_save(
            actor=actor, api=api, name=ENVIRONMENT, base_urls=[base_url], is_production=False
        )
        specs.spec_upload(actor=actor, api=api, data=openapi_bytes(base_url), filename="openapi.json")
        p95 = int(PERFORMANCE_BASELINE_P95_MS)
        environments.baseline_save(
            actor=actor,
            environment=environment,
            p50_ms=p95 // 10,
            p95_ms=p95,
            p99_ms=2 * p95,
            requests_per_second="20",
            error_rate_percent="0.5",
        )
        for name in CONSUMERS:
            service = consumers.consumer_service_save(actor=actor, owner=unit, name=name)
            consumers.dependency_add(actor=actor, api=api, consumer_service=service)
        review.api_submit(actor=actor, api=api)
        return review.api_approve(actor=actor, api=api, comment="Demo approval: the demo target.")

    def _follow_port(self, actor: Actor, api: Api, base_url: str) -> None:
        """A portal restarted with another DEMO_TARGET_PORT: staging moves with the demo target."""
        environment = Environment.objects.filter(api=api, name=ENVIRONMENT).first()
        if environment is not None and environment.base_urls == [base_url]:
            return
        try:
            environments.environment_save(
                actor=actor, api=api, name=ENVIRONMENT, base_urls=[base_url], is_production=False
            )
        except ValidationError as exc:  # deprecated or suspended in the demo: its profile is frozen
            self.stderr.write(f"{NAME}: staging not moved to {base_url}: {'; '.join(exc.messages)}")
            return
        api.refresh_from_db()
        if api.status in (ApiStatus.SUBMITTED, ApiStatus.REREVIEW):
            review.api_approve(actor=actor, api=api, comment="Demo approval: the demo target moved.")

    def _plan(self, actor: Actor, api: Api, environment: Environment) -> tuple[TestPlan, bool]:
        existing = TestPlan.objects.filter(environment=environment).first()
        if existing is not None:
            return existing, False
        plan = plan_save(
            actor=actor,
            api=api,
            environment=environment,
            checks=list(all_checks()),
            schedule_kind=ScheduleKind.INTERVAL,
            interval_minutes=INTERVAL_MINUTES,
            cron="",
            timezone="UTC",
            intrusive_allowed=True,
            production_opt_in=False,
            latency_tolerance=Decimal("0.5"),
            enabled=True,
            requests_per_second=REQUESTS_PER_SECOND,
        )
        # Due at once, like a default plan (plan_save schedules a new plan one interval ahead).
        now = timezone.now()
        TestPlan.objects.filter(pk=plan.pk).update(next_run_at=now)
        plan.next_run_at = now
        return plan, True

    def _identities(self, actor: Actor, plan: TestPlan) -> None:
        have = set(PlanIdentity.objects.filter(plan=plan).values_list("name", flat=True))
        for user in DEMO_USERS.values():
            if user.username in have:
                continue
            identity_set(
                actor=actor,
                plan=plan,
                name=user.username,
                kind="login",
                secret={
                    "path": "/auth/login",
                    "json": {"username": user.username, "password": "{{ secrets.password }}"},
                    "token_path": "$.access_token",
                    "secrets": {"password": user.password},
                },
                object_ids=[str(i) for i in user.order_ids],
            )

    def _disable_fictional(self, actor: Actor) -> int:
        """A disabled plan for every environment of the fictional demo APIs that has none yet."""
        missing = Environment.objects.filter(
            api__slug__in=[a["slug"] for a in DEMO_APIS], test_plan__isnull=True
        ).select_related("api")
        count = 0
        for environment in missing.order_by("pk"):
            plan_save(
                actor=actor,
                api=environment.api,
                environment=environment,
                checks=default_checks(),
                schedule_kind=ScheduleKind.INTERVAL,
                interval_minutes=DEFAULT_INTERVAL_MINUTES,
                cron="",
                timezone="UTC",
                intrusive_allowed=False,
                production_opt_in=False,
                latency_tolerance=Decimal("0.5"),
                enabled=False,
            )
            count += 1
        return count
