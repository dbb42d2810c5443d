"""Login, lockout, password policy and logout, all through the real URLs."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.test import Client

from portal.models import AuditEvent
from portal.services.org_chart import user_create
from tests.factories import SYSTEM, TEST_PASSWORD, UserFactory

LOGIN = "/accounts/login/"
GENERIC = "Unknown username or wrong password."


def _post_login(
    client: Client, username: str, password: str, ip: str = "10.0.0.1", **extra: str
) -> HttpResponse:
    return client.post(LOGIN, {"username": username, "password": password, **extra}, REMOTE_ADDR=ip)


def _normalized(body: bytes, username: str) -> str:
    # What legitimately differs between two renders: the masked CSRF token, the request id and the
    # username echoed back into the form. Everything else must be byte-identical.
    text = body.decode()
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", text)
    text = re.sub(r'"X-CSRFToken": "[^"]+"', "CSRF", text)
    text = re.sub(r"Request [0-9a-f]+", "Request ID", text)
    return text.replace(username, "USERNAME")


@pytest.fixture
def dave(db: None) -> User:
    return UserFactory(username="dave")


def test_it_renders_the_login_page(db):
    r = Client().get(LOGIN)
    assert r.status_code == 200
    assert b'name="username"' in r.content
    assert b'name="password"' in r.content
    assert b"csrfmiddlewaretoken" in r.content


def test_it_logs_in_and_rotates_the_session_key(dave):
    client = Client()
    session = client.session  # an anonymous session that an attacker could have planted
    session["planted"] = True
    session.save()
    before = client.cookies[settings.SESSION_COOKIE_NAME].value

    r = _post_login(client, "dave", TEST_PASSWORD)

    assert r.status_code == 302
    assert r.url == "/"
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert client.get("/").status_code == 200


def test_it_answers_unknown_user_and_wrong_password_alike(dave):
    unknown = _post_login(Client(), "nobody-here", "wrong-password-123")
    wrong = _post_login(Client(), "dave", "wrong-password-123")

    assert unknown.status_code == wrong.status_code == 200
    assert GENERIC in unknown.content.decode()
    assert GENERIC in wrong.content.decode()
    assert _normalized(unknown.content, "nobody-here") == _normalized(wrong.content, "dave")


def test_it_answers_an_inactive_account_like_a_wrong_password(dave):
    dave.is_active = False
    dave.save(update_fields=["is_active"])
    r = _post_login(Client(), "dave", TEST_PASSWORD)
    assert r.status_code == 200
    assert GENERIC in r.content.decode()
    assert "_auth_user_id" not in Client().session


def _assert_locked_out(client: Client, response: HttpResponse) -> None:
    assert response.status_code == 429
    assert b"Too many failed attempts" in response.content
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302  # still anonymous


def test_a_stranger_slows_an_account_down_but_cannot_lock_it(dave, monkeypatch):
    import time

    for i in range(settings.AXES_FAILURE_LIMIT):
        _post_login(Client(), "dave", "wrong-password-123", ip=f"10.1.0.{i + 1}")

    # Right after the failures, even the right password waits (it is not even checked)…
    client = Client()
    r = _post_login(client, "dave", TEST_PASSWORD, ip="10.9.9.9")
    assert r.status_code == 429
    assert 0 < int(r["Retry-After"]) <= settings.LOGIN_ACCOUNT_DELAY_SECONDS
    assert b"wait" in r.content and "_auth_user_id" not in client.session
    # …but only for a few seconds: the owner is never locked out by someone else's guesses.
    later = time.time() + settings.LOGIN_ACCOUNT_DELAY_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert _post_login(Client(), "dave", TEST_PASSWORD, ip="10.9.9.9").status_code == 302


def test_each_guess_after_the_limit_waits_again(dave, monkeypatch):
    import time

    for i in range(settings.AXES_FAILURE_LIMIT):
        _post_login(Client(), "dave", "wrong-password-123", ip=f"10.6.0.{i + 1}")
    later = time.time() + settings.LOGIN_ACCOUNT_DELAY_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert _post_login(Client(), "dave", "wrong-again-123", ip="10.6.1.1").status_code == 200  # checked
    assert _post_login(Client(), "dave", "wrong-again-456", ip="10.6.1.2").status_code == 429  # waits


def test_an_account_is_locked_from_the_address_that_guessed(dave):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _post_login(Client(), "dave", "wrong-password-123", ip="10.7.0.1")
    client = Client()
    _assert_locked_out(client, _post_login(client, "dave", TEST_PASSWORD, ip="10.7.0.1"))
    assert AuditEvent.objects.filter(action="user.locked_out").exists()


def test_it_locks_an_address_trying_many_accounts(dave):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _post_login(Client(), f"guess{i}", "wrong-password-123", ip="10.2.0.1")

    client = Client()
    r = _post_login(client, "dave", TEST_PASSWORD, ip="10.2.0.1")
    _assert_locked_out(client, r)

    # Another address is not affected by that address's failures.
    assert _post_login(Client(), "dave", TEST_PASSWORD, ip="10.2.0.2").status_code == 302


def test_it_ignores_a_spoofed_forwarded_for_header(dave):
    # The lockout keys on REMOTE_ADDR only; a client-chosen header must not buy fresh attempts.
    for i in range(settings.AXES_FAILURE_LIMIT):
        _post_login(
            Client(), f"guess{i}", "wrong-password-123", ip="10.3.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}"
        )
    client = Client()
    r = _post_login(client, "dave", TEST_PASSWORD, ip="10.3.0.1", HTTP_X_FORWARDED_FOR="192.0.2.200")
    _assert_locked_out(client, r)


def test_it_does_not_lock_below_the_limit(dave):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _post_login(Client(), "dave", "wrong-password-123")
    assert _post_login(Client(), "dave", TEST_PASSWORD).status_code == 302


def test_it_records_the_login_in_the_audit_trail(dave):
    _post_login(Client(), "dave", TEST_PASSWORD, ip="10.4.0.1")
    event = AuditEvent.objects.filter(action="user.login").get()
    assert event.actor_id == dave.pk
    assert event.object_id == str(dave.pk)
    assert event.ip == "10.4.0.1"


def test_it_does_not_follow_an_offsite_next(dave):
    r = _post_login(Client(), "dave", TEST_PASSWORD, next="https://evil.example/steal")
    assert r.status_code == 302
    assert r.url == "/"

    r = _post_login(Client(), "dave", TEST_PASSWORD, next="//evil.example/steal")
    assert r.url == "/"


def test_it_follows_a_local_next(dave):
    r = _post_login(Client(), "dave", TEST_PASSWORD, next="/accounts/tokens/")
    assert r.url == "/accounts/tokens/"


@pytest.mark.parametrize(
    "password",
    ["short-9Aa", "password1234", "123456789012", "qwertyuiop12"],
    ids=["too-short", "common", "numeric", "common-2"],
)
def test_it_rejects_weak_passwords(db, password):
    with pytest.raises(ValidationError):
        validate_password(password)
    with pytest.raises(ValidationError):
        user_create(actor=SYSTEM, username="erin", email="erin@example.com", password=password)


@pytest.mark.real_hashing
def test_it_accepts_a_long_uncommon_password(db):
    user = user_create(
        actor=SYSTEM, username="erin", email="erin@example.com", password="plum-orbit-ladder-47"
    )
    assert user.check_password("plum-orbit-ladder-47")
    assert user.password.startswith("argon2")


def test_it_only_logs_out_with_post(dave):
    client = Client()
    client.force_login(dave)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.get("/").status_code == 200


def test_it_logs_out_and_ends_the_session(dave):
    client = Client()
    client.force_login(dave)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value

    r = client.post("/accounts/logout/")

    assert r.status_code == 302
    assert r.url == "/accounts/login/"
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get("/").status_code == 302
    assert AuditEvent.objects.filter(action="user.logout", actor_id=dave.pk).exists()


def test_every_spelling_of_an_account_shares_one_slow_down(dave):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _post_login(Client(), "dave", "wrong-password-123", ip=f"10.8.0.{i + 1}")
    # Full-width and mathematical letters normalize (NFKC) to the same account.
    for spelling in ("ｄave", "DAVE", "𝐝ave"):
        assert _post_login(Client(), spelling, TEST_PASSWORD, ip="10.8.1.1").status_code == 429, spelling


def test_a_locked_address_cannot_keep_an_account_slowed_down(dave, monkeypatch):
    import time

    for _ in range(settings.AXES_FAILURE_LIMIT):
        _post_login(Client(), f"guess-{_}", "wrong-password-123", ip="10.9.0.1")  # the address locks
    later = time.time() + settings.LOGIN_ACCOUNT_DELAY_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        _post_login(Client(), "dave", "wrong-password-123", ip="10.9.0.1")  # refused by axes
    assert _post_login(Client(), "dave", TEST_PASSWORD, ip="10.9.9.1").status_code == 302


def test_a_lockout_is_audited_once_however_often_the_locked_address_tries(dave):
    for _ in range(settings.AXES_FAILURE_LIMIT + 6):
        _post_login(Client(), "dave", "wrong-password-123", ip="10.10.0.1")
    assert AuditEvent.objects.filter(action="user.locked_out").count() == 1
