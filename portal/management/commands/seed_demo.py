"""A realistic demo org chart with one user per role. Safe to run again: it only adds what is missing."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.access import PRIVILEGED_ROLES
from portal.audit import Actor
from portal.models import OrgUnit, Role
from portal.services.org_chart import membership_grant, org_unit_create, user_create

DEMO_PASSWORD = "demo-portal-Passw0rd"  # noqa: S105 -- printed on purpose: a demo; production refuses to seed

# (slug, name, kind, parent slug)
ORG_CHART = [
    ("acme", "Acme Group", OrgUnit.Kind.COMPANY, None),
    ("security-office", "Security Office", OrgUnit.Kind.OFFICE, "acme"),
    ("retail", "Retail Banking", OrgUnit.Kind.DIVISION, "acme"),
    ("corporate", "Corporate Services", OrgUnit.Kind.DIVISION, "acme"),
    ("payments", "Payments", OrgUnit.Kind.DEPARTMENT, "retail"),
    ("accounts", "Accounts", OrgUnit.Kind.DEPARTMENT, "retail"),
    ("platform", "Platform Engineering", OrgUnit.Kind.DEPARTMENT, "corporate"),
    ("people", "People Systems", OrgUnit.Kind.DEPARTMENT, "corporate"),
    ("payments-api", "Payments API team", OrgUnit.Kind.TEAM, "payments"),
    ("cards", "Cards team", OrgUnit.Kind.TEAM, "payments"),
    ("accounts-core", "Accounts Core team", OrgUnit.Kind.TEAM, "accounts"),
    ("identity", "Identity team", OrgUnit.Kind.TEAM, "platform"),
    ("gateway", "API Gateway team", OrgUnit.Kind.TEAM, "platform"),
    ("hr-apps", "HR Apps team", OrgUnit.Kind.TEAM, "people"),
]

# (username, full name, role, unit slug). The security team holds its roles on the root.
USERS = [
    ("ciso", "Carla Iso", Role.CISO, "acme"),
    ("secengineer", "Sam Engineer", Role.SECURITY_ENGINEER, "acme"),
    ("responder", "Rita Responder", Role.INCIDENT_RESPONDER, "acme"),
    ("auditor", "Aldo Auditor", Role.AUDITOR, "acme"),
    ("developer", "Dana Developer", Role.DEVELOPER, "payments-api"),
    ("developer2", "Ian Identity", Role.DEVELOPER, "identity"),
    ("viewer", "Vic Viewer", Role.VIEWER, "retail"),
]


def demo_totp_key(username: str) -> str:
    """Stable per installation (derived from SECRET_KEY), so re-seeding keeps authenticators working."""
    return hmac.new(settings.SECRET_KEY.encode(), f"demo-totp:{username}".encode(), hashlib.sha1).hexdigest()


class Command(BaseCommand):
    help = "Create a demo org chart and one demo user per role (idempotent). Refused in production."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--quiet-logins", action="store_true", help="Do not print the demo logins.")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "seed_demo is for development and demos; it is refused when PORTAL_ENV=production."
            )
        actor = Actor.system("seed_demo")
        User = get_user_model()
        with transaction.atomic():
            units: dict[str, OrgUnit] = {
                u.slug: u for u in OrgUnit.objects.filter(slug__in=[s for s, *_ in ORG_CHART])
            }
            for slug, name, kind, parent in ORG_CHART:
                if slug not in units:
                    units[slug] = org_unit_create(
                        actor=actor, name=name, slug=slug, kind=kind, parent=units[parent] if parent else None
                    )
            logins = []
            for username, full_name, role, unit_slug in USERS:
                user = User.objects.filter(username=username).first()
                if user is None:
                    first, _, last = full_name.partition(" ")
                    user = user_create(
                        actor=actor,
                        username=username,
                        email=f"{username}@example.com",
                        password=DEMO_PASSWORD,
                        first_name=first,
                        last_name=last,
                    )
                membership_grant(actor=actor, user=user, org_unit=units[unit_slug], role=role)
                totp = ""
                if role in PRIVILEGED_ROLES:
                    device = TOTPDevice.objects.filter(user=user, name="demo").first()
                    if device is None:
                        device = TOTPDevice.objects.create(
                            user=user, name="demo", key=demo_totp_key(username), confirmed=True
                        )
                    totp = base64.b32encode(device.bin_key).decode()
                logins.append((username, role, unit_slug, totp))
        # The project package ties the apps together: demo APIs come from the inventory's own command.
        call_command("seed_demo_inventory", stdout=self.stdout)
        call_command("seed_demo_testing", stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        if options["quiet_logins"]:
            return
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, role, unit_slug, totp in logins:
            line = f"  {username:<12} {role:<19} on {unit_slug}"
            if totp:
                line += f"  TOTP key {totp}"
            self.stdout.write(line)
        self.stdout.write("  Current TOTP codes: python manage.py demo_totp")
