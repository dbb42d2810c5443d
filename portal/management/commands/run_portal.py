"""Run the whole portal on one machine: web (gunicorn), a Celery worker and Celery beat.

This is what ``make run`` calls. It migrates, loads the demo data, then supervises the three
processes: each child gets its own process group, so Ctrl-C reaches only this command, which then
stops the children in order (SIGTERM, SIGKILL after a timeout) and waits for every one of them.
If any child dies on its own, the others are stopped and the command exits non-zero, so a broken
portal never looks half alive.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _parent_death_signal() -> Callable[[], None] | None:
    """A pre-exec hook giving the child SIGTERM if the supervisor itself is killed (Linux only).

    libc is loaded here, in the parent: the hook runs between fork and exec, where only the
    plainest calls are safe.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, env: dict[str, str] | None = None) -> None:
        # start_new_session: own session and process group, so a terminal's Ctrl-C does not hit the
        # children directly, and killpg() can later reach anything they spawned.
        self.process = subprocess.Popen(  # noqa: S603 -- argv built from our own settings, no shell
            list(self.argv), env=env, start_new_session=True, preexec_fn=_parent_death_signal()
        )

    def poll(self) -> int | None:
        return self.process.poll() if self.process else None

    def signal_group(self, sig: int) -> bool:
        """Send ``sig`` to the child's whole process group; False if nothing is left in it."""
        if self.process is None:
            return False
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            return False
        return True


class Supervisor:
    """Starts children, watches them, and stops all of them: on request, or when one dies."""

    def __init__(
        self,
        children: Sequence[Child],
        *,
        stop_timeout: float = 20.0,
        poll_interval: float = 0.2,
        env: dict[str, str] | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.children = list(children)
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval
        self.env = env
        self.log = log
        self.stop_requests = 0

    def request_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        self.stop_requests += 1
        if signum is not None and self.stop_requests == 1:
            self.log(f"Received {signal.Signals(signum).name}, stopping (again to kill at once)...")

    def install_signal_handlers(self) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self.request_stop)

    def start(self) -> None:
        for child in self.children:
            child.start(self.env)
            self.log(f"Started {child.name} (pid {child.pid}).")

    def first_dead(self) -> Child | None:
        return next((c for c in self.children if c.poll() is not None), None)

    def watch(self, on_tick: Callable[[], None] | None = None) -> Child | None:
        """Block until a stop is requested (returns None) or a child exits (returns that child)."""
        while not self.stop_requests:
            dead = self.first_dead()
            if dead is not None:
                return dead
            if on_tick is not None:
                on_tick()
            time.sleep(self.poll_interval)
        return None

    def stop(self) -> None:
        """SIGTERM every child's leader, wait, then SIGKILL whatever is left in each group."""
        for child in reversed(self.children):
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + self.stop_timeout
        requests_at_start = self.stop_requests
        while time.monotonic() < deadline and any(c.poll() is None for c in self.children):
            if self.stop_requests > requests_at_start:  # asked twice: no more patience
                break
            time.sleep(self.poll_interval)
        for child in self.children:
            if child.poll() is None:
                self.log(f"{child.name} did not stop in time; killing it.")
            # Leaders that exited may leave workers behind in their group; none may outlive us.
            child.signal_group(signal.SIGKILL)
            if child.process is not None:
                child.process.wait()

    def run(self, on_tick: Callable[[], None] | None = None) -> int:
        """Start, watch and stop. 0 after a requested stop, non-zero when a child died on its own."""
        try:
            self.start()
            dead = self.watch(on_tick)
        except BaseException:
            self.stop()
            raise
        if dead is not None:
            code = dead.poll()
            self.log(f"{dead.name} exited unexpectedly (exit code {code}); stopping the others.")
            self.stop()
            return code if code else 1
        self.stop()
        self.log("All processes stopped.")
        return 0


def default_bind() -> str:
    return f"127.0.0.1:{os.environ.get('PORT') or 8000}"


# AF_UNIX paths hold 108 bytes with the final NUL on Linux (104 on the BSDs): stay below both.
_UNIX_PATH_MAX = 100


def _gunicorn_settings() -> set[str]:
    """Names of the settings the installed gunicorn knows (empty if it is not installed here)."""
    try:
        from gunicorn.config import KNOWN_SETTINGS  # type: ignore[import-untyped]
    except ImportError:
        return set()
    return {setting.name for setting in KNOWN_SETTINGS}


