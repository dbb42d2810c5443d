"""The inventory REST API as CI uses it: a personal token, idempotent upserts by slug, uploads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from inventory.models import Api, ApiStatus, Component, Spec
from portal.audit import Actor
from portal.models import AuditEvent
from tests.data import data_file
from tests.factories import ApiDependencyFactory, ApiFactory, ApiTokenFactory, ConsumerServiceFactory

SPEC = data_file("openapi/payments.yaml")
REQUIREMENTS = data_file("lockfiles/requirements.txt")


def token_client(user: User) -> APIClient:
    # As created on the tokens page by a session that proved its second factor.
    token = ApiTokenFactory(user=user, name="ci", second_factor=True, actor=Actor(user=user))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.secret}")
    return client


@pytest.fixture
def ci(alice: User) -> APIClient:
    return token_client(alice)


def register(client: APIClient, slug: str = "payments", unit: str = "team", **extra: Any) -> object:
    body = {
        "org_unit": unit,
        "name": "Payments API",
        "description": "Moves money",
        "technical_contact_email": "pay@example.com",
        "auth_schemes": ["bearer"],
        "protocols": ["rest_https"],
        "environments": [
            {"name": "production", "base_urls": ["https://pay.example.com/v1"], "is_production": True}
        ],
        **extra,
    }
    return client.put(f"/api/v1/inventory/apis/{slug}/", body, format="json")


def test_it_creates_then_updates_idempotently_by_slug(ci):
    first = register(ci)
    assert first.status_code == 201, first.json()
    assert first.json()["status"] == "draft"
    assert first.json()["environments"][0]["base_urls"] == ["https://pay.example.com/v1"]
    events = AuditEvent.objects.count()
    again = register(ci)
    assert again.status_code == 200
    assert AuditEvent.objects.count() == events  # nothing changed, nothing recorded
    changed = register(ci, description="Moves more money")
    assert changed.json()["description"] == "Moves more money"
    assert Api.objects.count() == 1


def test_it_rejects_bad_input_with_field_errors(ci):
    response = ci.put(
        "/api/v1/inventory/apis/payments/",
        {"org_unit": "team", "name": "", "protocols": ["carrier-pigeon"]},
        format="json",
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert "name" in fields and "protocols" in fields
    assert not Api.objects.exists()


def test_a_bad_environment_rolls_back_the_whole_registration(ci):
    response = register(ci, environments=[{"name": "prod", "base_urls": ["javascript:alert(1)"]}])
    assert response.status_code == 400
    assert not Api.objects.exists()


def test_it_refuses_another_teams_unit(ci, bob):
    # Outside the caller's sight: the unit does not exist for them.
    response = register(ci, unit="sibling")
    assert response.status_code == 400
    assert "Unknown unit" in json.dumps(response.json())
    # Visible, but the caller may not register there (a viewer): forbidden.
    body = {"org_unit": "team", "slug": "viewer-try", "name": "Viewer try"}
    assert token_client(bob).post("/api/v1/inventory/apis/", body, format="json").status_code == 403
    assert not Api.objects.exists()


def test_someone_elses_api_is_not_found(ci, charlie):
    register(ci)
    other = token_client(charlie)
    assert other.get("/api/v1/inventory/apis/payments/").status_code == 404
    assert other.patch("/api/v1/inventory/apis/payments/", {"name": "x"}, format="json").status_code == 404
    assert register(other, unit="sibling").status_code == 404  # the slug is taken, but not visible to them


def test_it_uploads_a_spec_and_keeps_versions(ci):
    register(ci)
    response = ci.post(
        "/api/v1/inventory/apis/payments/spec/",
        {"file": SimpleUploadedFile("openapi.yaml", SPEC)},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["operation_count"] == 2
    same = ci.post(
        "/api/v1/inventory/apis/payments/spec/",
        {"file": SimpleUploadedFile("openapi.yaml", SPEC)},
        format="multipart",
    )
    assert same.status_code == 200  # identical content: no new version
    v2 = SPEC.replace(
        b'"404": {description: No such payment}',
        b'"404": {description: gone}\n        "410": {description: gone}',
    )
    response = ci.post(
        "/api/v1/inventory/apis/payments/spec/",
        {"file": SimpleUploadedFile("openapi.yaml", v2)},
        format="multipart",
    )
    assert response.json()["number"] == 2
    body = ci.get("/api/v1/inventory/apis/payments/spec/").json()
    ops = {(o["method"], o["path"]): o for o in body["operations"]}
    assert ops[("GET", "/health")]["auth_required"] is False
    assert set(ops[("GET", "/payments/{id}")]["responses"]) == {"200", "404", "410"}
    assert Spec.objects.filter(is_current=True).count() == 1


@pytest.mark.parametrize(
    "content, message",
    [
        (b"swagger: '2.0'\ninfo: {title: x, version: '1'}\npaths: {}\n", "Swagger 2.0"),
        (
            b"openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '200': {$ref: 'https://evil.example/r.yaml'}\n",
            "External $ref",
        ),
        (b"openapi: 3.0.3\ninfo: {title: x}\npaths: {}\n", "version"),
        (b"{not json", "Invalid"),
    ],
)
def test_bad_specs_are_refused_whole(ci, content, message):
    register(ci)
    response = ci.post(
        "/api/v1/inventory/apis/payments/spec/",
        {"file": SimpleUploadedFile("openapi.yaml", content)},
        format="multipart",
    )
    assert response.status_code == 400
    assert message in json.dumps(response.json())
    assert not Spec.objects.exists()


def test_uploads_over_the_limit_are_refused(ci, settings):
    register(ci)
    settings.PORTAL_UPLOAD_MAX_BYTES = 1000
    response = ci.post(
        "/api/v1/inventory/apis/payments/spec/",
        {"file": SimpleUploadedFile("openapi.yaml", SPEC + b"#" * 2000)},
        format="multipart",
    )
    assert response.status_code == 400
    assert "too large" in json.dumps(response.json())


def test_it_replaces_components_and_reports_changes(ci):
    register(ci)
    first = ci.post(
        "/api/v1/inventory/apis/payments/components/",
        {"file": SimpleUploadedFile("requirements.txt", REQUIREMENTS)},
        format="multipart",
    )
    assert first.status_code == 201, first.json()
    assert len(first.json()["added"]) == 2
    second = ci.post(
        "/api/v1/inventory/apis/payments/components/",
        {"file": SimpleUploadedFile("requirements.txt", b"django==5.2.2\nurllib3==2.2.0\n")},
        format="multipart",
    )
    body = second.json()
    assert [u["name"] for u in body["upgraded"]] == ["django"]
    assert any("urllib3" in p for p in body["added"]) and any("requests" in p for p in body["removed"])
    assert sorted(Component.objects.values_list("name", flat=True)) == ["django", "urllib3"]
    api = Api.objects.get()
    assert api.component_count == 2


def test_a_bad_sbom_keeps_the_previous_components(ci):
    register(ci)
    ci.post(
        "/api/v1/inventory/apis/payments/components/",
        {"file": SimpleUploadedFile("requirements.txt", REQUIREMENTS)},
        format="multipart",
    )
    bad = ci.post(
        "/api/v1/inventory/apis/payments/components/",
        {"file": SimpleUploadedFile("bom.json", b'{"bomFormat": "CycloneDX", "components": 5}')},
        format="multipart",
    )
    assert bad.status_code == 400
    assert Component.objects.count() == 2


def test_the_review_workflow_over_rest(ci, ciso):
    register(ci)
    assert (
        ci.post(
            "/api/v1/inventory/apis/payments/transitions/", {"action": "submit"}, format="json"
        ).status_code
        == 200
    )
    assert (
        ci.post(
            "/api/v1/inventory/apis/payments/transitions/", {"action": "approve"}, format="json"
        ).status_code
        == 403
    )
    reviewer = token_client(ciso)
    seen = reviewer.get("/api/v1/inventory/apis/payments/").json()["revision"]
    unbound = reviewer.post(
        "/api/v1/inventory/apis/payments/transitions/", {"action": "approve", "comment": "ok"}, format="json"
    )
    assert unbound.status_code == 400 and "revision" in unbound.json()["error"]["fields"]
    # The developer changes the record after the reviewer read it: that approval is refused.
    assert (
        ci.patch("/api/v1/inventory/apis/payments/", {"description": "New"}, format="json").status_code == 200
    )
    stale = reviewer.post(
        "/api/v1/inventory/apis/payments/transitions/",
        {"action": "approve", "revision": seen},
        format="json",
    )
    assert stale.status_code == 409 and "changed since you opened it" in json.dumps(stale.json())
    assert Api.objects.get(slug="payments").status == ApiStatus.SUBMITTED
    seen = reviewer.get("/api/v1/inventory/apis/payments/").json()["revision"]
    response = reviewer.post(
        "/api/v1/inventory/apis/payments/transitions/",
        {"action": "approve", "comment": "ok", "revision": seen},
        format="json",
    )
    assert response.status_code == 200 and response.json()["status"] == ApiStatus.APPROVED
    illegal = reviewer.post(
        "/api/v1/inventory/apis/payments/transitions/", {"action": "submit"}, format="json"
    )
    assert illegal.status_code == 409
    assert "Cannot submit for review from approved" in json.dumps(illegal.json())


def test_the_list_is_scoped_and_filtered(ci, charlie, ciso):
    register(ci)
    register(token_client(charlie), slug="cards", unit="sibling", name="Cards API")
    assert [a["slug"] for a in ci.get("/api/v1/inventory/apis/").json()["results"]] == ["payments"]
    everything = token_client(ciso).get("/api/v1/inventory/apis/?sort=name").json()["results"]
    assert [a["slug"] for a in everything] == ["cards", "payments"]
    sibling = token_client(ciso).get("/api/v1/inventory/apis/?unit=sibling").json()["results"]
    assert [a["slug"] for a in sibling] == ["cards"]
    assert token_client(ciso).get("/api/v1/inventory/apis/?min_completeness=200").status_code == 400


def test_anonymous_is_refused(db):
    assert APIClient().get("/api/v1/inventory/apis/").status_code == 401
    assert APIClient().put("/api/v1/inventory/apis/x/", {}, format="json").status_code == 401


def test_list_query_count_does_not_grow(ci, ciso, django_assert_max_num_queries):
    client = token_client(ciso)
    for i in range(3):
        register(ci, slug=f"api-{i}")
    with django_assert_max_num_queries(12):
        client.get("/api/v1/inventory/apis/")
    for i in range(3, 30):
        register(ci, slug=f"api-{i}")
    with django_assert_max_num_queries(12):
        client.get("/api/v1/inventory/apis/")


def test_a_declared_runtime_survives_sbom_uploads(ci):
    register(ci)
    declared = ci.post(
        "/api/v1/inventory/apis/payments/components/declared/",
        {"kind": "runtime", "ecosystem": "generic", "name": "python", "version": "3.11"},
        format="json",
    )
    assert declared.status_code == 201, declared.json()
    assert declared.json()["purl"] == "pkg:generic/python@3.11"
    ci.post(
        "/api/v1/inventory/apis/payments/components/",
        {"file": SimpleUploadedFile("requirements.txt", REQUIREMENTS)},
        format="multipart",
    )
    ci.post(
        "/api/v1/inventory/apis/payments/components/",
        {"file": SimpleUploadedFile("requirements.txt", b"flask==3.0.0\n")},
        format="multipart",
    )
    kinds = {
        (c["name"], c["kind"], c["source"])
        for c in ci.get("/api/v1/inventory/apis/payments/components/").json()
    }
    assert kinds == {("python", "runtime", "declared"), ("flask", "framework", "sbom")}
    bad = ci.post(
        "/api/v1/inventory/apis/payments/components/declared/", {"kind": "runtime", "name": ""}, format="json"
    )
    assert bad.status_code == 400


def test_ci_registers_servers_metrics_windows_and_consumers(ci, alice):
    register(ci)
    base = "/api/v1/inventory/apis/payments"
    r = ci.put(
        f"{base}/environments/production/baseline/",
        {
            "p50_ms": 20,
            "p95_ms": 80,
            "p99_ms": 150,
            "requests_per_second": 120.5,
            "error_rate_percent": 0.2,
        },
        format="json",
    )
    assert r.status_code == 200, r.json()
    r = ci.post(
        f"{base}/environments/production/servers/",
        {
            "hostname": "PAY-1.dc1.example.com",
            "addresses": ["10.0.0.5"],
            "location": "dc1",
            "operating_system": "Debian 12",
        },
        format="json",
    )
    assert r.status_code == 201 and r.json()["hostname"] == "pay-1.dc1.example.com"
    r = ci.post(
        f"{base}/windows/",
        {
            "kind": "recurring",
            "timezone": "Europe/Berlin",
            "weekdays": [6],
            "start_time": "02:00",
            "end_time": "04:00",
            "description": "Sunday patching",
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    assert ci.get(f"{base}/windows/").json()[0]["timezone"] == "Europe/Berlin"
    r = ci.post(f"{base}/consumers/", {"consumer_service": "Mobile app"}, format="json")
    assert r.status_code == 201
    assert ci.get(f"{base}/consumers/").json()[0]["consumer_service"] == "Mobile app"
    api = Api.objects.get()
    assert "typical performance metrics" not in " ".join(api.missing)
    assert "the servers it runs on" not in " ".join(api.missing)


@pytest.mark.parametrize(
    "path, body",
    [
        (
            "environments/production/baseline/",
            {"p50_ms": 90, "p95_ms": 80, "p99_ms": 150, "requests_per_second": 1, "error_rate_percent": 0},
        ),
        ("environments/production/servers/", {"hostname": "x.example.com", "addresses": ["not-an-ip"]}),
        (
            "windows/",
            {
                "kind": "recurring",
                "timezone": "Mars/Olympus",
                "weekdays": [1],
                "start_time": "01:00",
                "end_time": "02:00",
            },
        ),
        (
            "windows/",
            {
                "kind": "recurring",
                "timezone": "UTC",
                "weekdays": [1],
                "start_time": "04:00",
                "end_time": "02:00",
            },
        ),
        (
            "windows/",
            {"kind": "one_off", "starts_at": "2026-12-02T10:00:00Z", "ends_at": "2026-12-01T10:00:00Z"},
        ),
        ("consumers/", {"consumer_api": "payments"}),
        ("consumers/", {}),
    ],
)
def test_bad_registration_details_are_refused(ci, path, body):
    register(ci)
    r = ci.post if "baseline" not in path else ci.put
    response = r(f"/api/v1/inventory/apis/payments/{path}", body, format="json")
    assert response.status_code == 400, response.json()
    assert "error" in response.json()


def test_an_unknown_environment_is_not_found(ci):
    register(ci)
    r = ci.put("/api/v1/inventory/apis/payments/environments/nope/baseline/", {}, format="json")
    assert r.status_code == 404


def test_blast_radius_hides_what_relies_on_hidden_apis(ci, ciso, charlie):
    register(ci)
    actor = Actor(user=ciso)
    payments = Api.objects.get(slug="payments")
    hidden = ApiFactory(
        org_unit=payments.org_unit.parent.children.get(slug="sibling"),
        slug="hidden",
        name="Hidden",
        actor=actor,
    )
    ApiDependencyFactory(api=payments, consumer_api=hidden, actor=actor)
    secret_app = ConsumerServiceFactory(owner=hidden.org_unit, name="Secret partner app", actor=actor)
    ApiDependencyFactory(api=hidden, consumer_service=secret_app, actor=actor)
    body = ci.get("/api/v1/inventory/apis/payments/blast-radius/").json()
    assert body["affected"] == [] and body["hidden_outside_scope"] == 2
    assert "Secret" not in str(body)
    full = token_client(ciso).get("/api/v1/inventory/apis/payments/blast-radius/").json()
    assert [a["name"] for a in full["affected"]] == ["Hidden", "Secret partner app"]


# --- Inputs that used to crash (each was a 500) ------------------------------------------------------------


def test_an_unclosed_ipv6_base_url_is_a_400(ci):
    assert register(ci).status_code == 201
    body = {"environments": [{"name": "x", "base_urls": ["https://[::1"]}]}
    response = ci.patch("/api/v1/inventory/apis/payments/", body, format="json")
    assert response.status_code == 400
    assert "not an absolute URL" in json.dumps(response.json())


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "message"),
    [
        ("9999-12-31T22:00:00Z", "9999-12-31T23:59:59Z", "between the years"),
        ("2030-01-01T00:00:00Z", "2032-01-01T00:00:00Z", "at most 366 days"),
    ],
)
def test_one_off_windows_far_away_or_endless_are_a_400(ci, starts_at, ends_at, message):
    assert register(ci).status_code == 201
    windows = "/api/v1/inventory/apis/payments/windows/"
    weekly = {"kind": "recurring", "weekdays": [0, 1, 2, 3, 4, 5, 6], "start_time": "01:00",
              "end_time": "02:00", "timezone": "Pacific/Kiritimati"}  # fmt: skip
    assert ci.post(windows, weekly, format="json").status_code == 201
    response = ci.post(
        windows, {"kind": "one_off", "starts_at": starts_at, "ends_at": ends_at}, format="json"
    )
    assert response.status_code == 400
    assert message in json.dumps(response.json())


@pytest.mark.parametrize("body", ["[" * 200_000, '{"a":' * 50 + "1" + "}" * 50, '{"name": NaN}'])
def test_deeply_nested_or_non_json_bodies_are_a_400(ci, body):
    assert register(ci).status_code == 201
    response = ci.generic("PATCH", "/api/v1/inventory/apis/payments/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


# --- A unit outside the caller's sight answers like one that does not exist -----------------------------


def _without_request_id(response) -> tuple[int, object]:  # noqa: ANN001
    body = response.json()
    body.get("error", {}).pop("request_id", None)
    return response.status_code, body


def test_filtering_by_an_invisible_unit_answers_like_an_unknown_one(ci):
    hidden = _without_request_id(ci.get("/api/v1/inventory/apis/", {"unit": "sibling"}))
    missing = _without_request_id(ci.get("/api/v1/inventory/apis/", {"unit": "no-such-unit"}))
    assert hidden == missing
    # Nothing of a unit you cannot see is listed; a filter value the schema allows is no error.
    assert hidden[0] == 200
    assert hidden[1] == {"next": None, "previous": None, "results": []}


def test_registering_for_an_invisible_unit_answers_like_an_unknown_one(ci):
    hidden = _without_request_id(register(ci, slug="probe-a", unit="other-team"))
    missing = _without_request_id(register(ci, slug="probe-b", unit="no-such-unit"))
    assert hidden == missing
    assert hidden[0] == 400
    assert not Api.objects.filter(slug__startswith="probe-").exists()


def test_a_catalog_owner_outside_sight_is_reported_like_an_unknown_one(org, alice):
    from inventory.services import catalog_import

    def attempt(owner: str) -> list[str]:
        data = f"kind: API\nmetadata: {{name: p-{owner}}}\nspec: {{type: openapi, owner: {owner}}}\n".encode()
        with pytest.raises(catalog_import.CatalogRejected) as excinfo:
            catalog_import.catalog_import(actor=Actor(user=alice), data=data, resolve_text=lambda _p: None)
        return [m.replace(owner, "X") for m in excinfo.value.problems]

    assert attempt("other-team") == attempt("no-such-unit")


# --- Lists from outside are capped, derived data is refreshed once per request -------------------------


def _environments(n: int) -> list[dict]:
    return [{"name": f"env-{i}", "base_urls": [f"https://e{i}.example.com"]} for i in range(n)]


def test_too_many_environments_or_base_urls_are_refused_whole(ci):
    from inventory.models import Environment, Limits

    assert register(ci).status_code == 201
    url = "/api/v1/inventory/apis/payments/"
    too_many = ci.patch(url, {"environments": _environments(Limits.ENVIRONMENTS + 1)}, format="json")
    assert too_many.status_code == 400
    urls = [f"https://u{i}.example.com" for i in range(Limits.BASE_URLS + 1)]
    too_long = ci.patch(url, {"environments": [{"name": "big", "base_urls": urls}]}, format="json")
    assert too_long.status_code == 400
    assert Environment.objects.count() == 1  # only the registration's own


def test_the_summary_is_computed_once_however_many_environments(ci, monkeypatch):
    from inventory import selectors

    assert register(ci).status_code == 201
    calls = []
    original = selectors.completeness_of
    monkeypatch.setattr(selectors, "completeness_of", lambda api: calls.append(api.pk) or original(api))
    counts = []
    for n in (2, 40):
        calls.clear()
        body = {"environments": _environments(n)}
        assert ci.patch("/api/v1/inventory/apis/payments/", body, format="json").status_code == 200
        counts.append(len(calls))
    assert counts[0] == counts[1] == 1


def test_windows_consumers_and_declared_components_are_capped(ci, monkeypatch):
    from inventory.models import Limits

    monkeypatch.setattr(Limits, "WINDOWS", 1)
    monkeypatch.setattr(Limits, "CONSUMERS", 1)
    monkeypatch.setattr(Limits, "DECLARED_COMPONENTS", 1)
    assert register(ci).status_code == 201
    base = "/api/v1/inventory/apis/payments/"
    window = {"kind": "recurring", "weekdays": [0], "start_time": "01:00", "end_time": "02:00"}
    assert ci.post(base + "windows/", window, format="json").status_code == 201
    later = {**window, "weekdays": [1]}
    assert ci.post(base + "windows/", later, format="json").status_code == 400
    assert ci.post(base + "consumers/", {"consumer_service": "A"}, format="json").status_code == 201
    assert ci.post(base + "consumers/", {"consumer_service": "B"}, format="json").status_code == 400
    runtime = {"kind": "runtime", "ecosystem": "generic", "name": "python", "version": "3.11"}
    assert ci.post(base + "components/declared/", runtime, format="json").status_code == 201
    # Declaring the same one again is an update, not a new entry.
    assert ci.post(base + "components/declared/", runtime, format="json").status_code == 201
    other = {**runtime, "name": "openjdk"}
    assert ci.post(base + "components/declared/", other, format="json").status_code == 400


def test_a_json_body_over_the_json_limit_is_refused_without_being_parsed(ci):
    import time

    from portal.parsers import MAX_JSON_BYTES

    assert register(ci).status_code == 201
    body = "[" + ",".join(["[]"] * (MAX_JSON_BYTES // 3 + 10)) + "]"
    started = time.perf_counter()
    response = ci.generic("PATCH", "/api/v1/inventory/apis/payments/", body, content_type="application/json")
    # Valid JSON, so only the size limit makes it a parse error (it would otherwise fail validation).
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"
    assert time.perf_counter() - started < 2.0


def test_a_request_the_records_state_refuses_is_a_409_and_a_malformed_one_a_400(ci):
    """409: well-formed, but not now (confirming a draft, a move not allowed from its status).
    400: the request itself is wrong (an unknown action). Both in the one error shape."""
    register(ci)
    draft = ci.post("/api/v1/inventory/apis/payments/confirm/", format="json")
    assert draft.status_code == 409
    assert draft.json()["error"]["code"] == "conflict" and "nothing to confirm" in json.dumps(draft.json())
    retire = ci.post("/api/v1/inventory/apis/payments/transitions/", {"action": "retire"}, format="json")
    assert retire.status_code == 409
    unknown = ci.post("/api/v1/inventory/apis/payments/transitions/", {"action": "explode"}, format="json")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "invalid"
