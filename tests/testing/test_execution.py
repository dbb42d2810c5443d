"""run_execute against a real local API: claimed once, results and findings written together, findings
deduplicated, resolved and regressed, owners told once, summaries updated."""

# ruff: noqa: F811 - pytest fixtures imported from checks_for_tests are redefined as arguments
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from portal.audit import Actor
from portal.models import AuditEvent, Notification, Role
from testing.models import CheckResult, Finding, FindingStatus, RunStatus, RunTrigger, TestRun
from testing.services import execution, targets
from testing.services.execution import LOST_TWICE, MAX_ATTEMPTS, UNAUTHENTICATED, run_execute
from testing.services.findings import finding_transition, fingerprint
from testing.services.identities import identity_set
from testing.services.plans import plan_save
from testing.services.runs import run_create
from tests.factories import ApiFactory, EnvironmentFactory
from tests.testing.checks_for_tests import local_api, registered_checks  # noqa: F401 - fixtures
from tests.testing.factories import TestRunFactory, reapprove, reviewed_environment, saved_plan

pytestmark = pytest.mark.usefixtures("registered_checks")
SYSTEM = Actor.system("test")
FINDING_MAILS = {"kind": "testing.finding.opened"}


@pytest.fixture
def plan(org, make_member, alice, local_api):
    engineer = make_member(Role.SECURITY_ENGINEER, org.root, "erin")
    api = ApiFactory(org_unit=org.team, slug="orders", submittable=True, approved=True)
    env = reviewed_environment(api, name="staging", base_urls=[local_api.url])
    return saved_plan(actor=Actor(user=engineer), environment=env, checks=["t_items", "t_quiet"])


def _run(plan, **kw) -> TestRun:
    run, created = run_create(actor=SYSTEM, plan=plan, trigger=RunTrigger.MANUAL, **kw)
    assert created
    return run_execute(run_id=run.pk)


def test_it_runs_the_checks_and_records_results_findings_and_summaries(plan, local_api, alice):
    local_api.bad = [{"id": 1, "detail": "leaks_email", "severity": "critical"}, {"id": 2, "detail": "weak"}]

    run = _run(plan)

    assert run.status == RunStatus.FAILED and run.reason == ""
    assert (run.checks_passed, run.checks_failed, run.checks_errored) == (1, 1, 0)
    assert run.worst_severity == "critical" and run.attempts == 1
    assert run.requests_sent == 1 and run.finished_at >= run.started_at
    results = {r.check_key: r for r in CheckResult.objects.filter(run=run)}
    assert set(results) == {"t_items", "t_quiet"}
    assert [p["detail"] for p in results["t_items"].problems] == ["leaks_email", "weak"]
    assert results["t_items"].metrics == {"p95_ms": 12.5} and results["t_items"].owasp == "API8:2023"

    findings = {f.detail: f for f in Finding.objects.all()}
    leak = findings["leaks_email"]
    assert leak.fingerprint == fingerprint(
        plan.api_id, plan.environment_id, "t_items", "GET /items", "leaks_email"
    )
    assert (leak.status, leak.severity, leak.times_seen, leak.first_run, leak.last_run) == (
        "open",
        "critical",
        1,
        run,
        run,
    )
    assert findings["weak"].severity == "high"  # the check's default

    plan.refresh_from_db()
    assert (plan.last_run, plan.last_status, plan.last_run_at) == (run, "failed", run.finished_at)
    api = plan.api
    api.refresh_from_db()
    assert (api.test_status, api.open_findings, api.worst_open_severity) == ("failed", 2, "critical")
    assert api.tested_at == run.finished_at

    mails = Notification.objects.filter(**FINDING_MAILS)
    assert mails.count() == 2 and all(m.recipients == [alice.email] for m in mails)
    first = mails.order_by("pk")[0]
    assert "CRITICAL" in first.subject
    assert f"/testing/findings/{leak.pk}/" in first.body
    assert Finding.objects.filter(notified_at__isnull=False).count() == 2


