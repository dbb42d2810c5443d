"""Expensive pages are rate-limited per user, and oversized bodies are refused before anything reads them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.core.cache import cache

if TYPE_CHECKING:
    from pytest_django.fixtures import Settings  # the `settings` fixture's type
from tests.portal.error_shape import assert_error_page


@pytest.fixture
def tight_rate(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from rest_framework.throttling import SimpleRateThrottle

    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], expensive="2/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    # DRF's throttles copy the rates when their module is first imported: patch that copy too.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    cache.clear()


def test_it_limits_token_creation_per_user(alice, bob, login, tight_rate):
    client = login(alice)
    for _ in range(2):
        assert client.post("/accounts/tokens/", {"name": "ci", "days": 5}).status_code == 200
    refused = client.post("/accounts/tokens/", {"name": "ci", "days": 5})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert alice.api_tokens.count() == 2
    # Per user: bob still has his own budget, and reading the page is never limited.
    assert login(bob).post("/accounts/tokens/", {"name": "ci", "days": 5}).status_code == 200
    assert client.get("/accounts/tokens/").status_code == 200


def test_it_limits_uploads(alice, login, tight_rate):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from portal.audit import Actor
    from tests.factories import ApiFactory

    api = ApiFactory(org_unit=alice.memberships.get().org_unit, slug="up", name="Up", actor=Actor(user=alice))
    client = login(alice)
    codes = [
        client.post(
            f"/inventory/apis/{api.slug}/components/upload/",
            {"file": SimpleUploadedFile("requirements.txt", b"x==1\n")},
        ).status_code
        for _ in range(3)
    ]
    assert codes[:2] == [302, 302] and codes[2] == 429


def test_it_refuses_an_oversized_body_before_reading_it(client, db, settings):
    settings.PORTAL_REQUEST_MAX_BYTES = 1000
    response = client.post("/accounts/login/", {"username": "x" * 2000, "password": "y"})
    assert response.status_code == 413
    api = client.post("/api/v1/inventory/apis/", data="{}" + " " * 2000, content_type="application/json")
    assert api.status_code == 413
    assert api.json()["error"]["code"] == "request_too_large"


def test_reading_what_an_upload_endpoint_holds_is_not_expensive(alice, tight_rate):
    from rest_framework.test import APIClient

    from portal.services.tokens import api_token_create
    from tests.factories import SYSTEM, register_api

    api = register_api(alice.memberships.get().org_unit, "reads")
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_token_create(actor=SYSTEM, user=alice, name='ci').secret}"
    )
    url = f"/api/v1/inventory/apis/{api.slug}/components/"
    assert [client.get(url).status_code for _ in range(5)] == [200] * 5
    posts = [client.post(url, {"file": _requirements()}, format="multipart").status_code for _ in range(3)]
    assert posts == [201, 201, 429]


def _requirements():  # noqa: ANN202
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("requirements.txt", b"flask==2.0\n")


def test_it_shows_the_413_page_in_the_portal_layout(alice, login, settings):
    settings.PORTAL_REQUEST_MAX_BYTES = 1000
    response = login(alice).post("/inventory/new/", {"name": "x" * 2000})
    assert_error_page(response, 413)
    page = response.content.decode()
    # The same navigation as every other page: the user is known before the body is refused.
    assert 'href="/inventory/"' in page and f"Log out {alice.username}" in page
    assert "Content-Security-Policy" in response


def test_it_shows_the_413_page_to_an_anonymous_visitor(client, db, settings):
    settings.PORTAL_REQUEST_MAX_BYTES = 1000
    response = client.post("/inventory/new/", {"name": "x" * 2000})
    assert_error_page(response, 413)
    assert "Log out" not in response.content.decode()


def test_the_413_page_renders_without_a_user_on_the_request(db, settings):
    # As when the size check runs before authentication: no request.user, no session.
    from django.test import RequestFactory

    from portal.middleware import RequestSizeLimitMiddleware

    settings.PORTAL_REQUEST_MAX_BYTES = 1000
    request = RequestFactory().post("/inventory/new/", {"name": "x" * 2000})
    response = RequestSizeLimitMiddleware(lambda r: None)(request)  # type: ignore[arg-type,return-value]
    assert response.status_code == 413
    page = response.content.decode()
    assert "API Security Portal" in page and "Too large" in page and "Log out" not in page
