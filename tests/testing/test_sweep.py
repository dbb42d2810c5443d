"""The beat sweep: each due plan runs once for its slot, missed slots are skipped, downtime gives a
skipped run, runs go to the broker after the commit, and overlapping sweeps never double a run."""

from __future__ import annotations

import threading
import time as clock
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection, connections, transaction

from inventory.models import Api, ApiStatus
from testing.models import RunStatus, RunTrigger, TestPlan, TestRun
from testing.services import schedule
from testing.services.runs import DOWNTIME_REASON, RUN_TASK
from testing.services.schedule import next_slot, plans_sweep
from tests.factories import AvailabilityWindowFactory, EnvironmentFactory
from tests.testing.factories import TestPlanFactory, TestRunFactory

NOW = datetime(2030, 1, 7, 13, 5, 20, tzinfo=UTC)  # a Monday
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks (SKIP LOCKED) exist on PostgreSQL only"
)

pytest_plugins = ["tests.testing.sent_tasks"]  # the sent_tasks fixture


def due_plan(*, status: str = ApiStatus.APPROVED, **fields) -> TestPlan:  # noqa: ANN003
    fields.setdefault("next_run_at", datetime(2030, 1, 7, 10, 0, tzinfo=UTC))
    fields.setdefault("interval_minutes", 60)
    plan = TestPlanFactory(**fields)
    Api.objects.filter(pk=plan.api_id).update(status=status)
    return plan


def sweep(**kwargs) -> int:  # noqa: ANN003
    # Only the plans a test makes: no default plans get in the way (their own tests are elsewhere).
    return plans_sweep(now=kwargs.pop("now", NOW), **kwargs)


@pytest.mark.django_db
def test_it_runs_an_overdue_plan_once_for_its_slot_and_moves_it_past_now(
    sent_tasks,
    django_capture_on_commit_callbacks,
):
    plan = due_plan(checks=["tls"])  # hourly, due 10:00, now 13:05: three slots missed
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep() == 1
    run = TestRun.objects.get(plan=plan)
    assert (run.slot, run.trigger, run.status) == ("2030-01-07T10:00Z", RunTrigger.SCHEDULE, RunStatus.QUEUED)
    assert (run.checks, run.base_url, run.api_id) == (["tls"], plan.environment.base_urls[0], plan.api_id)
    plan.refresh_from_db()
    assert plan.next_run_at == datetime(2030, 1, 7, 14, 0, tzinfo=UTC)  # on the grid, after now
    assert sent_tasks.drain() == [(RUN_TASK, [run.pk])]
    # A second sweep in the same minute finds nothing due.
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep() == 0
    assert sent_tasks.drain() == [] and TestRun.objects.count() == 1


@pytest.mark.django_db
def test_it_sends_nothing_before_the_commit(sent_tasks, django_capture_on_commit_callbacks):
    due_plan()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sweep()
    assert len(callbacks) == 1 and sent_tasks.drain() == []


