"""Endpoints found in access logs: the list, log uploads, dismissing and registering."""

from __future__ import annotations

from inventory.models import Api, ApiStatus, DiscoveredEndpoint
from portal.models import Role
from tests.data import upload
from tests.factories import DiscoveredEndpointFactory, LogIngestFactory
from tests.inventory.pages import url


def test_it_lists_discoveries_in_scope(org, api, bob, ciso, login):
    DiscoveredEndpointFactory(org_unit=org.root, host="shadow.example.com")
    DiscoveredEndpointFactory(
        org_unit=org.team, host="pay.example.com", finding=DiscoveredEndpoint.Finding.UNDOCUMENTED, api=api
    )
    body = login(bob).get(url("discovery")).content.decode()
    assert "pay.example.com" in body and "shadow.example.com" not in body
    body = login(ciso).get(url("discovery"), {"finding": "shadow_api"}).content.decode()
    assert "shadow.example.com" in body and "pay.example.com" not in body


def test_it_ingests_an_uploaded_log(org, api, env, ciso, login):
    log = (
        b'10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /v1/users/42 HTTP/1.1" 200 512 "-" "curl/8"\n'
        b"this is not a log line\n"
    )
    client = login(ciso)
    response = client.post(
        url("discovery_upload"), {"file": upload("access.log", log), "host": "shadow.example.com"}
    )
    assert response.status_code == 302
    body = client.get(response["Location"]).content.decode()
    assert "2 lines, 1 read, 1 skipped" in body
    assert "line 2" in body
    assert "shadow.example.com/v1/users/{id}" in body


def test_it_reports_an_unreadable_log(org, ciso, login):
    response = login(ciso).post(url("discovery_upload"), {"file": upload("access.log", b"\n\n")})
    assert response.status_code == 400
    assert "empty" in response.content.decode()


def test_it_dismisses_with_a_reason(org, ciso, alice, login):
    item = DiscoveredEndpointFactory(org_unit=org.root, host="shadow.example.com")
    # Out of alice's sight: a 404, like every object outside the user's subtree (see the matrix).
    assert login(alice).post(url("discovered_dismiss", item.pk), {"reason": "x"}).status_code == 404
    own = DiscoveredEndpointFactory(org_unit=org.team, host="own.example.com")
    assert login(alice).post(url("discovered_dismiss", own.pk), {"reason": "x"}).status_code == 403
    client = login(ciso)
    assert client.post(url("discovered_dismiss", item.pk), {"reason": ""}).status_code == 400
    assert client.post(url("discovered_dismiss", item.pk), {"reason": "Test host"}).status_code == 302
    item.refresh_from_db()
    assert item.state == DiscoveredEndpoint.State.DISMISSED and item.dismissed_reason == "Test host"


def test_it_hides_out_of_scope_discoveries(org, alice, login):
    item = DiscoveredEndpointFactory(org_unit=org.root, host="shadow.example.com")
    assert login(alice).get(url("discovered_register", item.pk)).status_code == 404


def test_it_registers_a_shadow_api_as_a_draft(org, ciso, login):
    item = DiscoveredEndpointFactory(org_unit=org.root, host="shadow.example.com")
    client = login(ciso)
    assert "shadow-example-com" in client.get(url("discovered_register", item.pk)).content.decode()
    response = client.post(
        url("discovered_register", item.pk), {"org_unit": org.team.pk, "name": "Shadow", "slug": "shadow"}
    )
    assert response.status_code == 302
    api = Api.objects.get(slug="shadow")
    assert api.org_unit == org.team and api.status == ApiStatus.DRAFT
    item.refresh_from_db()
    assert item.state == DiscoveredEndpoint.State.REGISTERED and item.registered_api == api


def test_only_company_wide_reviewers_read_an_ingest_summary(org, ciso, make_member, login):
    ingest = LogIngestFactory(filename="secret-gateway.log")
    assert b"secret-gateway.log" in login(ciso).get(f"/inventory/discovery/?ingest={ingest.pk}").content
    divisional = make_member(Role.SECURITY_ENGINEER, org.division)
    page = login(divisional).get(f"/inventory/discovery/?ingest={ingest.pk}")
    assert page.status_code == 200 and b"secret-gateway.log" not in page.content
    assert login(divisional).get("/inventory/discovery/upload/").status_code == 403
