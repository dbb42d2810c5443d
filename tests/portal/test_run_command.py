"""``manage.py run_portal``: the supervisor stops everything it started, and fails loudly.

The Supervisor tests use tiny stand-in children; the end-to-end tests start the real command
(gunicorn + Celery worker + beat) on SQLite and the filesystem broker in a private folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from portal.management.commands import run_portal
from portal.management.commands.run_portal import Child, Supervisor, portal_children

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

PY = sys.executable


def live_processes(*, pgid: int | None = None, marker: str | None = None) -> list[int]:
    """Pids of non-zombie processes in a process group, or carrying ``marker`` in their environment."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # Fields after the ")" that closes the command name: state, ppid, pgrp, ...
            state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
            if state in ("Z", "X"):
                continue
            in_group = pgid is not None and int(pgrp) == pgid
            if in_group or (marker is not None and marker.encode() in (entry / "environ").read_bytes()):
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue  # the process went away while we looked
    return found


def python_child(name: str, code: str) -> Child:
    return Child(name, [PY, "-c", code])


def quiet_supervisor(children: list[Child], **kwargs: Any) -> Supervisor:
    return Supervisor(children, poll_interval=0.05, log=lambda message: None, **kwargs)


def test_it_stops_the_others_and_fails_when_a_child_dies():
    sleeper = python_child("sleeper", "import time; time.sleep(60)")
    dying = python_child("dying", "import sys, time; time.sleep(0.5); sys.exit(3)")
    supervisor = quiet_supervisor([sleeper, dying], stop_timeout=5)

    started = time.monotonic()
    code = supervisor.run()

    assert code == 3
    assert sleeper.poll() is not None
    assert live_processes(pgid=sleeper.pid) == []
    assert time.monotonic() - started < 10


def test_it_fails_even_when_the_dead_child_exited_zero():
    supervisor = quiet_supervisor(
        [python_child("sleeper", "import time; time.sleep(60)"), python_child("quitter", "pass")]
    )
    assert supervisor.run() == 1


def test_it_returns_zero_after_a_requested_stop():
    children = [python_child(f"sleeper{i}", "import time; time.sleep(60)") for i in range(3)]
    supervisor = quiet_supervisor(children, stop_timeout=5)
    threading.Timer(0.5, supervisor.request_stop).start()

    assert supervisor.run() == 0
    assert all(child.poll() is not None for child in children)


