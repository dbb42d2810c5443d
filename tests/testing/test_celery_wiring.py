"""The scheduler's wiring: beat sends the sweep every minute, a worker runs it, the sweep's runs go
to the broker; the schedule entries themselves; and the sweep task is the service.

The slow test starts a real worker and a real beat (``celery … worker`` / ``beat`` on the configured
broker: the filesystem transport in development, Redis in CI) on a queue of their own, so a
developer's ``make run`` worker cannot take the test's tasks, and against the test database. Beat
would first send a 60-second entry a minute after it starts; the test hands it a schedule file in
which the sweep last ran two minutes ago, so it is due at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from celery.beat import PersistentScheduler
from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone

from inventory.models import Api, ApiStatus
from portal.celery import app
from testing.models import FINISHED_RUN_STATUSES, RunStatus, RunTrigger, TestRun
from testing.services.runs import slot_for
from tests.portal.test_celery_worker import forget_queue, test_database_url
from tests.testing.factories import TestPlanFactory
from tests.testing.servers import RawServer, respond
from tests.testing.wiring_check import WIRING_PATH, WiringCheck

SWEEP_ENTRY = "testing-sweep-plans"
# The worker and beat: the portal's Celery app with the test's queue as the default one (the sweep
# and the runs it sends land there), and the test check registered in the worker.
RUNNER = (
    "import os, sys\n"
    "from portal.celery import app\n"
    "from testing.engines.checks.base import register\n"
    "from tests.testing.wiring_check import WiringCheck\n"
    "app.conf.task_default_queue = os.environ['PORTAL_TEST_QUEUE']\n"
    "register(WiringCheck)\n"
    "app.start(sys.argv[1:])\n"
)

pytest_plugins = ["tests.testing.sent_tasks"]  # the sent_tasks fixture


def registered_tasks() -> set[str]:
    """The tasks a worker of this app knows: the apps' tasks modules found as the worker finds them."""
    app.loader.import_default_modules()
    return set(app.tasks)


def test_beat_sends_the_sweep_every_minute_and_expires_a_late_one():
    entry = app.conf.beat_schedule[SWEEP_ENTRY]
    assert entry["task"] == "testing.tasks.sweep_plans"
    assert entry["schedule"] == 60.0
    assert 0 < entry["options"]["expires"] < 60


def test_beat_expires_risk_acceptances_daily():
    entry = app.conf.beat_schedule["testing-expire-risk-acceptances"]
    assert entry["task"] == "testing.tasks.expire_risk_acceptances"
    assert isinstance(entry["schedule"], crontab)
    now = timezone.now()
    assert entry["schedule"].remaining_estimate(now) <= timedelta(days=1)


@pytest.mark.django_db
def test_the_sweep_task_is_registered_and_runs_the_sweep(sent_tasks, django_capture_on_commit_callbacks):
    plan = TestPlanFactory(next_run_at=timezone.now() - timedelta(minutes=1))
    Api.objects.filter(pk=plan.api_id).update(status=ApiStatus.APPROVED)
    assert "testing.tasks.sweep_plans" in registered_tasks()
    task = app.tasks["testing.tasks.sweep_plans"]
    with django_capture_on_commit_callbacks(execute=True):
        assert task.apply().get() == 1
    run = TestRun.objects.get(plan=plan)
    assert sent_tasks.run_ids() == [run.pk]


def prepare_beat_schedule(path: Path) -> None:
    """A beat schedule file in which the sweep last ran two minutes ago (the others just now)."""
    scheduler = PersistentScheduler(app=app, schedule_filename=str(path))
    try:
        scheduler.schedule[SWEEP_ENTRY].last_run_at = scheduler.app.now() - timedelta(minutes=2)
        scheduler.sync()
    finally:
        scheduler.close()


@pytest.fixture
def start_worker_and_beat(tmp_path: Path) -> Iterator[Callable[[], dict[str, Path]]]:
    """start() → the log file of each: a worker and beat on a queue of their own, stopped (the
    process group of each, by its id) at the end of the test."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = dict(os.environ)
    env.update(
        DATABASE_URL=test_database_url(), PORTAL_VAR_DIR=str(settings.VAR_DIR), PORTAL_TEST_QUEUE=queue
    )
    schedule_file = tmp_path / "celerybeat-schedule"
    prepare_beat_schedule(schedule_file)
    commands = {
        "worker": [
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "2",
            "--queues",
            queue,
            "--hostname",
            f"{queue}@%h",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
        ],
        "beat": ["beat", "--schedule", str(schedule_file), "--loglevel", "INFO"],
    }
    processes: list[subprocess.Popen] = []
    logs = {name: tmp_path / f"{name}.log" for name in commands}

    def start() -> dict[str, Path]:
        for name, argv in commands.items():
            with logs[name].open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-c", RUNNER, *argv],
                        cwd=settings.BASE_DIR,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # its own process group, killed whole below
                    )
                )
        return logs

    try:
        yield start
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for process in processes:
            process.wait(timeout=30)
        forget_queue(queue)


def _wait_for(condition, timeout: float, logs: dict[str, Path]):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    shown = "\n".join(
        f"--- {name} ---\n{path.read_text(errors='replace')[-4000:]}" for name, path in logs.items()
    )
    raise AssertionError(f"timed out after {timeout:.0f} s\n{shown}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_beat_and_a_worker_start_a_due_plan(start_worker_and_beat):
    with RawServer(
        lambda conn, request: respond(conn, 200, b"{}", [("Content-Type", "application/json")])
    ) as server:
        plan = TestPlanFactory(
            environment__base_urls=[server.url("/")],
            checks=[WiringCheck.key],
            next_run_at=timezone.now() - timedelta(minutes=5),
        )
        Api.objects.filter(pk=plan.api_id).update(status=ApiStatus.APPROVED)
        due, base_url = plan.next_run_at, plan.environment.base_urls[0]
        logs = start_worker_and_beat()  # after the plan is committed: the first sweep must see it

        run = _wait_for(lambda: TestRun.objects.filter(plan=plan).first(), 60, logs)
        assert (run.trigger, run.slot) == (RunTrigger.SCHEDULE, slot_for(due))
        assert run.base_url == base_url
        plan.refresh_from_db()
        assert plan.next_run_at > timezone.now()

        if "testing.tasks.run_plan" in registered_tasks():
            # With the run task merged: the worker took the run the sweep sent and ran the check.
            run = _wait_for(
                lambda: TestRun.objects.filter(pk=run.pk, status__in=FINISHED_RUN_STATUSES).first(), 30, logs
            )
            assert run.status == RunStatus.PASSED, run.reason
            assert run.results.filter(check_key=WiringCheck.key).exists()
            assert any(request.path == WIRING_PATH for request in server.requests)
        else:
            # Until then the worker refuses the task by name, which proves the sweep's message
            # reached the queue the worker reads.
            assert run.status == RunStatus.QUEUED
            _wait_for(
                lambda: "testing.tasks.run_plan" in logs["worker"].read_text(errors="replace"), 30, logs
            )
