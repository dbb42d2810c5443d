"""Importing a Backstage catalog file from the browser."""

from __future__ import annotations

from inventory.models import Api
from tests.data import data_file, upload
from tests.inventory.pages import url

SPEC_V1 = data_file("openapi/payments.yaml")
CATALOG = b"""apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: catalog-payments, title: Catalog Payments}
spec:
  type: openapi
  lifecycle: production
  owner: group:default/team
  definition:
    $text: ./specs/openapi.yaml
"""


def test_it_imports_a_catalog_file_with_a_referenced_spec(org, alice, login):
    client = login(alice)
    data = {"file": upload("catalog-info.yaml", CATALOG), "extra_files": [upload("openapi.yaml", SPEC_V1)]}
    response = client.post(url("catalog_upload"), data)
    assert response.status_code == 302
    api = Api.objects.get(slug="catalog-payments")
    assert api.org_unit == org.team and api.has_spec
    body = client.get(url("catalog_upload")).content.decode()
    assert "Created: catalog-payments" in body


def test_it_lists_catalog_problems_and_imports_nothing(org, alice, login):
    data = {
        "file": upload("catalog-info.yaml", CATALOG.replace(b"group:default/team", b"group:default/nobody"))
    }
    response = login(alice).post(url("catalog_upload"), data)
    assert response.status_code == 400
    assert "owner &#x27;nobody&#x27; is not a unit" in response.content.decode()
    assert not Api.objects.exists()


def test_it_refuses_a_catalog_for_another_team(org, charlie, login):
    response = login(charlie).post(url("catalog_upload"), {"file": upload("catalog-info.yaml", CATALOG)})
    assert response.status_code == 400
    # The owners are outside charlie's sight: reported as units he cannot see, not as forbidden.
    assert "not a unit of the org chart that you can see" in response.content.decode()
    assert not Api.objects.exists()
