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
            app = next((a for a in ("inventory", "testing") if path.startswith(f"/api/v1/{a}/")), "")
            prefix = f"/api/v1/{app}/" if app else "/api/v1/"
            tags_by_prefix[prefix].update(operation["tags"])
    assert tags_by_prefix == {
        "/api/v1/inventory/": {"inventory"},
        "/api/v1/testing/": {"testing"},
        "/api/v1/": {"portal"},
    }
    assert [tag["name"] for tag in schema["tags"]] == ["inventory", "portal", "testing"]


def _schema(client):  # noqa: ANN001, ANN202
    return client.get("/api/schema/", {"format": "json"}).json()


def test_every_operation_documents_its_errors_with_the_one_error_body(alice, login):  # noqa: ANN001
    schema = _schema(login(alice))
    responses = schema["components"]["responses"]
    for name in ("BadRequest", "Unauthenticated", "Forbidden", "NotFound", "TooLarge", "Throttled"):
        assert responses[name]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    detail = schema["components"]["schemas"]["ErrorDetail"]
    assert set(detail["required"]) == {"code", "message", "request_id"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "403", "429"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= codes, (method, path)
            if any(p["in"] == "query" for p in operation.get("parameters", [])):
                assert "400" in codes, (method, path)


def test_it_marks_required_and_nullable_fields_as_they_are(alice, login):  # noqa: ANN001
    schema = _schema(login(alice))
    components = schema["components"]["schemas"]
    create = schema["paths"]["/api/v1/inventory/apis/"]["post"]["requestBody"]
    assert create["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ApiCreateRequest"
    }
    assert {"org_unit", "slug", "name"} <= set(components["ApiCreateRequest"]["required"])
    assert "org_unit" not in components["ApiWriteRequest"]["required"]  # the upsert by slug
    assert components["Discovered"]["properties"]["api"]["nullable"] is True
    assert components["ConsumerRow"]["properties"]["consumer_api"]["nullable"] is True
    assert components["SpecCurrent"]["properties"]["spec"]["nullable"] is True
    page_size = next(
        p for p in schema["paths"]["/api/v1/inventory/apis/"]["get"]["parameters"] if p["name"] == "page_size"
    )
    assert page_size["schema"] == {"type": "integer", "minimum": 1, "maximum": settings.API_MAX_PAGE_SIZE}


def test_it_enumerates_the_upload_formats(alice, login):  # noqa: ANN001
    components = _schema(login(alice))["components"]["schemas"]
    assert set(components["LogUploadFormatEnum"]["enum"]) == {"nginx", "json"}
    assert "requirements.txt" in components["UploadFormatEnum"]["enum"]
    assert "nginx" in components["LogUploadRequest"]["properties"]["file"]["description"]
    assert "OpenAPI" in components["SpecUploadRequest"]["properties"]["file"]["description"]


def test_a_method_an_endpoint_lacks_is_a_405_in_the_error_shape(alice, login):  # noqa: ANN001
    from tests.portal.error_shape import assert_error

    response = login(alice).delete("/api/v1/me/")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_text_fields_say_they_refuse_a_nul_and_keep_their_own_patterns(alice, login):  # noqa: ANN001
    """DRF refuses a NUL character in any text field: a schema that allowed it would have clients
    send what is refused (Schemathesis found it). Fields with their own pattern keep it."""
    components = _schema(login(alice))["components"]["schemas"]
    write = components["ApiWriteRequest"]["properties"]
    assert write["technical_contact_name"]["pattern"] == "^[^\\u0000]*$"
    assert components["ApiCreateRequest"]["properties"]["slug"]["pattern"] != "^[^\\u0000]*$"