@pytest.mark.django_db
def test_it_leaves_plans_not_due_and_disabled_plans_alone(
    sent_tasks,
    django_capture_on_commit_callbacks,
):
    later = due_plan(next_run_at=NOW + timedelta(minutes=1))
    off = due_plan(enabled=False)
    never = due_plan(next_run_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep() == 0
    assert not TestRun.objects.exists() and sent_tasks.drain() == []
    for plan, expected in ((later, later.next_run_at), (off, off.next_run_at), (never, None)):
        plan.refresh_from_db()
        assert plan.next_run_at == expected


@pytest.mark.django_db
def test_a_cron_plan_runs_next_at_its_first_time_after_now(django_capture_on_commit_callbacks, sent_tasks):
    # 03:00 Berlin on weekdays; due last Friday, swept on Monday 14:05 Berlin: next is Tuesday 03:00.
    plan = due_plan(
        schedule_kind="cron",
        cron="0 3 * * 1-5",
        timezone="Europe/Berlin",
        next_run_at=datetime(2030, 1, 4, 2, 0, tzinfo=UTC),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep() == 1
    plan.refresh_from_db()
    assert plan.next_run_at == datetime(2030, 1, 8, 2, 0, tzinfo=UTC)
    assert TestRun.objects.get(plan=plan).slot == "2030-01-04T02:00Z"


@pytest.mark.django_db
def test_inside_downtime_it_records_a_skipped_run_and_sends_nothing(
    sent_tasks,
    django_capture_on_commit_callbacks,
):
    down = due_plan()
    AvailabilityWindowFactory(api=down.api, weekdays=[0], start_time=time(13, 0), end_time=time(14, 0))
    other_env = EnvironmentFactory(api=down.api, name="staging")
    AvailabilityWindowFactory(api=down.api, environment=other_env, weekdays=[0])  # Monday 01:00–02:00 only
    TestPlanFactory(environment=other_env, enabled=False)  # switched off, so no default plan either
    up = due_plan()
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep() == 2
    skipped = TestRun.objects.get(plan=down)
    assert (skipped.status, skipped.reason, skipped.finished_at) == (RunStatus.SKIPPED, DOWNTIME_REASON, NOW)
    queued = TestRun.objects.get(plan=up)
    assert sent_tasks.run_ids() == [queued.pk]
    down.refresh_from_db()
    assert down.next_run_at == datetime(2030, 1, 7, 14, 0, tzinfo=UTC)  # moved on all the same


@pytest.mark.django_db
def test_a_window_of_another_environment_does_not_skip_the_plan(
    django_capture_on_commit_callbacks, sent_tasks
):
    plan = due_plan()
    staging = EnvironmentFactory(api=plan.api, name="staging")
    AvailabilityWindowFactory(
        api=plan.api, environment=staging, weekdays=[0], start_time=time(13, 0), end_time=time(14, 0)
    )
    with django_capture_on_commit_callbacks(execute=True):
        sweep()
    assert TestRun.objects.get(plan=plan).status == RunStatus.QUEUED


@pytest.mark.django_db
@pytest.mark.parametrize("status", [ApiStatus.DRAFT, ApiStatus.SUBMITTED, ApiStatus.RETIRED])
def test_a_plan_of_an_api_not_in_use_moves_on_without_a_run(
    status, django_capture_on_commit_callbacks, sent_tasks
):
    plan = due_plan(status=status)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep() == 0
    assert not TestRun.objects.exists() and sent_tasks.drain() == []
    plan.refresh_from_db()
    assert plan.next_run_at == datetime(2030, 1, 7, 14, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_it_claims_in_batches_until_nothing_is_due(django_capture_on_commit_callbacks, sent_tasks):
    plans = [due_plan() for _ in range(7)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert sweep(limit=3) == 7
    assert len(callbacks) == 3  # one send per batch: 3 + 3 + 1
    assert sorted(sent_tasks.run_ids()) == sorted(TestRun.objects.values_list("pk", flat=True))
    assert set(TestRun.objects.values_list("plan_id", flat=True)) == {p.pk for p in plans}
    assert not TestPlan.objects.filter(next_run_at__lte=NOW).exists()
    with pytest.raises(ValueError):
        sweep(limit=0)  # would never finish


@pytest.mark.django_db
@pytest.mark.django_db
def test_a_failure_making_default_plans_does_not_stop_the_schedule(
    monkeypatch, django_capture_on_commit_callbacks, sent_tasks
):
    plan = due_plan()

    def broken(**kwargs):  # noqa: ANN003
        raise RuntimeError("audit chain locked")

    monkeypatch.setattr(schedule, "plans_ensure_default", broken)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep() == 1
    assert sent_tasks.run_ids() == [TestRun.objects.get(plan=plan).pk]


@pytest.mark.django_db
def test_a_slot_that_already_has_its_run_is_not_run_again(django_capture_on_commit_callbacks, sent_tasks):
    plan = due_plan()
    existing = TestRunFactory(plan=plan, slot="2030-01-07T10:00Z", status=RunStatus.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep() == 0
    assert list(TestRun.objects.values_list("pk", flat=True)) == [existing.pk]
    assert sent_tasks.drain() == []
    plan.refresh_from_db()
    assert plan.next_run_at > NOW


@pytest.mark.django_db
def test_a_schedule_that_cannot_fire_leaves_the_schedule_without_stopping_the_sweep(
    django_capture_on_commit_callbacks,
    sent_tasks,
):
    broken = due_plan(schedule_kind="cron", cron="0 0 31 2 *")  # never: February has no 31st
    fine = due_plan()
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep() == 2
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert broken.next_run_at is None and fine.next_run_at > NOW


def test_next_slot_counts_intervals_from_the_due_time():
    due = datetime(2030, 1, 7, 10, 0, tzinfo=UTC)
    slot = dict(kind="interval", interval_minutes=60, cron="", tz="UTC", due=due)
    assert next_slot(**slot, now=due) == due + timedelta(hours=1)
    assert next_slot(**slot, now=due + timedelta(hours=3)) == due + timedelta(hours=4)
    assert next_slot(**slot, now=due + timedelta(hours=2, minutes=59)) == due + timedelta(hours=3)
    assert next_slot(**slot, now=due - timedelta(minutes=1)) == due + timedelta(hours=1)
    # A year overdue on a 5-minute schedule is arithmetic, not 100,000 steps.
    started = clock.process_time()
    far = next_slot(**{**slot, "interval_minutes": 5}, now=due + timedelta(days=365, seconds=1))
    assert far == due + timedelta(days=365, minutes=5) and clock.process_time() - started < 0.05


# --- Two sweeps at once (PostgreSQL: real row locks, separate connections) ---------------------------


def _in_thread(target, results: list, errors: list) -> threading.Thread:  # noqa: ANN001
    def run() -> None:
        try:
            results.append(target())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    return threading.Thread(target=run, daemon=True)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_run_each_plan_once(sent_tasks):
    plans = [due_plan() for _ in range(60)]
    start = threading.Barrier(3)
    results: list[int] = []
    errors: list[BaseException] = []

    def one_sweep() -> int:
        start.wait(timeout=10)
        return plans_sweep(now=NOW, limit=4)

    threads = [_in_thread(one_sweep, results, errors) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(results) == 3
    assert sum(results) == 60  # each run counted by the one sweep that made it
    runs = list(TestRun.objects.values_list("plan_id", flat=True))
    assert sorted(runs) == sorted(p.pk for p in plans)
    assert sorted(sent_tasks.run_ids()) == sorted(TestRun.objects.values_list("pk", flat=True))


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_sweep_skips_plans_another_sweep_holds_instead_of_waiting(sent_tasks):
    held, free = due_plan(), due_plan()
    results: list[int] = []
    errors: list[BaseException] = []
    release = threading.Event()
    locked = threading.Event()

    def slow_sweep() -> None:  # holds one plan's row as a sweep in the middle of its batch would
        with transaction.atomic():
            list(TestPlan.objects.select_for_update().filter(pk=held.pk))
            locked.set()
            release.wait(timeout=30)

    holder = _in_thread(slow_sweep, [], errors)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        sweeper = _in_thread(lambda: plans_sweep(now=NOW), results, errors)
        sweeper.start()
        sweeper.join(timeout=10)
        assert not sweeper.is_alive(), "the sweep waited for a plan another transaction holds"
        assert errors == [] and results == [1]
        assert list(TestRun.objects.values_list("plan_id", flat=True)) == [free.pk]
    finally:
        release.set()
        holder.join(timeout=30)
    # Released, it is due still, and the next sweep runs it.
    assert plans_sweep(now=NOW) == 1
    assert TestRun.objects.filter(plan=held).count() == 1
