"""The demo a new user sees after `make run`: one user per role, a realistic org chart, demo APIs."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from inventory.models import Api, ApiDependency, DiscoveredEndpoint
from portal.audit import ChainProblem, verify_chain
from portal.management.commands.seed_demo import DEMO_PASSWORD, USERS
from portal.models import AuditEvent, Membership, OrgUnit, Role


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> tuple[int, ...]:
    models = (OrgUnit, get_user_model(), Membership, Api, ApiDependency, DiscoveredEndpoint, AuditEvent)
    return tuple(m.objects.count() for m in models)


@pytest.mark.django_db
def test_it_is_idempotent_and_keeps_the_audit_chain_intact():
    seed()
    first = counts()
    seed()
    assert counts() == first
    assert not any(isinstance(item, ChainProblem) for item in verify_chain())


@pytest.mark.django_db
def test_every_role_has_a_demo_user_and_the_logins_are_printed():
    out = seed()
    assert {role for _, _, role, _ in USERS} == set(Role.values)
    assert DEMO_PASSWORD in out
    for username, _, role, _ in USERS:
        assert Membership.objects.filter(user__username=username, role=role).exists()
        assert username in out


@pytest.mark.django_db
def test_the_printed_password_and_totp_key_let_a_person_log_in(client):
    seed()
    response = client.post("/accounts/login/", {"username": "ciso", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert client.get("/").url.startswith("/accounts/2fa/verify/")
    device = TOTPDevice.objects.get(user__username="ciso", confirmed=True)
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    assert client.post("/accounts/2fa/verify/", {"code": code}).status_code == 302
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_the_demo_inventory_shows_every_kind_of_record():
    seed()
    assert set(Api.objects.values_list("status", flat=True)) == {
        "approved",
        "submitted",
        "changes_requested",
        "deprecated",
    }
    assert set(DiscoveredEndpoint.objects.values_list("finding", flat=True)) == {
        "shadow_api",
        "undocumented",
        "zombie",
    }


@pytest.mark.django_db
def test_it_is_refused_in_production(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError):
        call_command("seed_demo")
    assert not OrgUnit.objects.exists()
