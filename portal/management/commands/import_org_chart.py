from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser, DjangoHelpFormatter

from portal.audit import Actor
from portal.engines.hr_export import (
    InvalidOrgChart,
    detect_format,
    format_errors,
    parse_org_chart,
    read_limited,
)
from portal.services.org_import import existing_unit_parents, org_chart_import


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Keeps the column table below laid out as written."""


class Command(BaseCommand):
    help = """Import an HR export of the org chart (CSV or JSON): all of it, or nothing.

One row per (unit, user, role); a row with only the unit columns declares structure.
CSV: a header line with these column names (any order); JSON: an array of objects with these keys.

  unit       slug of the unit (required): lowercase letters, digits, hyphens
  unit_name  display name (optional; defaults to the slug in title case)
  kind       company, division, department, team, office or unit (optional; default unit)
  parent     slug of the parent unit (required column; empty value for a root). The parent may
             come later in the file or already exist in the portal.
  email      the member's email (optional column; given together with role)
  role       ciso, security_engineer, incident_responder, developer, auditor or viewer

Units that already exist (same slug) are reused, keeping their name and kind; their parent must
match. Users are found by email (case-insensitive) or created without a usable password, username
taken from the email. Memberships already held are left alone, so importing a file twice changes
nothing the second time. Problems are reported with their CSV line (header = line 1) or JSON
record number (first = 1); if there is any, nothing is imported.

Example CSV:
  unit,unit_name,kind,parent,email,role
  acme,Acme Corp,company,,ciso@acme.example,ciso
  payments,,team,acme,dev@acme.example,developer"""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = _HelpFormatter
        return parser

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("file", help="Path of the CSV or JSON file.")
        parser.add_argument(
            "--format",
            choices=["csv", "json"],
            help="Override the format guessed from the file name (or content).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check everything, including against the database, then roll back.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            with path.open("rb") as stream:
                data = read_limited(stream, settings.PORTAL_UPLOAD_MAX_BYTES)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from None
        except InvalidOrgChart as exc:
            raise self._failure(path, exc) from None

        fmt = options["format"] or detect_format(path.name, data)
        try:
            plan = parse_org_chart(data, fmt=fmt, existing_units=existing_unit_parents)
            result = org_chart_import(
                actor=Actor.system("import_org_chart"),
                plan=plan,
                source=path.name,
                dry_run=options["dry_run"],
            )
        except InvalidOrgChart as exc:
            raise self._failure(path, exc) from None

        verb = "Dry run, nothing saved; would create" if result.dry_run else "Imported; created"
        self.stdout.write(
            self.style.SUCCESS(
                f"{path.name}: {plan.rows} rows. {verb} "
                f"{result.units_created} units ({result.units_existing} already present), "
                f"{result.users_created} users ({result.users_existing} already present), "
                f"{result.memberships_granted} memberships ({result.memberships_existing} already held)."
            )
        )

    @staticmethod
    def _failure(path: Path, exc: InvalidOrgChart) -> CommandError:
        count = len(exc.errors)
        noun = "problem" if count == 1 else "problems"
        return CommandError(
            f"{path.name}: {count} {noun}, nothing was imported.\n{format_errors(exc.errors)}"
        )
