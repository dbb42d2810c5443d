"""The second factor: who is forced through it, enrolment, verification and recovery codes."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django_otp.oath import TOTP, totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.models import AuditEvent, RecoveryCodeDevice, Role
from tests.conftest import MakeMember, Org
from tests.factories import TEST_PASSWORD

SETUP = "/accounts/2fa/setup/"
VERIFY = "/accounts/2fa/verify/"
PAGES = ["/", "/audit/", "/org/", "/accounts/tokens/"]


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def _code_of_step(device: TOTPDevice, t: int) -> str:
    """The code of time step ``t``, whatever the clock says now."""
    generator = TOTP(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    generator.time = device.t0 + t * device.step
    return f"{generator.token():0{device.digits}d}"


def _session_client(user: User) -> Client:
    """Logged in with the password only: the second factor not yet proved."""
    client = Client()
    client.force_login(user)
    return client


def _enrol(client: Client) -> tuple[TOTPDevice, list[str]]:
    client.get(SETUP)
    device = TOTPDevice.objects.get(confirmed=False)
    r = client.post(SETUP, {"code": _code(device)})
    assert r.status_code == 200
    return device, re.findall(r"<li>((?:[0-9a-f]{5}-){3}[0-9a-f]{5})</li>", r.content.decode())


@pytest.fixture
def engineer(org: Org, make_member: MakeMember) -> User:
    return make_member(Role.SECURITY_ENGINEER, org.root, "sam")


@pytest.fixture
def enrolled(ciso: User) -> tuple[TOTPDevice, list[str]]:
    """carla with a confirmed authenticator and recovery codes, in a session that is not verified."""
    return _enrol(_session_client(ciso))


@pytest.mark.parametrize("persona", ["ciso", "engineer"])
@pytest.mark.parametrize("path", PAGES)
def test_it_sends_a_privileged_user_without_a_device_to_setup(request, persona, path):
    client = _session_client(request.getfixturevalue(persona))
    r = client.get(path)
    assert r.status_code == 302
    assert r.url.startswith(SETUP)


@pytest.mark.parametrize("persona", ["ciso", "engineer"])
def test_it_refuses_the_api_to_a_privileged_session_without_second_factor(request, persona):
    client = _session_client(request.getfixturevalue(persona))
    r = client.get("/api/v1/me/")
    assert r.status_code == 403
    assert r.json() == {
        "error": {
            "code": "second_factor_required",
            "message": "Second factor required.",
            "request_id": r["X-Request-ID"],
        }
    }


def test_it_keeps_the_requested_page_for_after_setup(ciso):
    r = _session_client(ciso).get("/audit/?action=user")
    assert r.url == SETUP + "?next=%2Faudit%2F%3Faction%3Duser"


def test_it_renders_a_local_qr_code_and_the_key(ciso):
    r = _session_client(ciso).get(SETUP)
    assert r.status_code == 200
    page = r.content.decode()
    device = TOTPDevice.objects.get(user=ciso, confirmed=False)
    assert re.search(r'<img class="qr-code[^"]*" src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]+"', page)
    key = re.search(r'<span class="secret">([A-Z2-7=]+)</span>', page).group(1)
    assert key.rstrip("=") in device.config_url
    # Nothing in the page may send the secret (or anything else) to a third party.
    assert "http://" not in page
    assert "https://" not in page
    assert "otpauth://" not in page  # only inside the encoded image


def test_it_enrols_with_a_correct_code_and_shows_recovery_codes_once(ciso):
    client = _session_client(ciso)
    device, codes = _enrol(client)

    device.refresh_from_db()
    assert device.confirmed
    assert len(codes) == 10
    assert len(set(codes)) == 10
    stored = RecoveryCodeDevice.objects.get(user=ciso)
    assert stored.remaining == 10
    # Only salted hashes are kept: no code appears anywhere in the stored row.
    row = str(RecoveryCodeDevice.objects.filter(user=ciso).values().get())
    assert not any(RecoveryCodeDevice.normalize(c) in row or c in row for c in codes)
    assert AuditEvent.objects.filter(action="user.2fa_enrol", object_id=str(ciso.pk)).exists()

    # The session is now verified: every page opens, and the codes are never shown again.
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 200, path
        assert codes[0] not in r.content.decode()
    assert client.get("/api/v1/me/").status_code == 200


def test_it_does_not_enrol_with_a_wrong_code(ciso):
    client = _session_client(ciso)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=ciso)
    wrong = f"{(int(_code(device)) + 1) % 10**6:06d}"

    r = client.post(SETUP, {"code": wrong})

    assert r.status_code == 200
    assert "That code is not valid" in r.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert not RecoveryCodeDevice.objects.filter(user=ciso).exists()
    assert client.get("/").url.startswith(SETUP)


def test_it_sends_an_enrolled_but_unverified_session_to_verify(ciso, enrolled):
    client = _session_client(ciso)
    for path in [*PAGES, SETUP]:
        r = client.get(path)
        assert r.status_code == 302
        assert r.url.startswith(VERIFY)
    assert client.get("/api/v1/me/").status_code == 403


def test_it_verifies_with_a_totp_code(ciso, enrolled):
    device, _ = enrolled
    device.last_t = -1  # the enrolment code's time step is spent; allow the current one again
    device.save(update_fields=["last_t"])
    client = _session_client(ciso)

    r = client.post(VERIFY + "?next=/org/", {"code": _code(device)})

    assert r.status_code == 302
    assert r.url == "/org/"
    assert client.get("/audit/").status_code == 200
    assert AuditEvent.objects.filter(action="user.2fa_verify", after={"method": "totp"}).exists()


def test_it_refuses_a_replayed_totp_code(ciso, enrolled):
    device, _ = enrolled
    device.refresh_from_db()
    # Replay the code of the step spent at enrolment, even if the clock has moved on to the next
    # step meanwhile (computing "the current code" here made the test flaky at a step boundary).
    r = _session_client(ciso).post(VERIFY, {"code": _code_of_step(device, device.last_t)})
    assert r.status_code == 200
    assert "That code is not valid." in r.content.decode()


def test_it_verifies_with_a_recovery_code_once_only(ciso, enrolled):
    _, codes = enrolled
    client = _session_client(ciso)

    r = client.post(VERIFY, {"code": codes[3]})  # as displayed, with the dash

    assert r.status_code == 302
    assert client.get("/").status_code == 200
    assert RecoveryCodeDevice.objects.get(user=ciso).remaining == 9

    again = _session_client(ciso)
    r = again.post(VERIFY, {"code": codes[3]})
    assert r.status_code == 200
    assert again.get("/").url.startswith(VERIFY)


def test_it_slows_down_guessing_after_a_wrong_code(ciso, enrolled):
    _, codes = enrolled
    client = _session_client(ciso)
    assert client.post(VERIFY, {"code": "00000000-00000000"}).status_code == 200
    # Right away even a good code is refused: each failure doubles the wait (django-otp throttling).
    assert client.post(VERIFY, {"code": codes[0]}).status_code == 200
    assert client.get("/").url.startswith(VERIFY)


def test_it_does_not_follow_an_offsite_next_after_verify(ciso, enrolled):
    _, codes = enrolled
    r = _session_client(ciso).post(VERIFY + "?next=https://evil.example/", {"code": codes[0]})
    assert r.url == "/"


def test_it_does_not_force_a_developer_without_a_device(alice):
    client = _session_client(alice)
    for path in ["/", "/org/", "/accounts/tokens/"]:
        assert client.get(path).status_code == 200, path
    assert client.get("/api/v1/me/").status_code == 200


def test_it_makes_a_developer_who_enrolled_verify_too(alice):
    _enrol(_session_client(alice))

    client = _session_client(alice)
    r = client.get("/")
    assert r.status_code == 302
    assert r.url.startswith(VERIFY)
    assert client.get("/api/v1/me/").status_code == 403


def test_it_lets_an_unverified_user_log_out(ciso):
    client = _session_client(ciso)
    r = client.post("/accounts/logout/")
    assert r.status_code == 302
    assert r.url == "/accounts/login/"
    assert "_auth_user_id" not in client.session


def test_it_regenerates_recovery_codes_and_invalidates_the_old_ones(ciso, enrolled):
    _, old_codes = enrolled
    client = _session_client(ciso)
    assert client.post(VERIFY, {"code": old_codes[0]}).status_code == 302

    r = client.post(
        "/accounts/2fa/recovery-codes/", {"password": TEST_PASSWORD, "current_code": old_codes[2]}
    )

    assert r.status_code == 200
    new_codes = re.findall(r"<li>((?:[0-9a-f]{5}-){3}[0-9a-f]{5})</li>", r.content.decode())
    assert len(new_codes) == 10
    assert not set(new_codes) & set(old_codes)
    assert 'href="/"' in r.content.decode()

    stale = _session_client(ciso)
    assert stale.post(VERIFY, {"code": old_codes[1]}).status_code == 200
    assert stale.get("/").url.startswith(VERIFY)
    RecoveryCodeDevice.objects.get(user=ciso).throttle_reset()  # the failure above delays the next try
    fresh = _session_client(ciso)
    assert fresh.post(VERIFY, {"code": new_codes[1]}).status_code == 302


def test_it_requires_post_and_a_verified_session_to_regenerate_codes(ciso, enrolled):
    _, codes = enrolled
    client = _session_client(ciso)
    r = client.post("/accounts/2fa/recovery-codes/")
    assert r.status_code == 302
    assert r.url.startswith(VERIFY)
    device = RecoveryCodeDevice.objects.get(user=ciso)
    assert device.hash_code(codes[0]) in device.code_hashes

    client.post(VERIFY, {"code": codes[0]})
    page = client.get("/accounts/2fa/recovery-codes/")
    assert page.status_code == 200 and "Current password" in page.content.decode()


@pytest.mark.parametrize(
    "reauth",
    [{}, {"password": "wrong-password-1", "current_code": "use-a-code"}, {"password": TEST_PASSWORD}],
    ids=["nothing", "wrong-password", "no-code"],
)
def test_new_recovery_codes_need_the_password_and_a_current_code(ciso, enrolled, reauth):
    _, codes = enrolled
    reauth = {k: (codes[3] if v == "use-a-code" else v) for k, v in reauth.items()}
    client = _session_client(ciso)
    client.post(VERIFY, {"code": codes[0]})
    before = list(RecoveryCodeDevice.objects.get(user=ciso).code_hashes)
    r = client.post("/accounts/2fa/recovery-codes/", reauth)
    assert "Make new codes" in r.content.decode()
    assert RecoveryCodeDevice.objects.get(user=ciso).code_hashes == before
    assert not AuditEvent.objects.filter(action="user.2fa_recovery_codes").exists()


def test_replacing_the_device_needs_the_password_and_a_current_code(ciso, enrolled):
    old_device, codes = enrolled
    client = _session_client(ciso)
    client.post(VERIFY, {"code": codes[0]})
    client.get(SETUP)
    new_device = TOTPDevice.objects.get(user=ciso, confirmed=False)
    # A session left open is not enough: the new device's code alone is refused.
    r = client.post(SETUP, {"code": _code(new_device)})
    assert r.status_code == 200 and "Current password" in r.content.decode()
    assert TOTPDevice.objects.filter(user=ciso, confirmed=True).get().pk == old_device.pk
    r = client.post(SETUP, {"code": _code(new_device), "password": TEST_PASSWORD, "current_code": codes[1]})
    assert r.status_code == 200 and "recovery" in r.content.decode().lower()
    assert TOTPDevice.objects.filter(user=ciso, confirmed=True).get().pk == new_device.pk
    assert AuditEvent.objects.filter(action="user.2fa_replace", object_id=str(ciso.pk)).exists()


def test_it_requires_login_for_the_second_factor_pages(db):
    for path in [SETUP, VERIFY]:
        r = Client().get(path)
        assert r.status_code == 302
        assert r.url.startswith("/accounts/login/")


def test_a_recovery_code_cannot_be_spent_twice_by_racing_logins(ciso, enrolled):
    _, codes = enrolled
    first = RecoveryCodeDevice.objects.get(user=ciso)
    second = RecoveryCodeDevice.objects.get(user=ciso)  # loaded before the first spends the code
    assert first.verify_token(codes[5]) is True
    assert second.verify_token(codes[5]) is False
    assert RecoveryCodeDevice.objects.get(user=ciso).remaining == 9
