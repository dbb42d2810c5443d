"""The Celery wiring, end to end: a real worker process, the configured broker, results in the database.

The worker gets its own queue name, so another worker on the same broker (a developer's
``make run``) can never take the test's task, and it is pointed at the test database, since the
``django-db`` result backend writes the result from the worker's side.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django_celery_results.models import TaskResult

from portal.celery import app
from portal.tasks import echo


def test_database_url() -> str:
    """A DATABASE_URL naming the database this test runs against (the test database)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    assert db["ENGINE"] == "django.db.backends.postgresql", db["ENGINE"]
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "localhost"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"


test_database_url.__test__ = False  # a helper, not a test


def forget_queue(queue: str) -> None:
    """Remove the one-off queue's binding from the broker, so test runs leave no litter behind."""
    with contextlib.suppress(Exception), app.connection_for_write() as conn:
        conn.default_channel.queue_delete(queue)
    options = app.conf.broker_transport_options or {}
    if "control_folder" in options:
        (Path(options["control_folder"]) / f"{queue}.exchange").unlink(missing_ok=True)


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = dict(os.environ)
    # Same broker folder (filesystem transport) or the same CELERY_BROKER_URL; the test database.
    env.update(DATABASE_URL=test_database_url(), PORTAL_VAR_DIR=str(settings.VAR_DIR))
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                "1",
                "--queues",
                queue,
                "--hostname",
                f"{queue}@%h",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "INFO",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield queue, log_path
    finally:
        # Cold shutdown of the whole group: the test must not leave a worker behind, ever.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        forget_queue(queue)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_runs_a_task_on_a_real_worker_and_stores_the_result(worker):
    queue, log_path = worker

    result = echo.apply_async(args=["round trip ✓"], queue=queue)
    try:
        value = result.get(timeout=90, interval=0.2)
    except Exception as exc:
        raise AssertionError(f"no result from the worker:\n{log_path.read_text(errors='replace')}") from exc

    assert value == "round trip ✓"
    stored = TaskResult.objects.get(task_id=result.id)
    assert stored.status == "SUCCESS"
    assert stored.task_name == "portal.tasks.echo"
    assert json.loads(stored.result) == "round trip ✓"
    assert stored.worker.startswith(queue)


def test_celery_is_configured_for_safe_redelivery():
    conf = app.conf
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.result_backend == "django-db"
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.enable_utc is True
    assert conf.timezone == "UTC"
    if not conf.broker_url.startswith("filesystem://"):
        assert conf.broker_transport_options["visibility_timeout"] >= 2 * conf.task_time_limit


def test_redis_visibility_timeout_outlasts_twice_the_hard_limit():
    # Whatever broker this run uses, check what the settings give a Redis deployment.
    env = dict(os.environ, CELERY_BROKER_URL="redis://127.0.0.1:6379/0", CELERY_HARD_TIME_LIMIT="900")
    env["CELERY_SOFT_TIME_LIMIT"] = "800"
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.CELERY_TASK_TIME_LIMIT, s.CELERY_BROKER_TRANSPORT_OPTIONS]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "portal.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    hard_limit, options = json.loads(out.strip().splitlines()[-1])
    assert hard_limit == 900
    assert options["visibility_timeout"] >= 2 * 900