def test_running_a_run_twice_records_one_set_of_results(plan, local_api):
    local_api.bad = [{"id": 1, "detail": "x"}]
    run = _run(plan)
    again = run_execute(run_id=run.pk)
    assert again.pk == run.pk and again.status == RunStatus.FAILED and again.attempts == 1
    assert CheckResult.objects.filter(run=run).count() == 2
    assert Finding.objects.get().times_seen == 1
    assert run_execute(run_id=999_999) is None


def test_a_problem_seen_again_is_the_same_finding_and_owners_hear_once(plan, local_api):
    local_api.bad = [{"id": 1, "detail": "x"}, {"id": 1, "detail": "x"}]  # twice in one run, too
    first = _run(plan)
    second = _run(plan)
    finding = Finding.objects.get()
    assert (finding.times_seen, finding.first_run, finding.last_run) == (2, first, second)
    assert Notification.objects.filter(**FINDING_MAILS).count() == 1


def test_a_passing_check_resolves_and_a_new_failure_reopens_and_tells_again(plan, local_api):
    local_api.bad = [{"id": 1, "detail": "x"}]
    _run(plan)
    local_api.bad = []
    _run(plan)
    finding = Finding.objects.get()
    assert finding.status == FindingStatus.RESOLVED
    assert AuditEvent.objects.filter(action="finding.resolve", actor_label="system:testing.run").count() == 1
    plan.api.refresh_from_db()
    assert (plan.api.test_status, plan.api.open_findings, plan.api.worst_open_severity) == ("passed", 0, "")

    local_api.bad = [{"id": 1, "detail": "x"}]
    _run(plan)
    finding.refresh_from_db()
    assert (finding.status, finding.times_seen) == (FindingStatus.OPEN, 2)
    assert AuditEvent.objects.filter(action="finding.regress").count() == 1
    assert Notification.objects.filter(**FINDING_MAILS).count() == 2  # a new episode


def test_triaged_findings_stay_as_people_left_them(plan, local_api, ciso):
    local_api.bad = [{"id": 1, "detail": "x"}, {"id": 2, "detail": "y"}]
    _run(plan)
    x, y = Finding.objects.get(detail="x"), Finding.objects.get(detail="y")
    until = timezone.localdate() + timedelta(days=30)
    finding_transition(
        actor=Actor(user=ciso), finding=x, action="accept_risk", note="ok", accepted_until=until
    )
    finding_transition(actor=Actor(user=ciso), finding=y, action="mark_false_positive", note="test data")

    run = _run(plan)
    x.refresh_from_db()
    y.refresh_from_db()
    assert (x.status, x.last_run, x.times_seen) == (FindingStatus.ACCEPTED, run, 2)
    assert (y.status, y.last_run) == (FindingStatus.FALSE_POSITIVE, run)
    local_api.bad = []
    _run(plan)
    x.refresh_from_db()
    assert x.status == FindingStatus.ACCEPTED  # only open findings are resolved


def test_a_check_that_could_not_run_resolves_nothing(plan, local_api):
    local_api.bad = [{"id": 1, "detail": "x"}]
    _run(plan)
    local_api.status = 503  # t_items skips: no usable answer
    run = _run(plan)
    assert run.status == RunStatus.PASSED  # t_quiet passed, t_items skipped
    assert run.skipped_checks == {"t_items": "no usable answer (503)"}
    assert Finding.objects.get().status == FindingStatus.OPEN


def test_an_errored_check_makes_an_error_run_and_unknown_checks_are_reported(plan, local_api):
    run, _ = run_create(
        actor=SYSTEM, plan=plan, trigger=RunTrigger.MANUAL, checks=["t_quiet", "t_broken", "gone"]
    )
    run = run_execute(run_id=run.pk)
    assert run.status == RunStatus.ERROR and run.reason == "1 check(s) could not run"
    outcomes = dict(CheckResult.objects.filter(run=run).values_list("check_key", "outcome"))
    assert outcomes == {"t_quiet": "pass", "t_broken": "error", "gone": "skipped"}
    assert run.skipped_checks == {"gone": execution.NO_SUCH_CHECK}


