"""Rows of testing's models for tests of reads (views, selectors, lists).

Plans, runs, results and findings are written here with plain INSERTs, as a finished run would have
left them; tests of the services that write them go through the services instead.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from testing.models import (
    CheckOutcome,
    CheckResult,
    Finding,
    FindingStatus,
    RunStatus,
    RunTrigger,
    Severity,
    TestPlan,
    TestRun,
)
from testing.services.findings import fingerprint
from tests.factories import EnvironmentFactory


class TestPlanFactory(factory.django.DjangoModelFactory):
    __test__ = False  # not a pytest test class

    class Meta:
        model = TestPlan
        skip_postgeneration_save = True

    environment = factory.SubFactory(EnvironmentFactory)
    api = factory.LazyAttribute(lambda o: o.environment.api)
    checks = factory.LazyFunction(lambda: ["tls", "auth_enforced", "error_hygiene"])
    next_run_at = factory.LazyFunction(timezone.now)


class TestRunFactory(factory.django.DjangoModelFactory):
    __test__ = False  # not a pytest test class

    class Meta:
        model = TestRun
        skip_postgeneration_save = True

    plan = factory.SubFactory(TestPlanFactory)
    api = factory.LazyAttribute(lambda o: o.plan.api)
    slot = factory.Sequence(lambda n: f"manual:{n:032x}")
    trigger = RunTrigger.SCHEDULE
    status = RunStatus.PASSED
    base_url = factory.LazyAttribute(lambda o: (o.plan.environment.base_urls or ["https://x.example"])[0])
    checks = factory.LazyAttribute(lambda o: list(o.plan.checks))
    created_at = factory.LazyFunction(timezone.now)
    started_at = factory.LazyAttribute(lambda o: o.created_at)
    finished_at = factory.LazyAttribute(lambda o: o.created_at + timedelta(seconds=3))


class CheckResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CheckResult
        skip_postgeneration_save = True

    run = factory.SubFactory(TestRunFactory)
    check_key = "tls"
    outcome = CheckOutcome.PASSED
    severity = Severity.MEDIUM
    summary = "passed"


class FindingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Finding
        skip_postgeneration_save = True

    plan = factory.SubFactory(TestPlanFactory)
    api = factory.LazyAttribute(lambda o: o.plan.api)
    environment = factory.LazyAttribute(lambda o: o.plan.environment)
    check_key = "auth_enforced"
    operation = factory.Sequence(lambda n: f"GET /items/{n}")
    detail = "no_401_without_credentials"
    fingerprint = factory.LazyAttribute(
        lambda o: fingerprint(o.api.pk, o.environment.pk, o.check_key, o.operation, o.detail)
    )
    title = factory.LazyAttribute(lambda o: f"{o.check_key}: {o.detail}")
    severity = Severity.HIGH
    owasp = "API2:2023"
    status = FindingStatus.OPEN
    first_seen = factory.LazyFunction(timezone.now)
    last_seen = factory.LazyAttribute(lambda o: o.first_seen)


def reapprove(api: Any) -> None:
    """Approve a material change to an approved API (it went to re-review): the scanner tests only
    base URLs the security team reviewed."""
    from inventory.services import review
    from tests.factories import SYSTEM

    api.refresh_from_db()
    if api.status == "rereview":
        review.api_approve(actor=SYSTEM, api=api)
        api.refresh_from_db()


def reviewed_environment(api: Any, **fields: Any) -> Any:
    """An environment added to an approved API, with the change reviewed."""
    environment = EnvironmentFactory(api=api, **fields)
    reapprove(api)
    return environment


def saved_plan(*, actor: Any, environment: Any, checks: list[str], **overrides: Any) -> TestPlan:
    """A plan saved through ``plan_save`` (hourly, UTC, nothing intrusive unless overridden)."""
    from testing.services.plans import plan_save

    fields: dict[str, Any] = {
        "schedule_kind": "interval",
        "interval_minutes": 60,
        "cron": "",
        "timezone": "UTC",
        "intrusive_allowed": False,
        "production_opt_in": False,
        "latency_tolerance": "0.5",
        "enabled": True,
        **overrides,
    }
    return plan_save(actor=actor, api=environment.api, environment=environment, checks=checks, **fields)
