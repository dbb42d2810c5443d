"""/api/docs/ (Swagger UI) and /api/schema/: a page of the portal, its operations grouped by app."""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.shortcuts import resolve_url


def test_it_sends_a_visitor_to_log_in(client, db):  # noqa: ANN001
    response = client.get("/api/docs/")
    assert response.status_code == 302
    assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))


def test_it_shows_the_portals_navigation(alice, login):  # noqa: ANN001
    body = login(alice).get("/api/docs/").content.decode()
    assert 'class="navbar ' in body
    assert 'href="/inventory/"' in body and 'href="/accounts/tokens/"' in body
    assert "Log out alice" in body
    assert 'id="swagger-ui"' in body  # and Swagger UI below it


def test_it_groups_operations_by_app(alice, login):  # noqa: ANN001
    schema = login(alice).get("/api/schema/", {"format": "json"}).json()
    tags_by_prefix: dict[str, set[str]] = defaultdict(set)
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            prefix = "/api/v1/inventory/" if path.startswith("/api/v1/inventory/") else "/api/v1/"
            tags_by_prefix[prefix].update(operation["tags"])
    assert tags_by_prefix == {"/api/v1/inventory/": {"inventory"}, "/api/v1/": {"portal"}}
    assert [tag["name"] for tag in schema["tags"]] == ["inventory", "portal"]