def test_an_unauthenticated_scan_is_never_green(plan, local_api):
    # Identities come from the identities engine; here one that the API refuses (401).
    # A real identity, resolved by the identities engine, that the API refuses (401).
    identity_set(actor=SYSTEM, plan=plan, name="A", kind="bearer", secret={"token": "refused-token"})
    local_api.status = 401
    run = _run(plan, checks=["t_quiet", "t_items"])
    assert (run.status, run.reason) == (RunStatus.ERROR, UNAUTHENTICATED)
    assert (run.authenticated_requests, run.authenticated_responses) == (1, 0)
    local_api.status, local_api.bad = 200, []
    run = _run(plan)
    assert run.status == RunStatus.PASSED and run.authenticated_responses == 1


def test_it_stops_at_its_time_limit_and_says_so(plan):
    run, _ = run_create(actor=SYSTEM, plan=plan, trigger=RunTrigger.MANUAL)
    run = run_execute(run_id=run.pk, time_limit=0)
    assert (run.status, run.reason) == (RunStatus.ERROR, execution.TIMED_OUT)
    assert set(run.skipped_checks) == {"t_items", "t_quiet"}


def test_a_run_whose_worker_died_is_claimed_again_then_given_up(plan, local_api, settings):
    run, _ = run_create(actor=SYSTEM, plan=plan, trigger=RunTrigger.MANUAL)
    long_ago = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 5)
    # Held by a live worker: left alone.
    TestRun.objects.filter(pk=run.pk).update(status="running", claimed_at=timezone.now(), attempts=1)
    assert run_execute(run_id=run.pk).status == RunStatus.RUNNING
    assert not CheckResult.objects.exists()
    # Its worker vanished (claim older than the hard limit): claimed again and finished.
    TestRun.objects.filter(pk=run.pk).update(claimed_at=long_ago)
    done = run_execute(run_id=run.pk)
    assert (done.status, done.attempts) == (RunStatus.PASSED, 2)

    lost, _ = run_create(actor=SYSTEM, plan=plan, trigger=RunTrigger.MANUAL)
    TestRun.objects.filter(pk=lost.pk).update(status="running", claimed_at=long_ago, attempts=MAX_ATTEMPTS)
    lost = run_execute(run_id=lost.pk)
    assert (lost.status, lost.reason) == (RunStatus.ERROR, LOST_TWICE)
    assert not CheckResult.objects.filter(run=lost).exists()
    plan.refresh_from_db()
    assert (plan.last_run, plan.last_status) == (lost, "error")