def test_it_kills_a_child_that_ignores_sigterm():
    stubborn = python_child(
        "stubborn", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    )
    supervisor = quiet_supervisor([stubborn], stop_timeout=1)
    threading.Timer(0.5, supervisor.request_stop).start()

    started = time.monotonic()
    assert supervisor.run() == 0
    assert stubborn.poll() == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_it_leaves_no_grandchildren_behind():
    # The shell exits on SIGTERM, but the sleeps it started would survive without killpg().
    family = Child("family", ["sh", "-c", "sleep 60 & sleep 60 & wait"])
    supervisor = quiet_supervisor([family], stop_timeout=2)
    threading.Timer(0.5, supervisor.request_stop).start()

    supervisor.run()

    deadline = time.monotonic() + 5
    while live_processes(pgid=family.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert live_processes(pgid=family.pid) == []


def test_each_child_gets_its_own_process_group():
    child = python_child("sleeper", "import time; time.sleep(60)")
    supervisor = quiet_supervisor([child], stop_timeout=2)
    try:
        supervisor.start()
        assert os.getpgid(child.pid) == child.pid != os.getpgid(0)
    finally:
        supervisor.stop()


# --- The web server's command line ---------------------------------------------------------------


def web_argv() -> list[str]:
    children = portal_children(bind="127.0.0.1:8000", web_workers=1, worker_concurrency=1, loglevel="INFO")
    return list(next(child for child in children if child.name == "web").argv)


def flag_value(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


def test_each_portal_gets_its_own_gunicorn_control_socket(settings, tmp_path):  # noqa: ANN001
    # gunicorn's default is one socket per user: two portals on one host would share it.
    settings.VAR_DIR = tmp_path / "first"
    first = flag_value(web_argv(), "--control-socket")
    settings.VAR_DIR = tmp_path / "second"
    second = flag_value(web_argv(), "--control-socket")

    assert first == str(tmp_path / "first" / "gunicorn.ctl")
    assert second == str(tmp_path / "second" / "gunicorn.ctl")


def test_it_turns_the_control_socket_off_where_its_path_would_be_too_long(settings, tmp_path):  # noqa: ANN001
    settings.VAR_DIR = tmp_path / ("v" * 120)
    argv = web_argv()
    assert "--no-control-socket" in argv
    assert "--control-socket" not in argv


def test_it_passes_no_control_socket_flag_to_a_gunicorn_without_one(monkeypatch):  # noqa: ANN001
    monkeypatch.setattr(run_portal, "_gunicorn_settings", lambda: {"bind", "workers"})
    assert not [arg for arg in web_argv() if "control-socket" in arg]


def test_it_passes_only_flags_the_installed_gunicorn_knows():
    from gunicorn.config import KNOWN_SETTINGS

    known = {flag for setting in KNOWN_SETTINGS for flag in setting.cli or []}
    flags = [arg for arg in web_argv() if arg.startswith("--")]
    assert "--control-socket" in flags
    assert set(flags) <= known, set(flags) - known


# --- The real command -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 -- loopback URL we built
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def portal_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Shared by the tests below, so only the first one pays for the migrations.
    return tmp_path_factory.mktemp("run-portal-var")


class RunningPortal:
    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.port = free_port()
        self.marker = f"PORTAL_TEST_RUN={uuid.uuid4().hex}"
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "PORTAL_ENV", "PORT"}
        }
        env.update(
            dict([self.marker.split("=", 1)]),
            PORTAL_VAR_DIR=str(var_dir),
            PORT=str(self.port),
            LOG_LEVEL="WARNING",
        )
        self.log_path = var_dir / f"run-portal-{self.port}.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [PY, "manage.py", "run_portal", "--no-demo", "--web-workers", "1", "--worker-concurrency", "1"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def wait_healthy(self, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"run_portal exited early:\n{self.output()}"
            try:
                status, body = http_get(f"{self.url}/healthz")
                if status == 200:
                    return json.loads(body)
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"run_portal never became healthy:\n{self.output()}")

    def leftovers(self) -> list[int]:
        return live_processes(marker=self.marker)

    def cleanup(self) -> None:
        # Whatever happened in the test, nothing it started may outlive it.
        for pid in self.leftovers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
def running_portal(portal_var_dir: Path) -> Iterator[RunningPortal]:
    portal = RunningPortal(portal_var_dir)
    yield portal
    portal.cleanup()


@pytest.mark.slow
def test_it_serves_and_stops_cleanly_on_sigterm(running_portal):
    health = running_portal.wait_healthy()
    assert health["database"] == "ok"
    assert health["broker"] == "ok"
    status, _ = http_get(f"{running_portal.url}/accounts/login/")
    assert status == 200
    assert len(running_portal.leftovers()) >= 4  # the command, gunicorn, the worker, beat
    control_socket = running_portal.var_dir / "gunicorn.ctl"
    deadline = time.monotonic() + 10
    while not control_socket.is_socket() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert control_socket.is_socket(), "gunicorn's control socket is not in the portal's var folder"

    running_portal.process.send_signal(signal.SIGTERM)
    code = running_portal.process.wait(timeout=60)

    assert code == 0, running_portal.output()
    assert "All processes stopped." in running_portal.output()
    assert running_portal.leftovers() == []


@pytest.mark.slow
def test_it_stops_everything_and_fails_when_the_web_server_dies(running_portal):
    running_portal.wait_healthy()
    gunicorn = [
        pid
        for pid in running_portal.leftovers()
        if b"gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes() and os.getpgid(pid) == pid
    ]
    assert len(gunicorn) == 1

    os.kill(gunicorn[0], signal.SIGKILL)
    code = running_portal.process.wait(timeout=60)

    assert code != 0
    assert "web exited unexpectedly" in running_portal.output()
    deadline = time.monotonic() + 5
    while running_portal.leftovers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert running_portal.leftovers() == []


def test_the_demo_serves_the_flawed_target_and_production_never_does(settings):  # noqa: ANN001
    settings.DEMO_TARGET_PORT = 8799
    with_demo = portal_children(
        bind="127.0.0.1:8000", web_workers=1, worker_concurrency=1, loglevel="INFO", demo_target=True
    )
    demo = next(child for child in with_demo if child.name == "demo-target")
    assert demo.argv[2:] == ["demo_target", "--port", "8799"]
    without = portal_children(bind="127.0.0.1:8000", web_workers=1, worker_concurrency=1, loglevel="INFO")
    assert "demo-target" not in [child.name for child in without]
