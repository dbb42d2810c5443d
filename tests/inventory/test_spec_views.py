"""Uploading an OpenAPI document, its rendered docs, version diffs and raw download."""

from __future__ import annotations

from django.test import override_settings

from inventory.models import Spec
from tests.data import data_file, upload
from tests.factories import SpecFactory
from tests.inventory.pages import url

SPEC_V1 = data_file("openapi/payments.yaml")
SPEC_V2 = data_file("openapi/payments-v2.yaml")
SWAGGER_2 = b"""swagger: "2.0"
info: {title: Old, version: "1"}
paths: {}
"""


def test_it_uploads_a_spec_and_shows_its_docs(api, alice, login):
    client = login(alice)
    response = client.post(url("spec_upload", api.slug), {"file": upload("openapi.yaml", SPEC_V1)})
    assert response.status_code == 302
    assert Spec.objects.filter(api=api, is_current=True).count() == 1
    body = client.get(url("detail", api.slug), {"tab": "spec"}).content.decode()
    assert "/payments/{id}" in body and "Get a payment" in body
    assert "404" in body and "No such payment" in body
    assert "auth required" in body and "last seen: never" in body


def test_it_rejects_a_bad_spec_with_a_short_error(api, alice, login):
    response = login(alice).post(url("spec_upload", api.slug), {"file": upload("swagger.yaml", SWAGGER_2)})
    assert response.status_code == 400
    assert "Swagger 2.0 is not supported" in response.content.decode()
    assert not Spec.objects.exists()


@override_settings(PORTAL_UPLOAD_MAX_BYTES=100)
def test_it_rejects_an_oversized_upload(api, alice, login):
    response = login(alice).post(url("spec_upload", api.slug), {"file": upload("openapi.yaml", SPEC_V1)})
    assert response.status_code == 400
    assert "File too large" in response.content.decode()
    assert not Spec.objects.exists()


def test_it_diffs_two_spec_versions(api, alice, login):
    SpecFactory(api=api, data=SPEC_V1)
    SpecFactory(api=api, data=SPEC_V2)
    response = login(alice).get(url("spec_diff", api.slug), {"from": 1, "to": 2})
    body = response.content.decode()
    assert response.status_code == 200
    assert "/refunds" in body.split('id="diff-added"')[1].split("</ul>")[0]
    assert "/payments/{id}" in body.split('id="diff-changed"')[1]


def test_it_404s_a_diff_against_a_missing_version(api, alice, login):
    SpecFactory(api=api, data=SPEC_V1)
    SpecFactory(api=api, data=SPEC_V2)
    assert login(alice).get(url("spec_diff", api.slug), {"from": 9, "to": 2}).status_code == 404


def test_it_downloads_a_raw_spec(api, bob, login):
    SpecFactory(api=api, data=SPEC_V1)
    response = login(bob).get(url("spec_raw", api.slug, 1))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response["Content-Disposition"] == 'attachment; filename="payments-v1.yaml"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content == SPEC_V1
