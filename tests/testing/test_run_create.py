"""run_create: one run per (plan, slot), skipped inside declared downtime, sent to a worker only
after the commit and only when new and queued; people's runs audited, the scheduler's not."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from portal.audit import Actor
from portal.models import AuditEvent
from testing.models import RunStatus, RunTrigger, TestRun
from testing.services.runs import DOWNTIME_REASON, RUN_TASK, run_create, slot_for
from tests.factories import ApiFactory, AvailabilityWindowFactory, EnvironmentFactory
from tests.testing.factories import TestPlanFactory

pytestmark = pytest.mark.django_db

SUNDAY_0130 = datetime(2030, 1, 6, 1, 30, tzinfo=UTC)  # inside the factory's Sunday 01:00–02:00 window
SUNDAY_0300 = datetime(2030, 1, 6, 3, 0, tzinfo=UTC)

pytest_plugins = ["tests.testing.sent_tasks"]  # the sent_tasks fixture


def test_slot_for_names_the_minute_in_utc():
    from zoneinfo import ZoneInfo

    assert (
        slot_for(datetime(2026, 12, 3, 18, 0, 59, 999, tzinfo=ZoneInfo("Europe/Berlin")))
        == "2026-12-03T17:00Z"
    )


def test_it_creates_a_queued_run_and_sends_it_after_the_commit(
    sent_tasks,
    django_capture_on_commit_callbacks,
    alice,
    org,
):
    plan = TestPlanFactory(
        checks=["tls", "error_hygiene"], environment=EnvironmentFactory(api=ApiFactory(org_unit=org.team))
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run, created = run_create(actor=Actor(user=alice), plan=plan, trigger=RunTrigger.MANUAL)
        assert sent_tasks.drain() == []  # nothing leaves before the commit
    assert created and len(callbacks) == 1
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and run.slot.startswith("manual:")
    assert run.base_url == plan.environment.base_urls[0]
    assert run.checks == ["tls", "error_hygiene"] and run.requested_by == alice and run.api_id == plan.api_id
    assert sent_tasks.drain() == [(RUN_TASK, [run.pk])]
    event = AuditEvent.objects.get(action="testing.run_requested")
    assert event.object_id == str(run.pk) and event.actor_id == alice.pk


def test_people_run_only_what_they_may_and_only_the_security_team_picks_the_server(alice, org, make_member):
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from portal.models import Role

    ours = TestPlanFactory(environment=EnvironmentFactory(api=ApiFactory(org_unit=org.team)))
    theirs = TestPlanFactory(environment=EnvironmentFactory(api=ApiFactory(org_unit=org.sibling)))
    with pytest.raises(Http404):
        run_create(actor=Actor(user=alice), plan=theirs, trigger=RunTrigger.MANUAL)
    with pytest.raises(PermissionDenied):
        run_create(
            actor=Actor(user=alice),
            plan=ours,
            trigger=RunTrigger.MANUAL,
            base_url="https://elsewhere.example",
        )
    engineer = make_member(Role.SECURITY_ENGINEER, org.root, "erin")
    run, created = run_create(
        actor=Actor(user=engineer), plan=ours, trigger=RunTrigger.MANUAL, base_url="https://elsewhere.example"
    )
    assert created and run.base_url == "https://elsewhere.example"
    assert TestRun.objects.count() == 1


def test_it_gives_each_manual_run_its_own_slot(sent_tasks, django_capture_on_commit_callbacks):
    plan = TestPlanFactory()
    with django_capture_on_commit_callbacks(execute=True):
        first, _ = run_create(actor=Actor.system("t"), plan=plan, trigger=RunTrigger.MANUAL)
        second, _ = run_create(actor=Actor.system("t"), plan=plan, trigger=RunTrigger.API)
    assert first.slot != second.slot
    assert sorted(sent_tasks.run_ids()) == sorted([first.pk, second.pk])


def test_it_returns_the_existing_run_of_a_slot_and_sends_nothing(
    sent_tasks,
    django_capture_on_commit_callbacks,
):
    plan = TestPlanFactory()
    slot = slot_for(SUNDAY_0300)
    with django_capture_on_commit_callbacks(execute=True):
        run, created = run_create(actor=Actor.system("t"), plan=plan, trigger=RunTrigger.SCHEDULE, slot=slot)
    assert created and sent_tasks.run_ids() == [run.pk]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again, created_again = run_create(
            actor=Actor.system("t"), plan=plan, trigger=RunTrigger.SCHEDULE, slot=slot
        )
    assert (again.pk, created_again, callbacks) == (run.pk, False, [])
    assert TestRun.objects.filter(plan=plan).count() == 1
    assert sent_tasks.drain() == []


def test_it_does_not_audit_the_schedulers_runs(django_capture_on_commit_callbacks, sent_tasks):
    plan = TestPlanFactory()
    with django_capture_on_commit_callbacks(execute=True):
        run_create(
            actor=Actor.system("scheduler"), plan=plan, trigger=RunTrigger.SCHEDULE, slot="2030-01-01T00:00Z"
        )
    assert not AuditEvent.objects.filter(action="testing.run_requested").exists()


def test_it_records_a_skipped_run_inside_downtime_and_sends_nothing(
    sent_tasks,
    django_capture_on_commit_callbacks,
):
    plan = TestPlanFactory()
    AvailabilityWindowFactory(api=plan.api)  # Sundays 01:00–02:00 UTC, every environment
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run, created = run_create(
            actor=Actor.system("t"), plan=plan, trigger=RunTrigger.SCHEDULE, slot="s", at=SUNDAY_0130
        )
    assert created and callbacks == []
    assert (run.status, run.reason, run.finished_at) == (RunStatus.SKIPPED, DOWNTIME_REASON, SUNDAY_0130)
    assert sent_tasks.drain() == []
    # Outside the window the same plan runs.
    with django_capture_on_commit_callbacks(execute=True):
        later, _ = run_create(
            actor=Actor.system("t"), plan=plan, trigger=RunTrigger.SCHEDULE, slot="t", at=SUNDAY_0300
        )
    assert later.status == RunStatus.QUEUED and sent_tasks.run_ids() == [later.pk]


def test_a_window_of_one_environment_does_not_skip_another(
    sent_tasks,
    django_capture_on_commit_callbacks,
):
    plan = TestPlanFactory()
    staging = EnvironmentFactory(api=plan.api, name="staging")
    AvailabilityWindowFactory(api=plan.api, environment=staging, start_time=time(1, 0), end_time=time(2, 0))
    with django_capture_on_commit_callbacks(execute=True):
        run, _ = run_create(
            actor=Actor.system("t"), plan=plan, trigger=RunTrigger.SCHEDULE, slot="s", at=SUNDAY_0130
        )
    assert run.status == RunStatus.QUEUED
    staging_plan = TestPlanFactory(environment=staging)
    with django_capture_on_commit_callbacks(execute=True):
        skipped, _ = run_create(
            actor=Actor.system("t"), plan=staging_plan, trigger=RunTrigger.SCHEDULE, slot="s", at=SUNDAY_0130
        )
    assert skipped.status == RunStatus.SKIPPED


def test_it_takes_the_base_url_and_checks_it_is_given(sent_tasks, django_capture_on_commit_callbacks):
    plan = TestPlanFactory(checks=["tls"])
    with django_capture_on_commit_callbacks(execute=True):
        run, _ = run_create(
            actor=Actor.system("t"),
            plan=plan,
            trigger=RunTrigger.CI,
            base_url="https://preview.example.com",
            checks=[],
        )
    assert (run.base_url, run.checks) == ("https://preview.example.com", [])
