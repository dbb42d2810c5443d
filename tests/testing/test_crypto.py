"""Identities at rest: encrypted with the key ring, rotatable, and a wrong key fails cleanly."""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from portal.audit import Actor
from portal.models import AuditEvent
from testing import crypto
from testing.models import PlanIdentity
from testing.services.identities import identity_set
from tests.testing.factories import TestPlanFactory

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
SYSTEM = Actor.system("test")


def test_it_round_trips_an_identity_and_never_stores_it_in_clear(settings):
    settings.TESTING_IDENTITY_KEYS = [OLD]
    token = crypto.encrypt({"kind": "bearer", "token": "s3cr3t-token"})
    assert b"s3cr3t" not in token
    assert crypto.decrypt(token) == {"kind": "bearer", "token": "s3cr3t-token"}
    assert crypto.decrypt(memoryview(token)) == {"kind": "bearer", "token": "s3cr3t-token"}


def test_a_wrong_key_fails_cleanly_without_the_token_in_the_error(settings):
    settings.TESTING_IDENTITY_KEYS = [OLD]
    token = crypto.encrypt({"token": "s3cr3t-token"})
    settings.TESTING_IDENTITY_KEYS = [NEW]
    with pytest.raises(crypto.IdentityKeyError) as caught:
        crypto.decrypt(token)
    assert "s3cr3t" not in str(caught.value) and token.decode() not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    with pytest.raises(crypto.IdentityKeyError):
        crypto.decrypt(b"garbage")


def test_it_refuses_what_is_not_an_identity(settings):
    settings.TESTING_IDENTITY_KEYS = [OLD]
    with pytest.raises(crypto.IdentityKeyError, match="not a JSON object"):
        crypto.decrypt(Fernet(OLD).encrypt(b"[1, 2]"))
    with pytest.raises(ValueError, match="at most"):
        crypto.encrypt({"token": "x" * (crypto.MAX_SECRET_BYTES + 1)})


def test_old_keys_still_decrypt_and_the_newest_encrypts(settings):
    settings.TESTING_IDENTITY_KEYS = [OLD]
    old_token = crypto.encrypt({"token": "a"})
    settings.TESTING_IDENTITY_KEYS = [NEW, OLD]
    assert crypto.decrypt(old_token) == {"token": "a"}
    assert Fernet(NEW).decrypt(crypto.encrypt({"token": "b"}))  # newest first encrypts
    assert Fernet(NEW).decrypt(crypto.rotate(old_token)) == b'{"token":"a"}'


@pytest.mark.django_db
def test_it_rotates_every_identity_to_the_newest_key(settings):
    settings.TESTING_IDENTITY_KEYS = [OLD]
    plan = TestPlanFactory()
    for name in ("A", "B", "C"):
        identity_set(actor=SYSTEM, plan=plan, name=name, kind="bearer", secret={"token": f"tok-{name}"})
    settings.TESTING_IDENTITY_KEYS = [NEW, OLD]

    call_command("rotate_identity_keys", stdout=io.StringIO())

    settings.TESTING_IDENTITY_KEYS = [NEW]  # the old key can go now
    secrets_now = {i.name: crypto.decrypt(i.secret) for i in PlanIdentity.objects.all()}
    assert {n: s["token"] for n, s in secrets_now.items()} == {n: f"tok-{n}" for n in "ABC"}
    event = AuditEvent.objects.get(action="testing.identity_keys_rotate")
    assert event.after == {"rotated": 3, "unreadable": 0}


@pytest.mark.django_db
def test_rotation_leaves_and_reports_what_no_key_opens(settings):
    settings.TESTING_IDENTITY_KEYS = [OLD]
    plan = TestPlanFactory()
    identity = identity_set(actor=SYSTEM, plan=plan, name="A", kind="bearer", secret={"token": "t"})
    settings.TESTING_IDENTITY_KEYS = [NEW]  # the old key was removed too early
    with pytest.raises(CommandError, match="could not be decrypted") as caught:
        call_command("rotate_identity_keys", stdout=io.StringIO())
    assert caught.value.returncode == 1
    identity.refresh_from_db()
    settings.TESTING_IDENTITY_KEYS = [OLD]
    assert crypto.decrypt(identity.secret)["token"] == "t"  # untouched


def _settings_probe(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PORTAL_ENV", "TESTING_IDENTITY_KEYS", "TESTING_IDENTITY_KEYS_FILE", "SECRET_KEY")
    }
    clean.update(PORTAL_VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-c", "import portal.settings as s; print(len(s.TESTING_IDENTITY_KEYS))"],
        cwd=settings.BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


PRODUCTION = {
    "PORTAL_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "portal.example.com",
    "DATABASE_URL": "postgres://portal:secret@db.invalid:5432/portal",
    "CACHE_URL": "redis://cache.invalid:6379/0",
    "AUDIT_HMAC_KEY": secrets.token_hex(32),
}


@pytest.mark.slow
def test_production_refuses_to_start_without_identity_keys(tmp_path):
    result = _settings_probe(tmp_path, **PRODUCTION)
    assert result.returncode != 0
    assert "TESTING_IDENTITY_KEYS (or TESTING_IDENTITY_KEYS_FILE) must be set" in result.stderr
    result = _settings_probe(tmp_path, **PRODUCTION, TESTING_IDENTITY_KEYS=f"{NEW},{OLD}")
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip() == "2"


@pytest.mark.slow
def test_a_malformed_key_stops_startup_without_echoing_it(tmp_path):
    result = _settings_probe(tmp_path, TESTING_IDENTITY_KEYS="not-a-fernet-key-but-secret")
    assert result.returncode != 0
    assert "TESTING_IDENTITY_KEYS must be Fernet keys" in result.stderr
    assert "not-a-fernet-key-but-secret" not in result.stderr


@pytest.mark.slow
def test_development_derives_its_key_from_the_secret_key(tmp_path):
    first = _settings_probe(tmp_path, SECRET_KEY="a" * 50)
    assert first.returncode == 0 and first.stdout.strip() == "1"
