from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.audit import AnchorError, ChainProblem, ChainReport, check_anchor, read_anchors, verify_chain


class Command(BaseCommand):
    help = (
        "Recompute the audit trail's keyed hash chain; exit non-zero naming the first event that was "
        "altered, forged or removed. With --anchor, also check that heads exported earlier (by beat, "
        "or by hand) are still in the chain: this catches a truncated table or a rewritten chain."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--anchor", type=Path, help="a file of exported heads (JSON lines)")

    def handle(self, *args: Any, **options: Any) -> None:
        anchors = []
        if options["anchor"] is not None:
            try:
                anchors = read_anchors(options["anchor"].read_text())
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read the anchor file: {exc}") from None
            except AnchorError as exc:
                raise CommandError(f"{options['anchor']}: {exc}") from None
        report = ChainReport()
        checked = 0
        for item in verify_chain(report=report):
            if isinstance(item, ChainProblem):
                raise CommandError(f"Audit chain broken at {item} ({checked} events verified before it).")
            checked += 1
        for anchor in anchors:
            problem = check_anchor(anchor)
            if problem:
                raise CommandError(f"Audit chain does not match its anchor: {problem}.")
        anchored = f"; {len(anchors)} anchors match" if anchors else ""
        if settings.AUDIT_LEGACY_UNTIL is None:
            self.stdout.write(
                f"Set AUDIT_LEGACY_UNTIL={report.last_legacy_id} so that no unkeyed event can be added later."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Audit chain intact: {checked} events verified ({report.describe()}){anchored}."
            )
        )
