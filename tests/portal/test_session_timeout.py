"""Idle and absolute session timeouts, for pages and for the API."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client

from tests.conftest import Login
from tests.factories import TEST_PASSWORD


@pytest.fixture
def client_of(alice: User, login: Login) -> Client:
    client = login(alice)
    assert client.get("/").status_code == 200  # stamps the session
    return client


def _age_session(client: Client, **offsets: int) -> str:
    """Move the session's timestamps ``offsets`` seconds into the past; return the session key."""
    session = client.session
    now = int(time.time())
    for key, seconds in offsets.items():
        session[key] = now - seconds
    session.save()
    return session.session_key


def test_it_stamps_the_session_at_login(alice):
    client = Client()
    client.post("/accounts/login/", {"username": "alice", "password": TEST_PASSWORD})
    session = client.session
    assert abs(session["_started_at"] - time.time()) < 5
    assert abs(session["_seen_at"] - time.time()) < 5


def test_it_keeps_a_session_used_within_the_idle_limit(client_of):
    _age_session(client_of, _seen_at=settings.SESSION_IDLE_SECONDS - 30)
    assert client_of.get("/").status_code == 200


def test_it_logs_out_an_idle_session(client_of):
    key = _age_session(client_of, _seen_at=settings.SESSION_IDLE_SECONDS + 5)

    r = client_of.get("/org/?x=1")

    assert r.status_code == 302
    assert r.url == "/accounts/login/?next=/org/%3Fx%3D1"
    assert not Session.objects.filter(session_key=key).exists()
    assert client_of.get("/").status_code == 302


def test_it_logs_out_a_session_past_the_absolute_limit(client_of):
    # Active a moment ago, but logged in longer ago than the absolute limit allows.
    key = _age_session(client_of, _seen_at=10, _started_at=settings.SESSION_COOKIE_AGE + 5)

    r = client_of.get("/")

    assert r.status_code == 302
    assert r.url.startswith("/accounts/login/")
    assert not Session.objects.filter(session_key=key).exists()


def test_it_tells_htmx_to_reload_into_the_login_page(client_of):
    _age_session(client_of, _seen_at=settings.SESSION_IDLE_SECONDS + 5)
    r = client_of.get("/audit/", headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert r["HX-Redirect"].startswith("/accounts/login/")


@pytest.mark.parametrize("offsets", [{"_seen_at": 10**6}, {"_started_at": 10**6}], ids=["idle", "absolute"])
def test_it_answers_the_api_with_a_401_in_the_error_shape(client_of, offsets):
    _age_session(client_of, **offsets)

    r = client_of.get("/api/v1/me/")

    assert r.status_code == 401
    assert r["Content-Type"] == "application/json"
    assert r.json() == {
        "error": {"code": "not_authenticated", "message": "Session expired.", "request_id": r["X-Request-ID"]}
    }
    # And the session is really gone: the next call is plainly unauthenticated.
    assert client_of.get("/api/v1/me/").status_code == 401
