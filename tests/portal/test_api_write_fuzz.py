"""No input reaches a 500: generated bodies go to every write endpoint of the REST API.

The endpoints come from /api/schema/, which drf-spectacular builds from the URLconf, so a new write
endpoint is fuzzed without touching this file. Path parameters name real objects (an API with an
environment, a discovery finding, a spare token), so the bodies reach the serializers and services
instead of stopping at a 404. Two generators:

* Schemathesis, from the schema: bodies of the right shape with edge values, and broken ones;
* hypothesis, from nothing: any JSON value at all, as an attacker would send.

Only one thing is asserted: no status of 500 or more.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.factories import ApiFactory, ApiTokenFactory, DiscoveredEndpointFactory, EnvironmentFactory
from tests.portal.test_schema_contract import bearer_for, load_schema, run

WRITE_METHODS = ("post", "put", "patch", "delete")


@pytest.fixture
def targets(org: Any, ciso: Any) -> dict[str, Any]:
    api = ApiFactory(org_unit=org.team, slug="payments", name="Payments")
    EnvironmentFactory(api=api, name="production")
    finding = DiscoveredEndpointFactory(org_unit=org.team)
    spare = ApiTokenFactory(user=ciso, name="spare", second_factor=True)  # revoked, not the one in use
    return {
        "slug": api.slug,
        "environment": "production",
        "id": finding.pk,
        "spare_token": spare.pk,
        "name": "A",  # an identity's or a cases document's name
    }


def _write_operations(schema: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in WRITE_METHODS
    ]


def _url(path: str, targets: dict[str, Any]) -> str:
    ids = {"id": targets["spare_token"] if "/tokens/" in path else targets["id"]}
    return path.format(**{**targets, **ids})


def test_every_write_endpoint_is_fuzzed(ciso, login):
    """The list below is what the fuzz tests cover: every write of the URLconf under /api/."""
    schema = login(ciso).get("/api/schema/", {"format": "json"}).json()
    operations = _write_operations(schema)
    assert len(operations) >= 15
    assert all(path.startswith("/api/") for _, path in operations)
    assert ("post", "/api/v1/tokens/{id}/revoke/") in operations


@pytest.mark.slow
def test_schema_shaped_bodies_never_get_a_5xx(live_server, ciso, targets, tasks_inline, unthrottled):
    headers = bearer_for(ciso)
    schema = load_schema(
        live_server,
        headers,
        generation={"max-examples": 10},
        phases={"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        checks={"enabled": False, "not_a_server_error": {"enabled": True}},
        parameters={
            "path.slug": targets["slug"],
            "path.environment": targets["environment"],
        },
    ).include(method=[m.upper() for m in WRITE_METHODS])
    failures = sorted(set(run(schema)))
    assert failures == [], "\n".join(" | ".join(f) for f in failures)


@pytest.fixture
def write_operations(ciso: Any, login: Any) -> list[tuple[str, str]]:
    return _write_operations(login(ciso).get("/api/schema/", {"format": "json"}).json())


@pytest.fixture
def ciso_client(ciso: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer_for(ciso)["Authorization"])
    return client


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=6),
    max_leaves=20,
)
# Objects with the field names the API reads, holding values of the wrong type or size.
NEAR_MISSES = st.dictionaries(
    st.sampled_from(["name", "org_unit", "slug", "environments", "base_urls", "kind", "action", "reason"]),
    st.none() | st.integers() | st.text(max_size=700) | st.lists(st.text(max_size=30), max_size=3),
)


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=JSON | NEAR_MISSES)
def test_any_json_body_never_gets_a_5xx(
    ciso_client, targets, write_operations, tasks_inline, unthrottled, body
):
    for method, path in write_operations:
        response = getattr(ciso_client, method)(_url(path, targets), body, format="json")
        assert response.status_code < 500, (method, path, body, response.content[:300])
