"""/healthz: what a load balancer and an operator poll. Public, so it must never leak configuration."""

from __future__ import annotations

import socket

import pytest
from django.conf import settings

BROKER_PASSWORD = "broker-pass-that-must-not-leak"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.mark.django_db
def test_it_reports_database_and_broker_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_it_needs_no_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert "Location" not in response


@pytest.mark.django_db
def test_it_is_503_when_the_broker_is_unreachable(client, monkeypatch):
    # Celery reads CELERY_BROKER_WRITE_URL from the environment first; monkeypatch restores it.
    monkeypatch.setenv("CELERY_BROKER_WRITE_URL", f"redis://:{BROKER_PASSWORD}@127.0.0.1:{closed_port()}/0")

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"] == "ok"
    assert body["broker"] == "unreachable"


@pytest.mark.django_db
def test_it_never_shows_secrets(client, monkeypatch):
    healthy = client.get("/healthz").content.decode()
    monkeypatch.setenv("CELERY_BROKER_WRITE_URL", f"redis://:{BROKER_PASSWORD}@127.0.0.1:{closed_port()}/0")
    broken = client.get("/healthz").content.decode()

    for content in (healthy, broken):
        assert settings.SECRET_KEY not in content
        assert BROKER_PASSWORD not in content
        assert "redis://" not in content
        assert "filesystem://" not in content
        assert str(settings.DATABASES["default"]["NAME"]) not in content


@pytest.mark.django_db
def test_it_only_answers_get(client):
    assert client.post("/healthz").status_code == 405