def test_a_crash_while_finishing_leaves_the_run_claimed_and_nothing_written(
    plan, local_api, monkeypatch, settings
):
    local_api.bad = [{"id": 1, "detail": "x"}]
    run, _ = run_create(actor=SYSTEM, plan=plan, trigger=RunTrigger.MANUAL)

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    finish_summaries = execution._summarise
    monkeypatch.setattr(execution, "_summarise", crash)
    with pytest.raises(RuntimeError):
        run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.attempts == 1
    assert not CheckResult.objects.exists() and not Finding.objects.exists()
    assert not Notification.objects.filter(**FINDING_MAILS).exists()

    # Redelivered once the claim has lapsed: claimed again, finished whole.
    monkeypatch.setattr(execution, "_summarise", finish_summaries)
    lapsed = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 1)
    TestRun.objects.filter(pk=run.pk).update(claimed_at=lapsed)
    done = run_execute(run_id=run.pk)
    registered = {"t_items", "t_quiet"}
    assert (
        done.status == RunStatus.FAILED
        and set(CheckResult.objects.values_list("check_key", flat=True)) == registered
    )


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_run_it_once(plan, local_api):
    local_api.bad = [{"id": 1, "detail": "x"}]
    # Written as run_create leaves it, without enqueuing a task into the development broker.
    run = TestRunFactory(
        plan=plan, status=RunStatus.QUEUED, started_at=None, finished_at=None, base_url=local_api.url
    )
    start = threading.Barrier(2)
    returned = []

    def worker():
        try:
            start.wait()
            returned.append(run_execute(run_id=run.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(returned) == 2
    assert CheckResult.objects.filter(run=run).count() == 2 and Finding.objects.count() == 1
    run.refresh_from_db()
    assert (run.status, run.attempts) == (RunStatus.FAILED, 1)


# --- what a run is given: the target read from the inventory ----------------------------------------------

SPEC = b"""
openapi: 3.0.3
info: {title: Orders, version: "1"}
security: [{bearer: []}]
paths:
  /orders/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: integer, example: 7}}]
    get:
      responses:
        "200":
          description: An order
          content: {application/json: {schema: {$ref: "#/components/schemas/Order"}}}
        "404": {description: No such order}
    put:
      requestBody:
        content: {application/json: {schema: {$ref: "#/components/schemas/Order"}}}
      responses:
        "204": {description: Saved}
  /health:
    get:
      security: []
      responses:
        "200": {description: Up}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer}
  schemas:
    Order:
      type: object
      properties:
        id: {type: integer}
        parent: {$ref: "#/components/schemas/Order"}
"""


def test_the_target_holds_what_the_inventory_knows(plan, org, make_member):
    from inventory.services.consumers import dependency_add
    from inventory.services.specs import spec_upload
    from tests.factories import PerformanceBaselineFactory

    api, env = plan.api, plan.environment
    spec_upload(actor=SYSTEM, api=api, data=SPEC, filename="orders.yaml")
    PerformanceBaselineFactory(environment=env, p50_ms=20, p95_ms=80, p99_ms=200)
    dependency_add(actor=SYSTEM, api=api, consumer_api=ApiFactory(org_unit=org.sibling, slug="billing"))
    for p95 in (70.0, 90.0):
        earlier = TestRunFactory(plan=plan)
        CheckResult.objects.create(
            run=earlier, check_key="latency_slo", outcome="pass", severity="low", metrics={"p95_ms": p95}
        )
    run, _ = run_create(actor=SYSTEM, plan=plan, trigger=RunTrigger.MANUAL)

    target = targets.target_for(run, client_factory=targets.scanner_client_factory())

    assert target.base_url == plan.environment.base_urls[0]
    assert [op.key for op in target.operations] == ["GET /health", "GET /orders/{id}", "PUT /orders/{id}"]
    get = target.operation("GET /orders/{id}")
    assert get.auth_required and not target.operation("GET /health").auth_required
    assert get.parameters == (
        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "example": 7}},
    )
    assert set(get.responses) == {"200", "404"} and get.responses["404"] is None
    order = get.responses["200"]
    assert order["properties"]["id"] == {"type": "integer"}
    assert order["properties"]["parent"] == {}  # the cycle is cut, not followed
    assert target.operation("PUT /orders/{id}").request_schema["type"] == "object"
    assert (target.latency_p95_ms, target.latency_tolerance, target.latency_history) == (
        80.0,
        0.5,
        (70.0, 90.0),
    )
    assert target.consumers == ("Billing",) and target.expected_up
    assert not target.production and not target.intrusive_allowed and not target.docs_public
    assert target.identities == ()  # no identities engine yet, or no identities on the plan


def test_intrusive_checks_on_production_need_both_opt_ins(plan):
    env = plan.environment
    plan.intrusive_allowed = True
    assert targets.intrusive_allowed(plan)
    env.is_production = True
    assert not targets.intrusive_allowed(plan)
    plan.production_opt_in = True
    assert targets.intrusive_allowed(plan)


def test_an_api_that_is_not_approved_is_not_called(org, local_api):
    from testing.models import TestPlan

    env = EnvironmentFactory(
        api=ApiFactory(org_unit=org.team, slug="draft-api"), name="dev", base_urls=[local_api.url]
    )
    plan = TestPlan.objects.create(api=env.api, environment=env, checks=["t_items"])
    run = _run(plan)
    assert (run.status, run.reason) == (RunStatus.SKIPPED, "the API is draft, not approved")
    assert run.skipped_checks == {"t_items": "the API is draft, not approved"}
    assert local_api.calls == 0