def gunicorn_control_args(var_dir: Path | None = None) -> list[str]:
    """Where gunicorn's control socket goes: the portal's own var folder.

    gunicorn 25.1+ opens a control socket at one path per user ($XDG_RUNTIME_DIR/gunicorn.ctl or
    ~/.gunicorn/gunicorn.ctl), so two portals on one host would take it from each other (the second
    replaces the first's socket, and ``gunicornc`` then reaches the wrong server). Each portal gets
    its own next to its database; where the path is too long for a Unix socket, none at all. Older
    gunicorns have no control socket, and no such flag.
    """
    if "control_socket" not in _gunicorn_settings():
        return []
    path = Path(var_dir or settings.VAR_DIR).absolute() / "gunicorn.ctl"
    if len(os.fsencode(path)) > _UNIX_PATH_MAX:
        return ["--no-control-socket"]
    return ["--control-socket", str(path)]


def portal_children(
    *, bind: str, web_workers: int, worker_concurrency: int, loglevel: str, demo_target: bool = False
) -> list[Child]:
    """The processes of a portal. ``demo_target``: also serve the flawed demo API the demo data
    registers (``manage.py demo_target``, loopback only), so the demo's test plans hit something real."""
    py = sys.executable
    demo = [
        Child(
            "demo-target",
            [
                py,
                str(settings.BASE_DIR / "manage.py"),
                "demo_target",
                "--port",
                str(settings.DEMO_TARGET_PORT),
            ],
        )
    ]
    return [
        Child(
            "web",
            [
                py,
                "-m",
                "gunicorn",
                "portal.wsgi:application",
                "--bind",
                bind,
                "--workers",
                str(web_workers),
                "--graceful-timeout",
                "10",
                "--access-logfile",
                "-",
                "--log-level",
                loglevel.lower(),
                *gunicorn_control_args(),
            ],
        ),
        Child(
            "worker",
            [
                py,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--loglevel",
                loglevel,
                "--concurrency",
                str(worker_concurrency),
            ],
        ),
        Child(
            "beat",
            [
                py,
                "-m",
                "celery",
                "-A",
                "portal",
                "beat",
                "--loglevel",
                loglevel,
                "--schedule",
                str(settings.CELERY_BEAT_SCHEDULE_FILENAME),
            ],
        ),
        *(demo if demo_target else []),
    ]


def _split_bind(bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise CommandError(f"--bind must look like HOST:PORT, got {bind!r}.")
    return host.strip("[]"), int(port)


def _accepts_connections(host: str, port: int) -> bool:
    target = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)  # noqa: S104
    try:
        with socket.create_connection((target, port), timeout=0.5):
            return True
    except OSError:
        return False


class Command(BaseCommand):
    help = (
        "Migrate, load demo data, then run web (gunicorn), a Celery worker and Celery beat together "
        "until Ctrl-C. Exits non-zero if any of them dies."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--bind", default=default_bind(), help="HOST:PORT for the web server.")
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--worker-concurrency", type=int, default=2)
        parser.add_argument("--no-demo", action="store_true", help="Do not load the demo data.")
        parser.add_argument(
            "--stop-timeout", type=float, default=20.0, help="Seconds to wait before killing children."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = _split_bind(options["bind"])
        loglevel = os.environ.get("LOG_LEVEL", "INFO").upper()
        supervisor = Supervisor(
            portal_children(
                bind=options["bind"],
                web_workers=options["web_workers"],
                worker_concurrency=options["worker_concurrency"],
                loglevel=loglevel,
                demo_target=not (settings.PRODUCTION or options["no_demo"]),
            ),
            stop_timeout=options["stop_timeout"],
            env=dict(os.environ),
            log=self._say,
        )
        # Handlers first, so a Ctrl-C during a long migration is a clean stop too.
        supervisor.install_signal_handlers()

        self._say("Applying migrations...")
        call_command("migrate", interactive=False, verbosity=0)
        if settings.PRODUCTION:
            call_command("collectstatic", interactive=False, verbosity=0)
        elif not options["no_demo"]:
            call_command("seed_demo", stdout=self.stdout)
        # The children open their own connections; do not hold ours (SQLite locks) meanwhile.
        connections.close_all()
        if supervisor.stop_requests:
            return

        shown_url = False

        def announce_when_listening() -> None:
            nonlocal shown_url
            if not shown_url and _accepts_connections(host, port):
                shown_url = True
                url_host = f"[{host}]" if ":" in host else host
                self._say(
                    self.style.SUCCESS(f"Portal running at http://{url_host}:{port}/  (Ctrl-C to stop)")
                )

        code = supervisor.run(on_tick=announce_when_listening)
        if code:
            raise CommandError("The portal stopped because one of its processes died.", returncode=code)

    def _say(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()
