"""``manage.py demo_target``: serve the deliberately flawed demo API on loopback until Ctrl-C.

Prints one line with the URL first (``Demo target on http://127.0.0.1:8765 ...``), so a script can
start it with ``--port 0`` and read where it landed. Refused on a non-loopback --host and when
PORTAL_ENV=production. The API itself is ``testing.engines.demo_target``.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from testing.engines.demo_target import DEMO_USERS, FLAWS, SPEC_PATH, DemoTarget, NotLoopback


class Command(BaseCommand):
    help = (
        "Serve a deliberately flawed demo API on loopback (for demos and for testing the checks). "
        "Never exposed: only a loopback --host is accepted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
        parser.add_argument("--tls", action="store_true", help="HTTPS with a self-signed, weak setup")
        parser.add_argument("--verbose-log", action="store_true", help="log every request to stderr")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("demo_target is refused when PORTAL_ENV=production.")
        if not 0 <= options["port"] <= 65535:
            raise CommandError("--port must be between 0 and 65535.")
        try:
            target = DemoTarget(
                host=options["host"],
                port=options["port"],
                tls=options["tls"],
                log=self.stderr.write if options["verbose_log"] else None,
            )
        except NotLoopback as exc:
            raise CommandError(f"Refused: {exc}. The demo target listens on loopback only.") from None
        try:
            target.start()
        except OSError as exc:
            raise CommandError(f"Cannot listen on {options['host']}:{options['port']}: {exc}") from None

        def stop(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, stop)  # stops cleanly under a supervisor's SIGTERM too
        self.stdout.write(f"Demo target on {target.url} (OpenAPI document at {target.url}{SPEC_PATH})")
        if target.tls:
            self.stdout.write(f"TLS versions accepted: {', '.join(target.tls_versions) or 'none'}")
        for user in DEMO_USERS.values():
            self.stdout.write(f"  {user.username}: password {user.password!r}, orders {list(user.order_ids)}")
        self.stdout.write(f"  {len(FLAWS)} planted flaws (testing.engines.demo_target.FLAWS). Ctrl-C stops.")
        self.stdout.flush()
        try:
            target.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            target.stop()
