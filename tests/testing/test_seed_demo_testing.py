"""The demo's testing side: seed_demo registers the Demo Shop API on the demo target, whose first
scheduled run finds the planted flaws as alice and bob; the fictional demo APIs stay untested; a
plan's own request rate reaches the scanner's client."""

from __future__ import annotations

import time
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.forms.models import model_to_dict

from inventory.management.commands.seed_demo_inventory import DEMO_APIS
from inventory.models import Api, ApiDependency, ApiStatus, Environment, PerformanceBaseline
from inventory.selectors import spec_current
from portal.audit import Actor
from portal.models import AuditEvent
from testing.engines.checks import all_checks
from testing.engines.demo_target import DEMO_USERS, FLAWS, PERFORMANCE_BASELINE_P95_MS, DemoTarget
from testing.models import Finding, FunctionalCase, PlanIdentity, RunStatus, TestPlan, TestRun
from testing.services.execution import TIMED_OUT, run_execute
from testing.services.plans import plan_save
from testing.services.runs import RUN_TASK
from testing.services.schedule import plans_sweep
from testing.services.targets import scanner_client_factory
from tests.factories import ApiFactory, EnvironmentFactory, OrgUnitFactory
from tests.testing.servers import RawServer, ok_json

pytest_plugins = ["tests.testing.sent_tasks"]  # the sent_tasks fixture

# Findings the first run must show: each check's planted flaw, at the operation FLAWS names.
EXPECTED = ("auth_enforced", "bola", "exposed_debug", "cleartext", "mass_assignment", "jwt_weaknesses")


def seed(command: str = "seed_demo") -> str:
    out = StringIO()
    call_command(command, stdout=out, **({"quiet_logins": True} if command == "seed_demo" else {}))
    return out.getvalue()


def demo_team() -> None:
    """The one unit seed_demo_testing needs, without the whole org chart."""
    OrgUnitFactory(slug="payments-api", name="Payments API team")


@pytest.mark.slow  # ~15 s: a whole run of every check against the demo target
@pytest.mark.django_db
def test_it_seeds_a_demo_shop_whose_first_scheduled_run_finds_the_planted_flaws(
    settings, sent_tasks, django_capture_on_commit_callbacks
):
    with DemoTarget(port=0) as demo:
        settings.DEMO_TARGET_PORT = demo.port
        out = seed()
        assert "Demo Shop API (registered)" in out and "disabled" in out

        api = Api.objects.get(slug="demo-shop")
        staging = Environment.objects.get(api=api)
        assert api.status == ApiStatus.APPROVED and spec_current(api) is not None
        assert (staging.name, staging.base_urls, staging.is_production) == ("staging", [demo.url], False)
        assert PerformanceBaseline.objects.get(environment=staging).p95_ms == PERFORMANCE_BASELINE_P95_MS
        assert ApiDependency.objects.filter(api=api).count() == 2
        plan = TestPlan.objects.get(environment=staging)
        assert plan.enabled and plan.intrusive_allowed and plan.checks == list(all_checks())
        assert (plan.interval_minutes, plan.requests_per_second) == (15, 50)
        assert sorted(PlanIdentity.objects.filter(plan=plan).values_list("name", "object_ids")) == [
            (u.username, [str(i) for i in u.order_ids]) for u in DEMO_USERS.values()
        ]
        # The fictional demo APIs have plans, switched off: the sweep makes no default ones for them.
        fictional = Environment.objects.filter(api__slug__in=[a["slug"] for a in DEMO_APIS])
        assert fictional.exists() and not fictional.filter(test_plan__isnull=True).exists()
        assert not fictional.filter(test_plan__enabled=True).exists()

        with django_capture_on_commit_callbacks(execute=True):
            assert plans_sweep() == 1  # the demo shop's plan is due at once; nothing else runs
        (run,) = TestRun.objects.all()
        assert run.plan_id == plan.pk and sent_tasks.drain() == [(RUN_TASK, [run.pk])]

        # A deployment rate this slow would need minutes for the ~340 requests: the plan's own
        # 50/s must be what the run's client uses, or it stops at the time limit.
        settings.SCANNER_PER_HOST_RATE = 2
        started = time.monotonic()
        run = run_execute(run_id=run.pk, time_limit=45)
        assert time.monotonic() - started < 40

    assert run.status == RunStatus.FAILED and run.reason != TIMED_OUT, run.reason
    # Authenticated health: alice and bob logged in and were answered as themselves.
    assert run.authenticated_requests > 0 and run.authenticated_responses > 0 and not run.unauthenticated
    findings = set(Finding.objects.filter(api=api).values_list("check_key", "operation"))
    for key in EXPECTED:
        where = {operation for check, operation in findings if check == key}
        assert where & set(FLAWS[key].operations), (key, where)
    # The functional case that fails on purpose, and only that one.
    functional = Finding.objects.filter(api=api, check_key="functional")
    assert [f.detail for f in functional] == [
        "case:promotions are listed (fails on purpose: the demo answers 204):step:1"
    ]


