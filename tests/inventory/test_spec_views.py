"""Uploading an OpenAPI document, its rendered docs, version diffs and raw download."""

from __future__ import annotations

import json

from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from inventory import views
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


# --- Big specs: the tab and the diff come in pages, with a search ------------------------------------------


def _spec_with(count: int, *, start: int = 0, word: str = "Item") -> bytes:
    """A valid OpenAPI document with ``count`` GET operations, ``/items0000`` onwards."""
    paths = {
        f"/items{i:04d}": {"get": {"summary": f"{word} {i}", "responses": {"200": {"description": "ok"}}}}
        for i in range(start, start + count)
    }
    doc = {"openapi": "3.0.3", "info": {"title": "Big", "version": "1"}, "paths": paths}
    return json.dumps(doc).encode()


def _shown(body: str) -> int:
    return body.count('class="badge text-bg-dark method"')


def test_the_spec_tab_shows_one_page_of_operations(api, alice, login):
    SpecFactory(api=api, data=_spec_with(120))
    client = login(alice)
    body = client.get(url("detail", api.slug), {"tab": "spec"}).content.decode()
    assert _shown(body) == views.OPERATIONS_SHOWN
    assert "Operations (120)" in body and "/items0049" in body and "/items0050" not in body
    assert "page=2" in body
    last = client.get(url("detail", api.slug), {"tab": "spec", "page": 3}).content.decode()
    assert _shown(last) == 20 and "/items0119" in last and 'rel="next"' not in last


def test_the_spec_search_finds_an_operation_on_a_later_page(api, alice, login):
    SpecFactory(api=api, data=_spec_with(120))
    client = login(alice)
    by_path = client.get(url("detail", api.slug), {"tab": "spec", "q": "items0117"}).content.decode()
    assert _shown(by_path) == 1 and "/items0117" in by_path
    by_summary = client.get(url("detail", api.slug), {"tab": "spec", "q": "item 11"}).content.decode()
    assert _shown(by_summary) == 11  # "Item 11" and "Item 110".."Item 119", case-insensitive
    nothing = client.get(url("detail", api.slug), {"tab": "spec", "q": "nope"}).content.decode()
    assert _shown(nothing) == 0 and "No operation" in nothing


def test_the_spec_search_answers_htmx_with_the_fragment(api, alice, login):
    SpecFactory(api=api, data=_spec_with(60))
    response = login(alice).get(
        url("detail", api.slug), {"tab": "spec", "q": "items0059"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'id="spec-operations"' in body and "/items0059" in body and _shown(body) == 1


def test_the_spec_tab_runs_the_same_queries_for_5_and_120_operations(
    api, alice, login, django_assert_max_num_queries
):
    client = login(alice)
    client.get(url("detail", api.slug))  # first request of the session writes the idle-timeout stamp
    SpecFactory(api=api, data=_spec_with(5))
    with CaptureQueriesContext(connection) as few:
        assert _shown(client.get(url("detail", api.slug), {"tab": "spec"}).content.decode()) == 5
    SpecFactory(api=api, data=_spec_with(120, word="Thing"))
    with django_assert_max_num_queries(len(few)):
        body = client.get(url("detail", api.slug), {"tab": "spec", "page": 2}).content.decode()
    assert _shown(body) == views.OPERATIONS_SHOWN


def test_the_diff_comes_in_pages_and_can_be_searched(api, alice, login):
    SpecFactory(api=api, data=_spec_with(80))
    SpecFactory(api=api, data=_spec_with(80, start=1000))  # 80 removed, 80 added
    client = login(alice)
    first = client.get(url("spec_diff", api.slug)).content.decode()
    assert "Added operations (80)" in first and "Removed operations (80)" in first
    assert first.count("<code>/items") == views.DIFF_SHOWN and "page=2" in first
    second = client.get(url("spec_diff", api.slug), {"page": 2}).content.decode()
    assert second.count("<code>/items") == 60 and "/items0079" in second
    found = client.get(url("spec_diff", api.slug), {"q": "items0078"}).content.decode()
    assert found.count("<code>/items") == 1 and "Removed operations (1)" in found
    fragment = client.get(url("spec_diff", api.slug), {"q": "items10"}, headers={"HX-Request": "true"})
    body = fragment.content.decode()
    assert "<html" not in body and 'id="diff-entries"' in body and "Added operations (80)" in body


def test_the_diff_runs_the_same_queries_for_5_and_120_operations(
    api, alice, login, django_assert_max_num_queries
):
    client = login(alice)
    client.get(url("detail", api.slug))
    SpecFactory(api=api, data=_spec_with(5))
    SpecFactory(api=api, data=_spec_with(5, word="Renamed"))
    with CaptureQueriesContext(connection) as few:
        assert client.get(url("spec_diff", api.slug), {"from": 1, "to": 2}).status_code == 200
    SpecFactory(api=api, data=_spec_with(120, start=500))
    SpecFactory(api=api, data=_spec_with(120, start=700))
    with django_assert_max_num_queries(len(few)):
        body = client.get(url("spec_diff", api.slug), {"from": 3, "to": 4}).content.decode()
    assert "Added operations (120)" in body


def test_a_diff_version_that_does_not_fit_an_integer_is_a_404(api, alice, login):
    SpecFactory(api=api, data=SPEC_V1)
    SpecFactory(api=api, data=SPEC_V2)
    assert login(alice).get(url("spec_diff", api.slug), {"from": "9" * 30, "to": 2}).status_code == 404


def test_a_diff_is_computed_once_per_pair_of_versions(api, alice, login):
    """Every page, search or viewer of the same two versions reads the diff from the cache."""
    from django.core.cache import cache

    client = login(alice)
    SpecFactory(api=api, data=_spec_with(30))
    SpecFactory(api=api, data=_spec_with(30, start=100))
    cache.clear()
    with CaptureQueriesContext(connection) as first:
        assert client.get(url("spec_diff", api.slug), {"from": 1, "to": 2}).status_code == 200
    with CaptureQueriesContext(connection) as again:
        body = client.get(url("spec_diff", api.slug), {"from": 1, "to": 2, "q": "items0"}).content.decode()
    operation_reads = [q for q in again if "inventory_operation" in q["sql"]]
    assert operation_reads == [] and len(again) < len(first)
    assert "Added operations" in body
