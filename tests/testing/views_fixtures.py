"""What testing's page and REST tests read: a registered pair of test checks, and an API of team's
with a plan, runs, results and findings as finished runs leave them (tests/testing/factories.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

import testing.engines.checks as checks_package
from inventory.models import Api, Environment
from testing.engines.checks import base
from testing.engines.checks.base import Check, Context, Owasp, Severity
from testing.models import CheckOutcome, Finding, RunStatus, TestPlan, TestRun
from tests.conftest import Org
from tests.factories import ApiFactory, EnvironmentFactory
from tests.testing.factories import CheckResultFactory, FindingFactory, TestPlanFactory, TestRunFactory


class _ViewCheck(Check):
    sends = "one GET"
    request_budget = 5

    def run(self, ctx: Context) -> list[Any]:  # pragma: no cover - pages never run checks
        return []


class AuthCheck(_ViewCheck):
    key = "view_auth"
    title = "Protected operations refuse anonymous callers"
    owasp = Owasp.API2
    severity = Severity.HIGH


class BurstCheck(_ViewCheck):
    key = "view_burst"
    title = "A burst is throttled"
    owasp = Owasp.API4
    severity = Severity.MEDIUM
    intrusive = True


@pytest.fixture(autouse=True)
def view_checks(monkeypatch: pytest.MonkeyPatch) -> dict[str, type[Check]]:
    """The two checks the pages describe, registered for the test only (beside the real ones, which
    are imported first: they register themselves on import)."""
    checks_package.all_checks()
    registry = dict(base.REGISTRY)
    registry.update({AuthCheck.key: AuthCheck, BurstCheck.key: BurstCheck})
    monkeypatch.setattr(base, "REGISTRY", registry)
    monkeypatch.setattr(checks_package, "REGISTRY", registry)
    return registry


EVIDENCE = {
    "request": {
        "method": "GET",
        "url": "https://pay.example.com/items/1",
        "headers": [["Authorization", "[redacted]"]],
        "body_excerpt": "",
    },
    "method": "GET",
    "url": "https://pay.example.com/items/1",
    "status": 200,
    "error": None,
    "headers": [["Content-Type", "text/html"]],
    "body_excerpt": "<script>alert('xss')</script> card 4111",
    "body_bytes": 40,
    "elapsed_ms": 3.5,
    "redirects": [],
    "peer": "127.0.0.1",
}


def problem(
    operation: str, detail: str = "no_401_without_credentials", message: str = "Answered 200"
) -> dict:
    return {
        "detail": detail,
        "operation": operation,
        "message": message,
        "severity": "",
        "evidence": [EVIDENCE],
    }


@dataclass
class Tested:
    __test__ = False  # not a pytest test class

    api: Api
    env: Environment
    plan: TestPlan
    first: TestRun
    second: TestRun
    finding: Finding


def make_tested_api(unit: Any, slug: str = "payments") -> Tested:
    """An API with a plan on production and two finished runs: the first failed with two problems,
    the second with one of them still there and a new one."""
    api = ApiFactory(org_unit=unit, slug=slug, name=slug.title())
    env = EnvironmentFactory(
        api=api, name="production", base_urls=["https://pay.example.com"], is_production=True
    )
    plan = TestPlanFactory(environment=env, checks=["view_auth", "view_burst"], intrusive_allowed=True)
    now = timezone.now()
    first = TestRunFactory(
        plan=plan,
        status=RunStatus.FAILED,
        created_at=now - timedelta(days=2),
        checks_failed=1,
        worst_severity="high",
        operations_total=4,
        operations_reached=3,
        authenticated_requests=6,
        authenticated_responses=6,
        requests_sent=9,
        request_budget=10,
        skipped_checks={"view_burst": "intrusive: production needs the owners' opt-in"},
    )
    CheckResultFactory(
        run=first,
        check_key="view_auth",
        outcome=CheckOutcome.FAILED,
        severity="high",
        owasp="API2:2023",
        summary="2 operations answered without credentials",
        problems=[problem("GET /items/{id}"), problem("GET /orders")],
    )
    second = TestRunFactory(
        plan=plan,
        status=RunStatus.FAILED,
        created_at=now - timedelta(hours=1),
        checks_failed=1,
        worst_severity="high",
        authenticated_requests=5,
        authenticated_responses=0,
        requests_sent=5,
        request_budget=10,
    )
    CheckResultFactory(
        run=second,
        check_key="view_auth",
        outcome=CheckOutcome.FAILED,
        severity="high",
        owasp="API2:2023",
        problems=[problem("GET /items/{id}"), problem("DELETE /items/{id}", detail="delete_without_auth")],
    )
    finding = FindingFactory(
        plan=plan,
        check_key="view_auth",
        operation="GET /items/{id}",
        title=f"Anonymous read of items on {slug}",
        first_seen=now - timedelta(days=2),
        last_seen=now - timedelta(hours=1),
        first_run=first,
        last_run=second,
        times_seen=2,
        evidence=[EVIDENCE],
    )
    return Tested(api, env, plan, first, second, finding)


@pytest.fixture
def tested(org: Org) -> Tested:
    return make_tested_api(org.team)