@pytest.mark.django_db
def test_it_changes_nothing_when_run_again(settings):
    settings.DEMO_TARGET_PORT = 8799
    demo_team()
    seed("seed_demo_testing")

    def state() -> dict:
        plan = TestPlan.objects.get(api__slug="demo-shop")
        return {
            "plan": model_to_dict(plan),
            "identities": sorted(
                (i.name, bytes(i.secret), i.hint, i.object_ids, i.rotated_at)
                for i in PlanIdentity.objects.all()
            ),
            "cases": list(FunctionalCase.objects.values("name", "source", "updated_at")),
            "apis": list(Api.objects.values("slug", "status", "revision", "updated_at")),
            "environments": list(Environment.objects.values("name", "base_urls")),
            "audit": AuditEvent.objects.count(),
        }

    before = state()
    out = seed("seed_demo_testing")
    assert "already there" in out and "plan left as it was" in out
    assert state() == before


@pytest.mark.django_db
def test_it_leaves_a_changed_plan_alone_and_disables_only_plans_it_creates(settings):
    settings.DEMO_TARGET_PORT = 8799
    demo_team()
    seed("seed_demo_testing")
    plan = TestPlan.objects.get(api__slug="demo-shop")
    TestPlan.objects.filter(pk=plan.pk).update(enabled=False, interval_minutes=60)
    approved = ApiFactory(slug=DEMO_APIS[0]["slug"], submittable=True, approved=True)
    fictional = Environment.objects.get(api=approved)
    seed("seed_demo_testing")
    plan.refresh_from_db()
    assert (plan.enabled, plan.interval_minutes) == (False, 60)
    assert TestPlan.objects.get(environment=fictional).enabled is False


@pytest.mark.django_db
def test_it_moves_staging_with_the_demo_target_port(settings):
    settings.DEMO_TARGET_PORT = 8799
    demo_team()
    seed("seed_demo_testing")
    settings.DEMO_TARGET_PORT = 8800
    out = seed("seed_demo_testing")
    assert "staging at http://127.0.0.1:8800" in out
    api = Api.objects.get(slug="demo-shop")
    assert Environment.objects.get(api=api).base_urls == ["http://127.0.0.1:8800"]
    assert api.status == ApiStatus.APPROVED  # sent back to review by the change, approved again


@pytest.mark.django_db
def test_it_is_refused_in_production_and_without_the_demo_teams(settings):
    with pytest.raises(CommandError, match="Run seed_demo first"):
        seed("seed_demo_testing")
    settings.PRODUCTION = True
    demo_team()
    with pytest.raises(CommandError, match="refused"):
        seed("seed_demo_testing")
    assert not Api.objects.exists()


# --- the plan's own request rate ---------------------------------------------------------------------


def timed_requests(factory, url: str, count: int = 4) -> float:  # noqa: ANN001
    client = factory(count)
    started = time.monotonic()
    try:
        for _ in range(count):
            assert client.request("GET", url).status == 200
    finally:
        client.close()
    return time.monotonic() - started


def test_it_sends_at_the_plans_rate_in_place_of_the_deployments(settings):
    settings.SCANNER_PER_HOST_RATE = 5  # 4 requests: at least 0.6 s
    with RawServer(ok_json()) as server:
        assert timed_requests(scanner_client_factory(), server.url()) >= 0.55
        assert timed_requests(scanner_client_factory(requests_per_second=None), server.url()) >= 0.55
        assert timed_requests(scanner_client_factory(requests_per_second=100), server.url()) < 0.4


@pytest.mark.django_db
def test_it_saves_a_plans_rate_and_keeps_it_when_a_caller_leaves_it_out():
    environment = EnvironmentFactory()
    fields = {
        "actor": Actor.system("test"),
        "api": environment.api,
        "environment": environment,
        "checks": ["availability"],
        "schedule_kind": "interval",
        "interval_minutes": 60,
        "cron": "",
        "timezone": "UTC",
        "intrusive_allowed": False,
        "production_opt_in": False,
        "latency_tolerance": "0.5",
        "enabled": True,
    }
    assert plan_save(**fields).requests_per_second is None  # a new plan: the deployment's
    assert plan_save(**fields, requests_per_second=50).requests_per_second == 50
    plan = plan_save(**(fields | {"interval_minutes": 30}))
    plan.refresh_from_db()
    assert (plan.interval_minutes, plan.requests_per_second) == (30, 50)
    last = (
        AuditEvent.objects.filter(action="testing.plan_save").order_by("-pk").values_list("before", "after")
    )
    assert [(b or {}).get("requests_per_second") for b, _ in last[1:2]] == [None]
    assert last[1][1]["requests_per_second"] == 50
    for wrong in (0, 101, "fast", True, 2.5):
        with pytest.raises(ValidationError) as caught:
            plan_save(**fields, requests_per_second=wrong)
        assert "requests_per_second" in caught.value.message_dict
    assert plan_save(**fields, requests_per_second=None).requests_per_second is None
