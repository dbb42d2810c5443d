"""Production mode: clean under ``check --deploy``, and refuses to start when misconfigured.

Each case runs ``manage.py`` in a fresh process, because settings are read once at import.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

# Everything the settings read that the surrounding shell (a developer's, or CI's) might have set.
INHERITED = {
    "PORTAL_ENV",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "EMAIL_URL",
    "SCANNER_ALLOWED_NETWORKS",
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_PRELOAD",
    "BEHIND_TLS_PROXY",
    "TRUSTED_PROXIES",
    "AUDIT_HMAC_KEY",
    "AUDIT_HMAC_KEY_FILE",
    "TESTING_IDENTITY_KEYS",
    "TESTING_IDENTITY_KEYS_FILE",
    "AUDIT_ANCHOR_FILE",
    "AUDIT_ANCHOR_SYSLOG",
    "API_REQUIRE_HTTPS",
    "DJANGO_SETTINGS_MODULE",
}


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in INHERITED}
    clean.update(PORTAL_VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production(**overrides: str) -> dict[str, str]:
    env = {
        "PORTAL_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "portal.example.com",
        # Never connected to: `check --deploy` does not touch the database.
        "DATABASE_URL": "postgres://portal:secret@db.invalid:5432/portal",
        "CELERY_BROKER_URL": "redis://redis.invalid:6379/0",
        "CACHE_URL": "redis://redis.invalid:6379/1",
        "AUDIT_HMAC_KEY": secrets.token_hex(32),
        "TESTING_IDENTITY_KEYS": Fernet.generate_key().decode(),
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


@pytest.mark.slow
def test_production_passes_check_deploy_at_warning_level(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **production())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is too short"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS must be set"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must be set"),
        ({"DATABASE_URL": None}, "DATABASE_URL must be set"),
        ({"DATABASE_URL": "sqlite:////tmp/portal.sqlite3"}, "SQLite is for development only"),
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"CACHE_URL": None}, "CACHE_URL must be set"),
        # Throttle and lockout counters would be counted per worker process.
        ({"CACHE_URL": "locmemcache://portal"}, "CACHE_URL must name a cache all processes share"),
        ({"AUDIT_HMAC_KEY": None}, "AUDIT_HMAC_KEY (or AUDIT_HMAC_KEY_FILE) must be set"),
        ({"AUDIT_HMAC_KEY": "0123456789"}, "AUDIT_HMAC_KEY is too short"),
    ],
    ids=[
        "no-secret-key",
        "weak-secret-key",
        "no-hosts",
        "empty-hosts",
        "no-database",
        "sqlite",
        "debug",
        "no-cache",
        "per-process-cache",
        "no-audit-key",
        "weak-audit-key",
    ],  # fmt: skip
)
def test_production_refuses_to_start_when_misconfigured(tmp_path, overrides, message):
    result = manage(tmp_path, "check", **production(**overrides))
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.slow
def test_production_refuses_an_unknown_mode(tmp_path):
    result = manage(tmp_path, "check", PORTAL_ENV="staging")
    assert result.returncode != 0
    assert "PORTAL_ENV must be" in result.stderr


@pytest.mark.slow
def test_development_needs_nothing_set(tmp_path):
    result = manage(tmp_path, "check")
    assert result.returncode == 0, result.stderr


# Runs inside the production-mode process: plain HTTP requests, no database touched before the
# security middleware answers (the redirect) or before DRF refuses an anonymous caller (401).
_REDIRECT_PROBE = """
from django.test import Client
c = Client(HTTP_HOST="portal.example.com")
for path in ("/accounts/login/", "/api/v1/inventory/apis/", "/api/schema/"):
    r = c.get(path)
    print(path, r.status_code, r.get("Location", ""))
r = c.get("/api/v1/inventory/apis/", HTTP_X_FORWARDED_PROTO="https")
print("tls", r.status_code)
"""


@pytest.mark.slow
def test_production_redirects_pages_to_https_and_refuses_the_api_over_http(tmp_path):
    result = manage(
        tmp_path, "shell", "-c", _REDIRECT_PROBE, **production(CACHE_URL=f"filecache://{tmp_path / 'cache'}")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines() if line.startswith("/"))
    assert lines["/accounts/login/"] == "301 https://portal.example.com/accounts/login/"
    # Never bounced (a redirect would replay a bearer token over HTTPS after sending it in clear):
    # refused with a 403 that names HTTPS. Through the TLS proxy, the API answers as usual (401).
    assert lines["/api/v1/inventory/apis/"] == "403 "
    assert lines["/api/schema/"] == "403 "
    assert "tls 401" in result.stdout


@pytest.mark.slow
def test_development_counts_throttles_in_a_cache_every_process_shares(tmp_path):
    probe = "from django.conf import settings; print(settings.CACHES['default']['BACKEND'])"
    result = manage(tmp_path, "shell", "-c", probe)
    assert result.returncode == 0, result.stderr
    # make run's web workers, Celery worker and beat are separate processes: a per-process cache
    # would give each of them its own lockout and throttle budget.
    assert result.stdout.strip().splitlines()[-1] == "django.core.cache.backends.filebased.FileBasedCache"


@pytest.mark.slow
def test_production_reads_the_audit_key_from_a_file(tmp_path):
    key_file = tmp_path / "audit.key"
    key_file.write_text(secrets.token_hex(32) + "\n")
    probe = "from django.conf import settings; print(len(settings.AUDIT_HMAC_KEY))"
    result = manage(
        tmp_path, "shell", "-c", probe, **production(AUDIT_HMAC_KEY=None, AUDIT_HMAC_KEY_FILE=str(key_file))
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "64"
