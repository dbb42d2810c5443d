"""What a run may conclude: only a trustworthy run of the registered deployment resolves findings,
and only for what it tested again; a preview (--base-url) records results and touches no finding."""

# ruff: noqa: F811 - pytest fixtures imported from checks_for_tests are redefined as arguments
from __future__ import annotations

import pytest

from portal.audit import Actor
from portal.models import Role
from testing.engines.checks.base import CheckReport, Outcome, Problem, Severity
from testing.models import CheckResult, Finding, FindingStatus, RunStatus, RunTrigger, TestPlan, TestRun
from testing.services.execution import IDENTITY_FAILED, reconcile, run_execute
from testing.services.identities import identity_set
from testing.services.runs import run_create
from tests.factories import ApiFactory
from tests.testing.checks_for_tests import local_api, registered_checks  # noqa: F401 - fixtures
from tests.testing.factories import TestRunFactory, reviewed_environment, saved_plan

pytestmark = pytest.mark.usefixtures("registered_checks")
SYSTEM = Actor.system("test")


@pytest.fixture
def engineer(org, make_member):
    return make_member(Role.SECURITY_ENGINEER, org.root, "erin")


@pytest.fixture
def plan(org, engineer, local_api):
    api = ApiFactory(org_unit=org.team, slug="orders", submittable=True, approved=True)
    env = reviewed_environment(api, name="staging", base_urls=[local_api.url])
    return saved_plan(actor=Actor(user=engineer), environment=env, checks=["t_items", "t_quiet"])


def _run(plan, **kw) -> TestRun:
    run, created = run_create(actor=SYSTEM, plan=plan, trigger=RunTrigger.MANUAL, **kw)
    assert created
    return run_execute(run_id=run.pk)


def test_it_records_a_preview_run_without_touching_findings_or_summaries(plan, local_api):
    local_api.bad = [{"id": 1, "detail": "leaks_email", "severity": "critical"}]
    # Another spelling of the same server: a different deployment as far as the plan knows.
    preview = local_api.url.replace("127.0.0.1", "localhost")

    run = _run(plan, base_url=preview)

    assert run.status == RunStatus.FAILED
    assert CheckResult.objects.get(run=run, check_key="t_items").problems[0]["detail"] == "leaks_email"
    assert not Finding.objects.exists()
    plan.refresh_from_db()
    assert plan.last_run_id is None and plan.last_status == ""

    # The registered deployment's own run opens it; a clean preview afterwards resolves nothing.
    _run(plan)
    local_api.bad = []
    _run(plan, base_url=preview)
    assert Finding.objects.get().status == FindingStatus.OPEN


def test_an_identity_that_cannot_be_used_makes_the_run_untrustworthy(plan, engineer, local_api):
    local_api.bad = [{"id": 1, "detail": "leaks_email"}]
    _run(plan)
    assert Finding.objects.get().status == FindingStatus.OPEN
    identity_set(
        actor=Actor(user=engineer),
        plan=plan,
        name="A",
        kind="login",
        secret={
            "path": "/no-such-login",
            "json": {"user": "a", "password": "{{ secrets.password }}"},
            "token_path": "$.token",
            "secrets": {"password": "hunter2-but-longer"},
        },
    )
    local_api.bad = []

    run = _run(plan)

    # Nothing failed, yet the scan could not log in: an error, never green, and nothing resolved.
    assert run.status == RunStatus.ERROR
    assert run.reason.startswith(IDENTITY_FAILED) and "A:" in run.reason and "hunter2" not in run.reason
    assert Finding.objects.get().status == FindingStatus.OPEN
    assert TestPlan.objects.get(pk=plan.pk).last_status == RunStatus.ERROR


def _report(key: str, outcome: Outcome, problems=(), reached=(), exhausted=False) -> CheckReport:
    return CheckReport(
        key=key,
        outcome=outcome,
        severity=Severity.HIGH,
        problems=list(problems),
        operations_reached=frozenset(reached),
        budget_exhausted=exhausted,
    )


def _problem(operation: str) -> Problem:
    return Problem(detail="leak", message="it leaks", operation=operation)


