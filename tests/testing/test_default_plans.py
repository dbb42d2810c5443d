"""Default plans: an approved API is tested within a minute, because each sweep first gives every
environment of an API in use that has none a plan (non-intrusive checks, daily, first run now)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import Api, ApiStatus, Environment
from inventory.services import review
from portal.models import AuditEvent
from testing.engines.checks import all_checks, base
from testing.engines.checks.base import Check, Context, Owasp, Severity
from testing.models import RunStatus, RunTrigger, ScheduleKind, TestPlan, TestRun
from testing.services.plans import DEFAULT_INTERVAL_MINUTES
from testing.services.schedule import plans_ensure_default, plans_sweep
from tests.factories import SYSTEM, ApiFactory, EnvironmentFactory
from tests.testing.factories import TestPlanFactory

pytestmark = pytest.mark.django_db

pytest_plugins = ["tests.testing.sent_tasks"]  # the sent_tasks fixture


class _Quiet(Check):
    key = "t_default_quiet"
    title = "test"
    sends = "nothing"
    owasp = Owasp.API8
    severity = Severity.LOW
    request_budget = 1

    def run(self, ctx: Context):  # pragma: no cover - never run here
        return ctx.problems


class _Loud(_Quiet):
    key = "t_default_loud"
    intrusive = True


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    monkeypatch.setitem(base.REGISTRY, _Quiet.key, _Quiet)
    monkeypatch.setitem(base.REGISTRY, _Loud.key, _Loud)


def test_an_approved_api_gets_a_plan_and_a_run_at_the_next_sweep(
    sent_tasks,
    django_capture_on_commit_callbacks,
):
    api = ApiFactory(submittable=True, approved=True)
    assert api.status == ApiStatus.APPROVED and not TestPlan.objects.exists()
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert plans_sweep() == 1
    plan = TestPlan.objects.get(api=api)
    assert plan.environment == api.environments.get()
    assert plan.enabled and plan.schedule_kind == ScheduleKind.INTERVAL
    assert plan.interval_minutes == DEFAULT_INTERVAL_MINUTES == 24 * 60
    assert _Quiet.key in plan.checks and _Loud.key not in plan.checks
    assert plan.checks == [key for key, check in all_checks().items() if not check.intrusive]
    assert not plan.intrusive_allowed and not plan.production_opt_in
    run = TestRun.objects.get(plan=plan)
    assert (run.trigger, run.status, run.base_url) == (
        RunTrigger.SCHEDULE,
        RunStatus.QUEUED,
        f"https://{api.slug}.example.com",
    )
    assert sent_tasks.run_ids() == [run.pk]
    plan.refresh_from_db()
    assert plan.next_run_at >= before + timedelta(days=1) - timedelta(seconds=1)  # daily from its first run
    event = AuditEvent.objects.get(action="testing.plan_default")
    assert (event.object_id, event.actor_label, event.org_unit_id) == (
        str(plan.pk),
        "system:scheduler",
        api.org_unit_id,
    )


@pytest.mark.parametrize("approve", [False, True])
def test_only_apis_in_use_get_a_plan(approve):
    draft = ApiFactory(submittable=True)
    submitted = ApiFactory(submittable=True)
    review.api_submit(actor=SYSTEM, api=submitted)
    retired = ApiFactory(submittable=True, approved=True)
    review.api_deprecate(actor=SYSTEM, api=retired)
    review.api_retire(actor=SYSTEM, api=retired)
    suspended = ApiFactory(submittable=True, approved=True)
    review.api_suspend(actor=SYSTEM, api=suspended, reason="under attack")
    if approve:
        review.api_approve(actor=SYSTEM, api=submitted)
    assert plans_ensure_default() == (2 if approve else 1)
    with_plans = set(TestPlan.objects.values_list("api_id", flat=True))
    assert with_plans == ({suspended.pk, submitted.pk} if approve else {suspended.pk})
    assert draft.pk not in with_plans and retired.pk not in with_plans


def test_it_covers_every_environment_but_those_without_a_base_url_and_keeps_existing_plans():
    api = ApiFactory(submittable=True, approved=True)
    staging = EnvironmentFactory(api=api, name="staging")
    # The service refuses an environment without a base URL; a row written otherwise gets no plan.
    nowhere = EnvironmentFactory(api=api, name="nowhere")
    Environment.objects.filter(pk=nowhere.pk).update(base_urls=[])
    own = TestPlanFactory(environment=EnvironmentFactory(api=api, name="qa"), enabled=False, checks=["tls"])
    assert plans_ensure_default() == 2
    assert set(TestPlan.objects.values_list("environment__name", flat=True)) == {
        "production",
        "staging",
        "qa",
    }
    own.refresh_from_db()
    assert (own.enabled, own.checks) == (False, ["tls"])  # a person's plan is theirs
    assert plans_ensure_default() == 0  # idempotent
    assert TestPlan.objects.get(environment=staging).next_run_at is not None


def test_it_is_bounded_per_call_and_catches_up_at_the_next():
    apis = [ApiFactory(submittable=True, approved=True) for _ in range(3)]
    assert plans_ensure_default(limit=2) == 2
    assert plans_ensure_default(limit=2) == 1
    assert TestPlan.objects.filter(api__in=apis).count() == 3


def test_a_plan_saved_meanwhile_does_not_fail_the_batch(monkeypatch):
    # Someone saves a plan for one of the environments between the sweep's read and its insert.
    first, second = (ApiFactory(submittable=True, approved=True) for _ in range(2))
    from testing.services import plans

    real_default_checks = plans.default_checks
    saved: list[bool] = []

    def meanwhile() -> list[str]:
        if not saved:
            saved.append(True)
            TestPlanFactory(environment=first.environments.get(), checks=["tls"])
        return real_default_checks()

    monkeypatch.setattr(plans, "default_checks", meanwhile)
    assert plans_ensure_default() == 1
    assert TestPlan.objects.get(api=first).checks == ["tls"]
    assert TestPlan.objects.get(api=second).checks != ["tls"]
    assert AuditEvent.objects.filter(action="testing.plan_default").count() == 1


def test_status_changes_after_a_plan_exists_do_not_add_another():
    api = ApiFactory(submittable=True, approved=True)
    plans_ensure_default()
    Api.objects.filter(pk=api.pk).update(status=ApiStatus.REREVIEW)
    assert plans_ensure_default() == 0
    assert TestPlan.objects.filter(api=api).count() == 1
