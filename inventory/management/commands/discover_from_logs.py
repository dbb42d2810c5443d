from __future__ import annotations

import getpass
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from inventory.services.discovered import discovery_ingest
from portal.audit import Actor


def _chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(size):
            yield chunk


class Command(BaseCommand):
    help = (
        "Find shadow APIs, undocumented endpoints and zombies in a gateway access log "
        "(nginx combined or JSON lines). Streams the file: memory does not grow with its size."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--format", choices=["nginx", "json"], help="Default: detected from the first lines."
        )
        parser.add_argument("--host", default="", help="Host to assume for lines that do not name one.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        actor = Actor.system(f"operator:{getpass.getuser()}:discover_from_logs")
        try:
            result = discovery_ingest(
                actor=actor,
                chunks=_chunks(path),
                filename=path.name,
                fmt=options["format"],
                default_host=options["host"],
                # Streamed from disk, memory flat: an operator's access log may be far bigger
                # than an upload.
                max_bytes=settings.PORTAL_DISCOVERY_LOG_MAX_BYTES,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        ingest = result.ingest
        self.stdout.write(
            f"{ingest.lines:,} lines, {ingest.parsed:,} read, {ingest.skipped:,} skipped; "
            f"{ingest.endpoints:,} endpoints: {result.findings['documented']} documented, "
            f"{result.findings['shadow_api']} shadow, {result.findings['undocumented']} undocumented, "
            f"{result.findings['zombie']} zombie."
        )
        for example in ingest.skipped_examples:
            self.stdout.write(f"  skipped line {example['line']}: {example['reason']}: {example['excerpt']}")
