from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inventory.engines.catalog import safe_relative
from inventory.services.catalog_import import CatalogRejected, catalog_import
from portal.audit import Actor
from portal.models import OrgUnit


def _read_limited(path: Path, limit: int) -> bytes | None:
    """The file's bytes, or None when it is larger than ``limit`` (the rest is not read)."""
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    return None if len(data) > limit else data


class Command(BaseCommand):
    help = (
        "Import Backstage catalog-info.yaml files: kind API (definition inline or $text: ./file) becomes a "
        "registration, kind Component links consumers. All or nothing per file."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--owner", help="Unit slug for entities whose spec.owner is not given.")
        parser.add_argument(
            "--approve",
            action="store_true",
            help="Approve the imported APIs (the security team's import of an already-reviewed catalogue).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        owner = None
        if options["owner"]:
            owner = OrgUnit.objects.filter(slug=options["owner"]).first()
            if owner is None:
                raise CommandError(f"Unknown unit {options['owner']!r}.")
        # An operator at the shell is trusted; the audit trail names them.
        actor = Actor.system(f"operator:{getpass.getuser()}:import_catalog")
        failed = False
        limit = settings.PORTAL_UPLOAD_MAX_BYTES  # the web's limit: the command is no way around it
        for path in options["files"]:
            try:
                data = _read_limited(path, limit)
            except OSError as exc:
                raise CommandError(f"{path}: cannot read ({exc.strerror}).") from exc
            if data is None:
                failed = True
                self.stderr.write(
                    f"{path}: rejected, nothing imported: larger than the {limit:,}-byte limit."
                )
                continue
            base = path.resolve().parent

            def resolve_text(rel: str, base: Path = base) -> bytes | None:
                norm = safe_relative(rel)
                if norm is None:
                    return None
                target = (base / norm).resolve()
                if not target.is_relative_to(base) or not target.is_file():
                    return None
                # Read no more than can be accepted: a larger file is refused by parse_catalog's
                # total, which this one byte over the limit is enough to trip.
                with target.open("rb") as fh:
                    return fh.read(limit + 1)

            try:
                result = catalog_import(
                    actor=actor,
                    data=data,
                    resolve_text=resolve_text,
                    default_owner=owner,
                    approve=options["approve"],
                )
            except CatalogRejected as exc:
                failed = True
                self.stderr.write(f"{path}: rejected, nothing imported:")
                for problem in exc.problems:
                    self.stderr.write(f"  - {problem}")
                continue
            except Exception as exc:  # one short line per file, never a traceback
                failed = True
                messages = getattr(exc, "messages", [str(exc)])
                self.stderr.write(f"{path}: rejected, nothing imported: {'; '.join(messages)}")
                continue
            self.stdout.write(
                f"{path}: {len(result.created)} created, {len(result.updated)} updated, "
                f"{len(result.approved)} approved, {result.links} consumer links."
            )
            for problem in result.problems:
                self.stdout.write(f"  note: {problem}")
        if failed:
            raise CommandError("Some files were rejected.")
