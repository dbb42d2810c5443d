"""Whether a non-privileged user must prove a second factor is asked of every device model in one
query on every request (``portal.middleware.has_confirmed_device``): never remembered between them."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client

from tests.factories import RecoveryCodeDeviceFactory, TOTPDeviceFactory

VERIFY = "/accounts/2fa/verify/"


def _password_only(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_device_enrolled_elsewhere_counts_on_the_next_request(alice: User):
    client = _password_only(alice)
    assert client.get("/").status_code == 200

    TOTPDeviceFactory(user=alice, confirmed=True)  # enrolled from another session
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith(VERIFY)


def test_any_device_model_counts_not_only_totp(alice: User):
    RecoveryCodeDeviceFactory(user=alice, confirmed=True)
    response = _password_only(alice).get("/inventory/")
    assert response.status_code == 302
    assert response.url.startswith(VERIFY)


def test_an_unconfirmed_device_does_not(alice: User):
    TOTPDeviceFactory(user=alice, confirmed=False)
    RecoveryCodeDeviceFactory(user=alice, confirmed=False)
    assert _password_only(alice).get("/inventory/").status_code == 200


def test_someone_elses_device_does_not(alice: User, bob: User):
    TOTPDeviceFactory(user=bob, confirmed=True)
    assert _password_only(alice).get("/inventory/").status_code == 200