def test_the_task_runs_the_run_and_looks_again_at_one_held_elsewhere(plan, local_api, settings):
    from celery.exceptions import Retry

    from testing.tasks import run_plan

    assert run_plan.apply(args=[999_999]).get() == "missing"
    run, _ = run_create(actor=SYSTEM, plan=plan, trigger=RunTrigger.MANUAL)
    assert run_plan.apply(args=[run.pk]).get() == "passed"
    assert run_plan.apply(args=[run.pk]).get() == "passed"  # delivered twice: nothing more happens
    assert CheckResult.objects.filter(run=run).count() == 2

    held, _ = run_create(actor=SYSTEM, plan=plan, trigger=RunTrigger.MANUAL)
    TestRun.objects.filter(pk=held.pk).update(status="running", claimed_at=timezone.now(), attempts=1)
    with pytest.raises(Retry):  # called directly, as a worker would run it: asks to run again later
        run_plan(held.pk)
    assert (
        settings.CELERY_TASK_TIME_LIMIT - 5
        < execution.claim_lapses_in(TestRun.objects.get(pk=held.pk))
        <= (settings.CELERY_TASK_TIME_LIMIT + 2)
    )


@pytest.mark.django_db(transaction=True)
def test_the_default_checks_run_end_to_end_against_the_demo_target(org, make_member, settings):
    """Every real non-intrusive check through run_execute, with login identities resolved by the
    identities engine, against the deliberately flawed demo API: the run finishes, no check breaks on
    what the portal gives it, and the planted flaws become findings."""
    from inventory.services.specs import spec_upload
    from testing.engines.demo_target import DEMO_USERS, DemoTarget, openapi_bytes
    from testing.services.identities import identity_set
    from testing.services.plans import default_checks
    from tests.factories import PerformanceBaselineFactory

    settings.SCANNER_PER_HOST_RATE = 0
    engineer = make_member(Role.SECURITY_ENGINEER, org.root, "erin")
    with DemoTarget(port=0) as demo:
        api = ApiFactory(org_unit=org.team, slug="demo-shop", submittable=True, approved=True)
        env = reviewed_environment(api, name="staging", base_urls=[demo.url])
        spec_upload(actor=SYSTEM, api=api, data=openapi_bytes(demo.url), filename="openapi.json")
        reapprove(api)  # a first spec is a material change
        PerformanceBaselineFactory(environment=env, p50_ms=20, p95_ms=250, p99_ms=400)
        # Real checks only (not this module's test ones); no tls: the demo serves plain HTTP here.
        checks = [k for k in default_checks() if k != "tls" and not k.startswith("t_")]
        plan = plan_save(
            actor=Actor(user=engineer),
            api=api,
            environment=env,
            checks=checks,
            schedule_kind="interval",
            interval_minutes=60,
            cron="",
            timezone="UTC",
            intrusive_allowed=False,
            production_opt_in=False,
            latency_tolerance="0.5",
            enabled=True,
        )
        for name, user in list(DEMO_USERS.items())[:2]:
            identity_set(
                actor=Actor(user=engineer),
                plan=plan,
                name=name,
                kind="login",
                secret={
                    "path": "/auth/login",
                    "json": {"username": user.username, "password": "{{ secrets.password }}"},
                    "token_path": "$.access_token",
                    "secrets": {"password": user.password},
                },
                object_ids=[str(i) for i in user.order_ids],
            )
        run = TestRunFactory(
            plan=plan, status=RunStatus.QUEUED, started_at=None, finished_at=None, base_url=demo.url
        )
        run = run_execute(run_id=run.pk, time_limit=120)

    outcomes = dict(CheckResult.objects.filter(run=run).values_list("check_key", "outcome"))
    assert set(outcomes) == set(checks)
    assert "error" not in outcomes.values(), CheckResult.objects.filter(run=run, outcome="error").values_list(
        "check_key", "summary"
    )
    assert run.status == RunStatus.FAILED and run.authenticated_responses > 0
    assert run.operations_total > 0 and run.operations_reached > 0
    found = set(Finding.objects.filter(plan=plan).values_list("check_key", flat=True))
    assert {"auth_enforced", "bola", "error_hygiene"} <= found, (found, outcomes)


def test_a_run_without_a_base_url_is_an_error_not_a_crash(plan):
    run, _ = run_create(actor=SYSTEM, plan=plan, trigger=RunTrigger.MANUAL)
    TestRun.objects.filter(pk=run.pk).update(base_url="")
    run = run_execute(run_id=run.pk)
    assert (run.status, run.reason) == (RunStatus.ERROR, execution.NO_BASE_URL)
    assert set(run.skipped_checks) == {"t_items", "t_quiet"}
