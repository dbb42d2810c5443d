"""A worker killed with SIGKILL in the middle of a run: the run is delivered again to a new worker,
claimed again once the dead worker's claim has lapsed, and completes once (one set of results).

Real processes: Celery workers on Redis (a database of this test's own, with a short visibility
timeout so the unacknowledged task comes back in seconds, not the production 2 × hard limit), the
test database, and a local API whose /hold endpoint holds the connection until told to answer.
"""

# ruff: noqa: F811 - pytest fixtures imported from checks_for_tests are redefined as arguments
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from portal.audit import Actor
from portal.models import Role
from testing.models import CheckResult, RunStatus, TestRun
from testing.services.plans import plan_save
from tests.factories import ApiFactory
from tests.portal.test_celery_worker import test_database_url
from tests.testing.checks_for_tests import local_api, registered_checks  # noqa: F401 - fixtures
from tests.testing.factories import TestRunFactory, reviewed_environment

BROKER = "redis://127.0.0.1:6379/13"
HARD_LIMIT = 8  # seconds: also how long a claim holds

WORKER = """
import os, sys
import django
django.setup()
from testing.engines.checks import base
from tests.testing.checks_for_tests import Holds
base.REGISTRY[Holds.key] = Holds  # the test's blocking check, inherited by the forked pool child
from portal.celery import app
app.conf.broker_transport_options = {
    "visibility_timeout": 3, "unacked_restore_interval": 1, "unacked_restore_throttle": 1,
}
queue = sys.argv[1]
app.worker_main(["worker", "--pool", "prefork", "--concurrency", "1", "--queues", queue,
                 "--hostname", f"{queue}-{os.getpid()}@%h", "--without-mingle", "--without-gossip",
                 "--loglevel", "INFO"])
"""


def _redis_up() -> bool:
    import redis

    with contextlib.suppress(Exception):
        return bool(redis.Redis.from_url(BROKER, socket_timeout=2).ping())
    return False


class Workers:
    def __init__(self, queue: str, folder: Path) -> None:
        self.queue, self.folder, self.processes = queue, folder, []
        self.env = dict(os.environ)
        self.env.update(
            DATABASE_URL=test_database_url(),
            PORTAL_VAR_DIR=str(settings.VAR_DIR),
            DJANGO_SETTINGS_MODULE="portal.settings",
            CELERY_BROKER_URL=BROKER,
            CELERY_HARD_TIME_LIMIT=str(HARD_LIMIT),
            CELERY_SOFT_TIME_LIMIT=str(HARD_LIMIT - 2),
            SCANNER_TIMEOUT_SECONDS="20",  # longer than the hold: the kill, not a timeout, ends it
            SCANNER_PER_HOST_RATE="0",
        )

    def start(self) -> subprocess.Popen:
        log = (self.folder / f"worker-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-c", WORKER, self.queue],
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-3000:] for p in sorted(self.folder.glob("worker-*.log"))
        )


@pytest.fixture
def workers(tmp_path):
    if not _redis_up():
        pytest.skip("needs Redis on 127.0.0.1:6379")
    import redis

    client = redis.Redis.from_url(BROKER)
    client.flushdb()  # database 13 is this test's own
    pool = Workers(f"sigkill-{uuid.uuid4().hex[:10]}", tmp_path)
    try:
        yield pool
    finally:
        for process in pool.processes:
            pool.kill(process)
        client.flushdb()


def _wait_for(condition, seconds: float, what: str, workers: Workers) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds}s\n{workers.logs()}")
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("registered_checks")
def test_a_run_whose_worker_is_killed_is_redelivered_and_completes_once(
    org, make_member, local_api, workers, monkeypatch
):
    from celery import Celery

    # Celery prefers these variables to the broker an app is given (CI exports the first): the
    # sender must publish where the workers listen.
    for name in ("CELERY_BROKER_URL", "CELERY_BROKER_READ_URL", "CELERY_BROKER_WRITE_URL"):
        monkeypatch.delenv(name, raising=False)

    engineer = make_member(Role.SECURITY_ENGINEER, org.root, "erin")
    api = ApiFactory(org_unit=org.team, slug="held", submittable=True, approved=True)
    env = reviewed_environment(api, name="staging", base_urls=[local_api.url])
    plan = plan_save(
        actor=Actor(user=engineer),
        api=api,
        environment=env,
        checks=["t_holds"],
        schedule_kind="interval",
        interval_minutes=60,
        cron="",
        timezone="UTC",
        intrusive_allowed=False,
        production_opt_in=False,
        latency_tolerance="0.5",
        enabled=True,
    )
    run = TestRunFactory(
        plan=plan, status=RunStatus.QUEUED, started_at=None, finished_at=None, base_url=local_api.url
    )

    first = workers.start()
    sender = Celery(broker=BROKER)
    sender.send_task("testing.tasks.run_plan", args=[run.pk], queue=workers.queue)
    try:
        _wait_for(lambda: local_api.held.is_set(), 45, "the first worker reaching /hold", workers)
        run.refresh_from_db()
        assert (run.status, run.attempts) == (RunStatus.RUNNING, 1)

        workers.kill(first)  # mid-run: no result, no acknowledgement
        local_api.release.set()  # from now on /hold answers at once
        workers.start()

        def finished() -> bool:
            run.refresh_from_db()
            return run.status not in (RunStatus.QUEUED, RunStatus.RUNNING)

        _wait_for(finished, 60, "the run finishing on the second worker", workers)
    finally:
        sender.close()

    assert (run.status, run.attempts, run.reason) == (RunStatus.PASSED, 2, ""), workers.logs()
    assert list(CheckResult.objects.filter(run=run).values_list("check_key", "outcome")) == [
        ("t_holds", "pass")
    ]
    assert TestRun.objects.count() == 1
