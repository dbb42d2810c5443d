"""One error shape for the API, generic error pages with a request id for people."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from tests.portal.error_shape import SECRET_DETAIL, assert_error, assert_error_page


def _api(user: User) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


def test_it_answers_401_in_the_error_shape(db):
    error = assert_error(APIClient().get("/api/v1/me/"), 401, "not_authenticated")
    assert error["message"] == "Authentication required."


def test_it_answers_403_in_the_error_shape(bob):
    # bob is a viewer: no audit capability.
    error = assert_error(_api(bob).get("/api/v1/audit-events/"), 403, "permission_denied")
    assert error["message"] == "Not allowed."


def test_it_answers_a_csrf_failure_without_detail(alice):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(alice)
    error = assert_error(api.post("/api/v1/tokens/1/revoke/"), 403)
    assert "CSRF" not in error["message"]


def test_it_answers_404_in_the_error_shape(alice, org):
    assert_error(_api(alice).get("/api/v1/org-units/999999/"), 404, "not_found")
    # A unit outside alice's subtree is "not found" too, never "forbidden".
    assert_error(_api(alice).get(f"/api/v1/org-units/{org.other_team.pk}/"), 404, "not_found")
    # And a URL that routes nowhere under /api/ answers in the same shape.
    assert_error(_api(alice).get("/api/v1/no-such-thing/"), 404, "not_found")


def test_it_answers_405_in_the_error_shape(alice):
    error = assert_error(_api(alice).delete("/api/v1/me/"), 405, "method_not_allowed")
    assert error["message"] == "Method not allowed."


def test_it_answers_429_in_the_error_shape(alice, monkeypatch):
    from rest_framework.throttling import UserRateThrottle

    monkeypatch.setattr(
        UserRateThrottle, "THROTTLE_RATES", {**UserRateThrottle.THROTTLE_RATES, "user": "2/min"}
    )
    api = _api(alice)
    api.get("/api/v1/me/")
    api.get("/api/v1/me/")
    r = api.get("/api/v1/me/")
    assert_error(r, 429, "throttled")
    assert int(r["Retry-After"]) > 0


def test_a_client_cannot_choose_the_request_id(db):
    r = APIClient().get("/api/v1/me/", headers={"X-Request-ID": "edge-1234abcd"})
    assert r["X-Request-ID"] != "edge-1234abcd" and len(r["X-Request-ID"]) == 16
    assert r.json()["error"]["request_id"] == r["X-Request-ID"]
    assert "X-Upstream-Request-ID" not in r


def test_a_trusted_proxys_request_id_is_kept_beside_the_servers_own(db, settings, alice, login):
    import ipaddress

    from portal.models import AuditEvent

    settings.TRUSTED_PROXY_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    r = APIClient().get("/api/v1/me/", headers={"X-Request-ID": "edge-1234abcd"})
    assert r["X-Request-ID"] != "edge-1234abcd"
    assert r["X-Upstream-Request-ID"] == "edge-1234abcd"
    # The audit chain records the server's id only.
    client = login(alice)
    client.post("/accounts/logout/", headers={"X-Request-ID": "forged-id-123456"})
    assert not AuditEvent.objects.filter(request_id="forged-id-123456").exists()


def test_the_api_refuses_plain_http_when_https_is_required(db, settings, alice):
    from portal.services.tokens import api_token_create
    from tests.factories import SYSTEM

    settings.API_REQUIRE_HTTPS = True
    issued = api_token_create(actor=SYSTEM, user=alice, name="ci", days=1)
    client = APIClient()
    r = client.get("/api/v1/me/", headers={"Authorization": f"Bearer {issued.secret}"})
    assert_error(r, 403, "https_required")
    assert "HTTPS" in r.json()["error"]["message"]
    r = client.get("/api/v1/me/", headers={"Authorization": f"Bearer {issued.secret}"}, secure=True)
    assert r.status_code == 200


@pytest.mark.parametrize("incoming", ["<script>alert(1)</script>", "short", "x" * 65, "a b c d e f g h"])
def test_it_replaces_a_malformed_request_id(db, incoming):
    r = APIClient().get("/api/v1/me/", headers={"X-Request-ID": incoming})
    assert r["X-Request-ID"] != incoming
    assert len(r["X-Request-ID"]) == 16


def test_it_shows_a_generic_404_page(alice, login):
    assert_error_page(login(alice).get("/no-such-page/"), 404)


def test_it_shows_a_generic_404_page_for_someone_elses_token(alice, charlie, login):
    from tests.factories import ApiTokenFactory

    token = ApiTokenFactory(user=alice, name="ci", days=5)
    assert_error_page(login(charlie).post(f"/accounts/tokens/{token.pk}/revoke/"), 404)


def test_it_shows_a_generic_403_page(bob, login):
    assert_error_page(login(bob).get("/audit/"), 403)


@pytest.mark.urls("tests.portal.urls_errors")
def test_it_shows_a_generic_500_page(alice, login):
    client = login(alice)
    client.raise_request_exception = False
    assert_error_page(client.get("/boom/"), 500)


@pytest.mark.urls("tests.portal.urls_errors")
@pytest.mark.parametrize("path", ["/api/boom/", "/api/plain-boom/"], ids=["drf", "django"])
def test_it_answers_an_api_crash_in_the_error_shape(alice, path):
    api = _api(alice)
    api.raise_request_exception = False
    r = api.get(path)
    assert_error(r, 500, "server_error")
    assert SECRET_DETAIL not in r.content.decode()


@pytest.mark.urls("tests.portal.urls_errors")
def test_it_shows_a_500_page_to_anonymous_visitors_too(db):
    client = Client(raise_request_exception=False)
    assert_error_page(client.get("/boom/"), 500)
