"""The testing engines import no Django; SCANNER_ALLOWED_NETWORKS is read and checked at startup."""

from __future__ import annotations

import ast
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def test_testing_engines_import_no_django():
    bad = []
    for path in sorted((ROOT / "testing" / "engines").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            bad += [
                f"{path.name}: {name}"
                for name in names
                if name.split(".")[0] in ("django", "rest_framework", "portal", "inventory", "incidents")
                or (name.startswith("testing") and not name.startswith("testing.engines"))
            ]
    assert not bad


def _allowed(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("PORTAL_ENV", "SCANNER_ALLOWED_NETWORKS")}
    clean.update(PORTAL_VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-c", "import portal.settings as s; print(','.join(s.SCANNER_ALLOWED_NETWORKS))"],
        cwd=ROOT,
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
    "TESTING_IDENTITY_KEYS": Fernet.generate_key().decode(),
}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "127.0.0.0/8,::1/128"),
        (PRODUCTION, ""),
        ({**PRODUCTION, "SCANNER_ALLOWED_NETWORKS": "10.0.0.0/8, 192.168.1.7"}, "10.0.0.0/8,192.168.1.7/32"),
        ({"SCANNER_ALLOWED_NETWORKS": ""}, ""),
    ],
)
def test_the_allowlist_defaults_to_loopback_in_development_and_nothing_in_production(tmp_path, env, expected):
    result = _allowed(tmp_path, **env)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip() == expected


def test_a_bad_cidr_stops_startup_with_a_clear_message(tmp_path):
    result = _allowed(tmp_path, SCANNER_ALLOWED_NETWORKS="10.0.0.0/8,not-a-network")
    assert result.returncode != 0
    assert "SCANNER_ALLOWED_NETWORKS must be comma-separated CIDRs" in result.stderr
