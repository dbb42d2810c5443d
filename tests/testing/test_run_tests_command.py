"""manage.py run_tests: the CI gate against a real local API, its exit codes and its summary."""

# ruff: noqa: F811 - pytest fixtures imported from checks_for_tests are redefined as arguments
from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inventory.models import Environment
from portal.audit import Actor
from portal.models import Role
from testing.models import CheckResult, RunStatus, RunTrigger, TestRun
from testing.services.identities import identity_set
from testing.services.plans import plan_save
from tests.factories import ApiFactory
from tests.testing.checks_for_tests import local_api, registered_checks  # noqa: F401 - fixtures
from tests.testing.factories import reviewed_environment

pytestmark = pytest.mark.usefixtures("registered_checks")
SYSTEM = Actor.system("test")


@pytest.fixture
def plan(org, make_member, local_api):
    engineer = make_member(Role.SECURITY_ENGINEER, org.root, "erin")
    api = ApiFactory(org_unit=org.team, slug="orders", submittable=True, approved=True)
    env = reviewed_environment(api, name="staging", base_urls=["https://orders-staging.example.com"])
    return plan_save(
        actor=Actor(user=engineer),
        api=api,
        environment=env,
        checks=["t_items", "t_quiet"],
        schedule_kind="interval",
        interval_minutes=60,
        cron="",
        timezone="UTC",
        intrusive_allowed=False,
        production_opt_in=False,
        latency_tolerance="0.5",
        enabled=True,
    )


def gate(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("run_tests", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def test_it_passes_a_clean_api_and_prints_the_summary(plan, local_api):
    code, out = gate("orders", "--env", "staging", "--base-url", local_api.url, "--wait")
    assert code == 0, out
    run = TestRun.objects.get()
    assert (run.trigger, run.status, run.base_url) == (RunTrigger.CI, RunStatus.PASSED, local_api.url)
    assert f"Run {run.pk} of orders / staging against {local_api.url}" in out
    assert "t_items" in out and "t_quiet" in out and "Gate passed" in out
    assert local_api.calls == 1  # the given deployment was tested, not the plan's


def test_it_fails_the_build_on_a_finding_at_or_above_the_threshold(plan, local_api):
    local_api.bad = [{"id": 1, "detail": "leaks_email", "severity": "medium"}]
    code, out = gate("orders", "--base-url", local_api.url, "--wait")  # one plan: --env may be left out
    assert code == 0 and "medium" in out and "leaks_email" in out  # below the default (high)

    code, out = gate("orders", "--base-url", local_api.url, "--wait", "--fail-on", "medium")
    assert code == 1
    assert "Gate failed: t_items failed at or above medium" in out
    assert "GET /items leaks_email" in out


def test_an_accepted_risk_does_not_fail_the_gate(plan, local_api):
    from datetime import timedelta

    from django.utils import timezone

    from testing.models import Finding
    from testing.services.findings import finding_transition

    local_api.bad = [{"id": 1, "detail": "leaks_email", "severity": "high"}]
    # The registered deployment's run opens the finding; the team accepts the risk for a month.
    Environment.objects.filter(pk=plan.environment_id).update(base_urls=[local_api.url])
    code, _ = gate("orders", "--wait")
    assert code == 1
    finding_transition(
        actor=SYSTEM,
        finding=Finding.objects.get(),
        action="accept_risk",
        note="compensating control at the gateway",
        accepted_until=timezone.localdate() + timedelta(days=30),
    )
    code, out = gate("orders", "--wait")
    assert code == 0 and "Gate passed" in out
    local_api.bad.append({"id": 2, "detail": "leaks_phone", "severity": "high"})
    code, out = gate("orders", "--wait")
    assert code == 1 and "t_items failed at or above high" in out


def test_an_unauthenticated_scan_fails_the_gate(plan, local_api):
    # A real identity, resolved by the identities engine, that the API refuses (401). It is set for
    # the deployment the gate tests (identities go only to the origin they were set for).
    Environment.objects.filter(pk=plan.environment_id).update(base_urls=[local_api.url])
    plan.refresh_from_db()
    identity_set(actor=SYSTEM, plan=plan, name="A", kind="bearer", secret={"token": "refused-token"})
    local_api.status = 401
    code, out = gate("orders", "--base-url", local_api.url, "--wait")
    assert code == 3 and "no request was answered as authenticated" in out
    assert "0/1 authenticated requests accepted" in out


def test_a_preview_elsewhere_gets_no_identity_and_cannot_pass(plan, local_api):
    identity_set(actor=SYSTEM, plan=plan, name="A", kind="bearer", secret={"token": "for-staging-only"})
    code, out = gate("orders", "--base-url", local_api.url, "--wait")
    assert code == 3 and "set it again" in out
    assert TestRun.objects.get().authenticated_requests == 0  # the identity was not sent


def test_without_wait_it_only_queues_the_run(plan, local_api):
    code, out = gate("orders", "--base-url", local_api.url)
    assert code == 0 and "Queued" in out
    assert TestRun.objects.get().status == RunStatus.QUEUED and not CheckResult.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--wait"], "No API with the slug"),
        (["orders", "--env", "qa"], "no test plan for an environment 'qa'"),
        (["orders", "--base-url", "ftp://x.example.com"], "an absolute http(s) URL"),
        (["orders", "--base-url", "https://u:p@x.example.com"], "no credentials"),
        (["orders", "--base-url", "https://x.example.com/?q=1"], "no credentials, query"),
        (["orders", "--base-url", "https://" + "a" * 2050 + ".com"], "at most 2048"),
        (["orders", "--base-url", "https://x.example.com/a b"], "no spaces"),
        (["orders", "--fail-on", "severe"], "--fail-on: one of"),
        (["orders", "--timeout", "0"], "--timeout"),
    ],
)
def test_usage_errors_exit_2_and_create_nothing(plan, args, message):
    code, out = gate(*args)
    assert code == 2, out
    assert message in out
    assert not TestRun.objects.exists()


def test_the_base_url_still_goes_through_the_safe_client(plan, settings):
    settings.SCANNER_ALLOWED_NETWORKS = []  # loopback not allowed in this deployment
    plan.checks = ["t_items"]  # the one that sends something
    plan.save(update_fields=["checks"])
    code, out = gate("orders", "--base-url", "http://127.0.0.1:9/", "--wait")
    assert code == 3, out  # the check could not reach it: skipped, the gate cannot vouch for the API
    assert "refused_address" in out and "every check was skipped" in out


def test_an_api_with_several_plans_needs_env(plan, local_api):
    from testing.services.plans import plan_default_for

    plan_default_for(actor=Actor.system("t"), environment=plan.api.environments.get(name="production"))
    code, out = gate("orders", "--wait")
    assert code == 2 and "several test plans" in out and "production" in out and "staging" in out
