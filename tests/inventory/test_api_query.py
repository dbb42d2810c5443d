"""What the schema does not allow is a 400 in the one error shape, not something DRF coerced."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from inventory.forms import ApiFilterForm
from inventory.models import Component
from inventory.serializers import ApiQuerySerializer
from inventory.services.components import component_declare
from portal.audit import Actor
from tests.factories import ApiFactory
from tests.inventory.test_api import ci, register  # noqa: F401  # the CI client fixture
from tests.portal.error_shape import assert_error

APIS = "/api/v1/inventory/apis/"
DISCOVERED = "/api/v1/inventory/discovered/"
AUDIT = "/api/v1/audit-events/"


@pytest.mark.parametrize(
    "query",
    [
        "page_size=null",
        "page_size=0",
        "page_size=-1",
        "page_size=abc",
        "page_size=",
        "page_size=201",
        "page_size=1.5",
        "page_size=%C2%B2",  # "²", a digit to str.isdigit
        "page_size=5&page_size=5",
        "page=0",
        "page=null",
        "page=",
        "page=last",
        "lifecycle=bogus",
        "lifecycle=",
        "lifecycle=design&lifecycle=design",
        "has_spec=banana",
        "has_spec=null",
        "stale=banana",
        "min_completeness=-1",
        "min_completeness=ten",
        "sort=nope",
        "unit=not%20a%20slug",
    ],
)
def test_a_malformed_list_query_is_a_400(ci, query):  # noqa: F811
    body = assert_error(ci.get(f"{APIS}?{query}"), 400, "invalid")
    assert body["fields"]


@pytest.mark.parametrize("query", ["finding=bogus", "state=", "state=new&state=new", "page_size=null"])
def test_a_malformed_discovery_query_is_a_400(ci, query):  # noqa: F811
    assert_error(ci.get(f"{DISCOVERED}?{query}"), 400, "invalid")


def test_a_well_formed_query_still_filters(ci):  # noqa: F811
    assert register(ci).status_code == 201
    r = ci.get(APIS, {"lifecycle": "design", "has_spec": "false", "page_size": "1", "page": "1"})
    assert r.status_code == 200
    assert [row["slug"] for row in r.json()["results"]] == ["payments"]
    assert ci.get(APIS, {"lifecycle": "retired"}).json()["results"] == []
    assert ci.get(DISCOVERED, {"finding": "shadow_api", "state": "new"}).status_code == 200


def test_a_page_past_the_last_is_a_404(ci):  # noqa: F811
    assert_error(ci.get(APIS, {"page": "99"}), 404)


def test_audit_events_refuse_a_malformed_page_size(ciso, login):
    client = login(ciso)
    assert_error(client.get(AUDIT, {"page_size": "null"}), 400, "invalid")
    assert_error(client.get(AUDIT, {"page_size": "5", "cursor": "not-a-cursor"}), 404)
    assert client.get(AUDIT, {"page_size": "5"}).status_code == 200


def test_the_query_serializer_names_the_forms_filters():
    assert set(ApiQuerySerializer().fields) == set(ApiFilterForm().fields)


def test_the_query_serializer_bounds_the_filters_as_the_form_does():
    ours, form = ApiQuerySerializer().fields, ApiFilterForm().fields
    assert ours["q"].max_length == form["q"].max_length
    for name in ("min_completeness", "max_completeness"):
        assert (ours[name].min_value, ours[name].max_value) == (form[name].min_value, form[name].max_value)
    for name in ("lifecycle", "exposure", "data_classification", "status", "sort"):
        assert set(ours[name].choices) == {value for value, _ in form[name].choices if value}


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", 7),
        ("handles_personal_data", "yes"),
        ("availability_target", "99.9"),
        ("auth_schemes", "oauth2"),
    ],
)
def test_a_json_value_of_the_wrong_type_is_a_400(ci, field, value):  # noqa: F811
    r = register(ci, **{field: value})
    assert_error(r, 400, "invalid")
    assert list(r.json()["error"]["fields"]) == [field]


def test_a_number_is_a_number(ci):  # noqa: F811
    r = register(ci, availability_target=99.9)
    assert r.status_code == 201, r.json()
    assert r.json()["availability_target"] == "99.900"


def test_create_requires_the_unit_and_the_slug(ci):  # noqa: F811
    r = ci.post(APIS, {"name": "Payments"}, format="json")
    fields = assert_error(r, 400, "invalid")["fields"]
    assert set(fields) == {"org_unit", "slug"}


@pytest.mark.parametrize("body", ["null", "1", '"text"', "true", "[]"])
def test_a_json_body_that_is_no_object_is_a_400(ci, body):  # noqa: F811
    assert_error(ci.generic("POST", APIS, body, content_type="application/json"), 400)


def test_a_nameless_environment_in_a_patch_is_a_400(ci):  # noqa: F811
    assert register(ci).status_code == 201
    r = ci.patch(
        f"{APIS}payments/", {"environments": [{"base_urls": ["https://x.example.com"]}]}, format="json"
    )
    assert "name" in str(assert_error(r, 400, "invalid")["fields"])


def test_a_declared_component_whose_purl_is_too_long_is_a_400(ci):  # noqa: F811
    assert register(ci).status_code == 201
    # Each "é" becomes "%C3%A9" in the purl: parts within their limits, a purl of over 600 characters.
    body = {"kind": "framework", "ecosystem": "npm", "name": "é" * 300, "version": "1"}
    r = ci.post(f"{APIS}payments/components/declared/", body, format="json")
    assert "longer than 600" in str(assert_error(r, 400, "invalid")["fields"])
    assert not Component.objects.exists()


def test_the_service_refuses_a_purl_too_long_for_its_column(org):
    api = ApiFactory(org_unit=org.team)
    with pytest.raises(ValidationError, match="longer than 600"):
        component_declare(
            actor=Actor.system("test"),
            api=api,
            ecosystem="npm",
            name="é" * 300,
            version="1",
            kind="framework",
        )
    assert not Component.objects.exists()


@pytest.mark.parametrize("name", ["/", "/" * 300])
def test_a_name_packageurl_cannot_spell_is_a_400(ci, name):  # noqa: F811
    assert register(ci).status_code == 201
    body = {"kind": "framework", "ecosystem": "npm", "name": name}
    r = ci.post(f"{APIS}payments/components/declared/", body, format="json")
    assert "Not a valid package" in str(assert_error(r, 400, "invalid")["fields"])