def test_only_what_a_check_tested_again_is_resolved(plan):
    first, second = TestRunFactory(plan=plan), TestRunFactory(plan=plan)
    opened = [_problem("GET /a"), _problem("GET /b"), _problem("GET /c")]
    reconcile(first, [_report("t_items", Outcome.FAILED, opened)], first.finished_at)
    assert Finding.objects.filter(status=FindingStatus.OPEN).count() == 3

    # Failed on /a, reached /b (clean now) but not /c: only /b is resolved.
    reconcile(
        second,
        [_report("t_items", Outcome.FAILED, [_problem("GET /a")], reached=["GET /a", "GET /b"])],
        second.finished_at,
    )
    status = dict(Finding.objects.values_list("operation", "status"))
    assert status == {"GET /a": "open", "GET /b": "resolved", "GET /c": "open"}
    assert Finding.objects.get(operation="GET /b").resolved_at is not None

    # A pass that stopped at its budget before reaching /c does not call /c fixed.
    reconcile(
        second, [_report("t_items", Outcome.PASSED, reached=["GET /a"], exhausted=True)], second.finished_at
    )
    status = dict(Finding.objects.values_list("operation", "status"))
    assert status == {"GET /a": "resolved", "GET /b": "resolved", "GET /c": "open"}

    # A whole pass resolves the rest; seen again, a finding comes back with resolved_at cleared.
    reconcile(second, [_report("t_items", Outcome.PASSED)], second.finished_at)
    assert not Finding.objects.filter(status=FindingStatus.OPEN).exists()
    reconcile(second, [_report("t_items", Outcome.FAILED, [_problem("GET /c")])], second.finished_at)
    back = Finding.objects.get(operation="GET /c")
    assert back.status == FindingStatus.OPEN and back.resolved_at is None


def test_an_untrusted_reconcile_resolves_nothing(plan):
    run = TestRunFactory(plan=plan)
    reconcile(run, [_report("t_items", Outcome.FAILED, [_problem("GET /a")])], run.finished_at)
    reconcile(run, [_report("t_items", Outcome.PASSED)], run.finished_at, resolve=False)
    assert Finding.objects.get().status == FindingStatus.OPEN


def test_identities_go_only_to_the_origin_they_were_set_for(plan, engineer, local_api):
    from inventory.models import Environment
    from tests.testing.servers import RawServer, echo

    identity_set(
        actor=Actor(user=engineer),
        plan=plan,
        name="A",
        kind="bearer",
        secret={"token": "engineer-only-token-9876"},
    )
    with RawServer(echo) as harvest:
        # A preview run pointed at someone else's server, and a base URL changed (or an http:// URL
        # added, which sorts first) by whoever may edit the environment: no secret reaches them.
        preview = _run(plan, base_url=harvest.url("").rstrip("/"))
        Environment.objects.filter(pk=plan.environment_id).update(
            base_urls=[harvest.url("").rstrip("/"), local_api.url.replace("http://", "https://")]
        )
        plan.refresh_from_db()
        moved = _run(plan)
        sent = [request.headers.get("authorization", "") for request in harvest.requests]
    assert all("engineer-only-token" not in value for value in sent)
    for run in (preview, moved):
        assert run.status == RunStatus.ERROR and "set it again" in run.reason


def test_the_plan_tests_an_https_url_before_an_added_plain_http_one(plan):
    from inventory.models import Environment
    from testing.services.runs import plan_base_url

    Environment.objects.filter(pk=plan.environment_id).update(
        base_urls=["http://evil.example", "https://orders.example.com"]
    )
    plan.refresh_from_db()
    assert plan_base_url(plan) == "https://orders.example.com"


def test_while_a_change_waits_for_review_the_reviewed_url_is_tested(plan, local_api):
    from inventory.models import Api, ApiStatus, Environment
    from tests.testing.servers import RawServer, echo

    local_api.bad = []
    first = _run(plan)  # approved: its URL is the reviewed one
    assert first.status == RunStatus.PASSED
    with RawServer(echo) as elsewhere:
        # Someone who may edit the environment points it elsewhere; the change waits for review.
        Environment.objects.filter(pk=plan.environment_id).update(base_urls=[elsewhere.url("").rstrip("/")])
        Api.objects.filter(pk=plan.api_id).update(status=ApiStatus.REREVIEW)
        plan.refresh_from_db()
        run = _run(plan)
        reached_elsewhere = len(elsewhere.requests)
    assert reached_elsewhere == 0
    assert run.base_url == local_api.url and run.status == RunStatus.PASSED


def test_an_unreviewed_url_is_not_tested(plan):
    from inventory.models import Api, ApiStatus

    Api.objects.filter(pk=plan.api_id).update(status=ApiStatus.REREVIEW)
    plan.refresh_from_db()
    run = _run(plan)
    assert run.status == RunStatus.SKIPPED and "not been reviewed" in run.reason
