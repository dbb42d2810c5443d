"""Personal API tokens: issued once in the UI, stored hashed, accepted as Bearer, refused when dead."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

from portal.models import ApiToken, AuditEvent, Membership, Role
from portal.services.org_chart import membership_revoke
from tests.factories import SYSTEM, ApiTokenFactory, grant
from tests.portal.error_shape import assert_error

TOKENS = "/accounts/tokens/"
ME = "/api/v1/me/"


def _bearer(secret: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


def _create_in_ui(client: Client, name: str = "payments CI", days: int = 30) -> str:
    r = client.post(TOKENS, {"name": name, "days": days})
    assert r.status_code == 200
    return re.search(r'<code class="secret" id="new-token">([^<]+)</code>', r.content.decode()).group(1)


@pytest.fixture
def alice_token(alice: User) -> str:
    return ApiTokenFactory(user=alice, name="ci", days=30).secret


def test_it_shows_the_secret_once_and_stores_only_its_hash(alice, login):
    client = login(alice)

    secret = _create_in_ui(client)

    assert secret.startswith("asp_")
    assert len(secret) > 40
    listing = client.get(TOKENS)
    assert listing.status_code == 200
    assert "payments CI" in listing.content.decode()
    assert secret not in listing.content.decode()

    token = ApiToken.objects.get(user=alice)
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    for field in ApiToken._meta.concrete_fields:
        assert secret not in str(getattr(token, field.attname)), field.name
    assert secret not in str(list(AuditEvent.objects.values()))
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)


def test_it_issues_tokens_from_distinct_random_secrets(alice, login):
    client = login(alice)
    assert _create_in_ui(client, "one") != _create_in_ui(client, "two")


@pytest.mark.parametrize("days", [0, -1, settings.API_TOKEN_MAX_DAYS + 1, "many"])
def test_it_rejects_a_lifetime_out_of_bounds(alice, login, days):
    r = login(alice).post(TOKENS, {"name": "ci", "days": days})
    assert r.status_code == 200
    assert 'id="new-token"' not in r.content.decode()
    assert 'class="text-danger small"' in r.content.decode()
    assert not ApiToken.objects.exists()


def test_it_requires_a_name(alice, login):
    r = login(alice).post(TOKENS, {"name": "", "days": 5})
    assert 'id="new-token"' not in r.content.decode()
    assert not ApiToken.objects.exists()


def test_it_authenticates_a_bearer_token_with_the_owners_current_capabilities(org, alice, alice_token):
    r = _bearer(alice_token).get(ME)
    assert r.status_code == 200
    assert r.json()["username"] == "alice"
    assert "inventory.submit" in r.json()["capabilities"]

    grant(alice, org.other_division, Role.AUDITOR)
    assert "audit.view" in _bearer(alice_token).get(ME).json()["capabilities"]

    for membership in Membership.objects.filter(user=alice):
        membership_revoke(actor=SYSTEM, membership=membership)
    r = _bearer(alice_token).get(ME)
    assert r.status_code == 200
    assert r.json()["capabilities"] == []
    assert r.json()["roles"] == []


def test_it_records_when_a_token_was_last_used(alice, alice_token):
    assert ApiToken.objects.get().last_used_at is None
    _bearer(alice_token).get(ME)
    assert ApiToken.objects.get().last_used_at is not None


def test_it_refuses_an_expired_token(alice, alice_token):
    past = timezone.now() - timedelta(days=2)
    ApiToken.objects.update(created_at=past, expires_at=past + timedelta(days=1))
    r = _bearer(alice_token).get(ME)
    assert_error(r, 401, "authentication_failed")
    assert r["WWW-Authenticate"] == 'Bearer realm="api"'


def test_it_refuses_a_token_revoked_in_the_ui(alice, login, alice_token):
    client = login(alice)
    token = ApiToken.objects.get()

    r = client.post(f"/accounts/tokens/{token.pk}/revoke/")

    assert r.status_code == 302
    assert r.url == TOKENS
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action="api_token.revoke", object_id=str(token.pk)).exists()
    assert_error(_bearer(alice_token).get(ME), 401)


def test_it_refuses_a_token_revoked_through_the_api(alice, alice_token):
    token = ApiToken.objects.get()
    api = _bearer(alice_token)

    r = api.post(f"/api/v1/tokens/{token.pk}/revoke/")

    assert r.status_code == 200
    assert r.json()["is_active"] is False
    assert_error(api.get(ME), 401)


def test_it_refuses_the_token_of_an_inactive_user(alice, alice_token):
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert_error(_bearer(alice_token).get(ME), 401)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer asp_nonsense",
        "Bearer not-even-our-prefix",
        "Bearer asp_" + "A" * 10_000,
        "Bearer asp_é",
        "Bearer asp_\u2603",
        "Bearer \u65e5\u672c",
        "Token asp_nonsense",
        "bearer\tasp_nonsense",
    ],
    ids=[
        "keyword-only",
        "empty",
        "two-parts",
        "unknown",
        "foreign",
        "over-long",
        "latin-1",
        "snowman",
        "cjk",
        "token-keyword",
        "tab",
    ],
)
def test_it_answers_garbage_with_401_not_500(alice, alice_token, header):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=header)
    assert_error(api.get(ME), 401)


def test_it_ignores_other_schemes_and_stays_anonymous(db):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Basic YWxpY2U6c2VjcmV0")
    assert_error(api.get(ME), 401, "not_authenticated")


def test_it_cannot_revoke_someone_elses_token(alice, charlie, login, alice_token):
    token = ApiToken.objects.get(user=alice)
    charlie_secret = ApiTokenFactory(user=charlie, name="c", days=5).secret

    r = login(charlie).post(f"/accounts/tokens/{token.pk}/revoke/")
    assert r.status_code == 404
    assert_error(_bearer(charlie_secret).post(f"/api/v1/tokens/{token.pk}/revoke/"), 404, "not_found")

    token.refresh_from_db()
    assert token.revoked_at is None
    assert _bearer(alice_token).get(ME).status_code == 200


def test_it_lists_only_the_callers_tokens_without_secrets(alice, charlie, alice_token):
    ApiTokenFactory(user=charlie, name="charlie's", days=5)
    r = _bearer(alice_token).get("/api/v1/tokens/")
    assert r.status_code == 200
    names = [t["name"] for t in r.json()["results"]]
    assert names == ["ci"]
    assert "token_hash" not in r.json()["results"][0]
    assert alice_token not in r.content.decode()


def test_it_does_not_issue_tokens_through_the_api(alice, alice_token):
    r = _bearer(alice_token).post("/api/v1/tokens/", {"name": "more", "days": 5}, format="json")
    assert_error(r, 405, "method_not_allowed")
    assert ApiToken.objects.count() == 1


def test_it_requires_login_for_the_token_pages(alice_token):
    token = ApiToken.objects.get()
    r = Client().get(TOKENS)
    assert r.status_code == 302
    assert r.url.startswith("/accounts/login/?next=")
    r = Client().post(f"/accounts/tokens/{token.pk}/revoke/")
    assert r.status_code == 302
    assert r.url.startswith("/accounts/login/")
    assert ApiToken.objects.get().revoked_at is None


def test_it_answers_anonymous_api_calls_with_401(db):
    for method, path in [("get", ME), ("get", "/api/v1/tokens/"), ("post", "/api/v1/tokens/1/revoke/")]:
        r = getattr(APIClient(), method)(path)
        assert_error(r, 401, "not_authenticated")
        assert r["WWW-Authenticate"] == 'Bearer realm="api"'


def test_it_only_revokes_with_post(alice, login, alice_token):
    token = ApiToken.objects.get()
    assert login(alice).get(f"/accounts/tokens/{token.pk}/revoke/").status_code == 405
    assert_error(_bearer(alice_token).get(f"/api/v1/tokens/{token.pk}/revoke/"), 405)


@pytest.fixture
def anon_rate(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # DRF reads the rates once, into a class attribute; patch it there and start from an empty cache.
    monkeypatch.setattr(
        AnonRateThrottle, "THROTTLE_RATES", {**AnonRateThrottle.THROTTLE_RATES, "anon": "3/min"}
    )
    cache.clear()
    yield
    cache.clear()


def test_it_throttles_anonymous_callers(db, anon_rate):
    api = APIClient(REMOTE_ADDR="10.5.0.1")
    for _ in range(3):
        assert api.get(ME).status_code == 401

    r = api.get(ME)

    assert_error(r, 429, "throttled")
    assert 0 < int(r["Retry-After"]) <= 60
    # Other addresses have their own budget.
    assert APIClient(REMOTE_ADDR="10.5.0.2").get(ME).status_code == 401


def test_it_throttles_guessed_tokens_like_anonymous_calls(alice, alice_token, anon_rate):
    guesser = APIClient(REMOTE_ADDR="10.6.0.1")
    guesser.credentials(HTTP_AUTHORIZATION="Bearer asp_guess")
    for _ in range(3):
        assert guesser.get(ME).status_code == 401

    r = guesser.get(ME)

    assert_error(r, 429, "throttled")
    assert "Retry-After" in r
    # A valid token is a user, not anonymous: not held back by the guesses from another address.
    assert _bearer(alice_token).get(ME).status_code == 200


def test_a_token_made_without_second_factor_stops_when_its_owner_becomes_privileged(alice, org):
    from portal.models import Role
    from tests.factories import grant

    secret = ApiTokenFactory(user=alice, name="ci", days=5).secret
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/me/").status_code == 200
    grant(alice, org.root, Role.CISO)  # privileged from now on: TOTP is required
    assert client.get("/api/v1/me/").status_code == 401


def test_a_privileged_users_token_from_a_verified_session_works(ciso, login):
    client = login(ciso)  # second factor proved
    page = client.post("/accounts/tokens/", {"name": "ciso ci", "days": 7})
    secret = re.search(r'id="new-token">([^<]+)<', page.content.decode()).group(1)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/me/").status_code == 200
