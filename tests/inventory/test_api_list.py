"""The REST inventory list (``GET /api/v1/inventory/apis/``): keyset pages in every sort order, with
ties, forward and back; scoping on every page; cursors that do not decode are a 404; the deprecated
``?page=N`` still answers the numbered page with its total; the rows are ApiListSerializer's."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from inventory import selectors
from inventory.models import Api, ApiStatus
from inventory.serializers import ApiListSerializer, api_list_rows
from portal.audit import Actor
from portal.pagination import PAGE_NUMBERS_DEPRECATED
from tests.conftest import Org
from tests.factories import ApiTokenFactory

APIS = "/api/v1/inventory/apis/"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
STATUSES = [ApiStatus.DRAFT, ApiStatus.SUBMITTED, ApiStatus.APPROVED]


def token_client(user: User) -> APIClient:
    token = ApiTokenFactory(user=user, name="ci", second_factor=True, actor=Actor(user=user))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.secret}")
    return client


@pytest.fixture
def apis(org: Org) -> list[Api]:
    """13 APIs in three units, with ties on every sortable column (names included): a page boundary
    falls inside a run of equal values, where a keyset on the column alone would skip or repeat."""
    units = [org.team, org.sibling, org.other_team]
    return Api.objects.bulk_create(
        Api(
            slug=f"api-{i:02d}",
            name=f"API {i % 5}",  # five names, each two or three times
            org_unit=units[i % 3],
            status=STATUSES[i % 3],
            completeness=(i * 7) % 4 * 25,
            updated_at=T0 + timedelta(hours=i % 4, microseconds=123),
        )
        for i in range(13)
    )


def _walk(client: APIClient, url: str) -> list[list[str]]:
    """Every page from ``url`` on, following ``next``: the slugs of each."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"next", "previous", "results"}  # no total
        pages.append([row["slug"] for row in body["results"]])
        url = body["next"]
    return pages


def _walk_back(client: APIClient, url: str) -> list[list[str]]:
    pages = []
    while url:
        body = client.get(url).json()
        pages.append([row["slug"] for row in body["results"]])
        url = body["previous"]
    return pages


def _expected(user: User, sort: str) -> list[str]:
    """The whole list in one read, in the database's order (its collation decides for text)."""
    return list(selectors.api_list(user, {"sort": sort}).values_list("slug", flat=True))


@pytest.mark.parametrize("sort", list(selectors.SORTS))
def test_it_walks_every_sort_forward_and_back_without_skipping_or_repeating(sort, apis, ciso):
    client = token_client(ciso)
    pages = _walk(client, f"{APIS}?sort={sort}&page_size=3")
    assert [slug for page in pages for slug in page] == _expected(ciso, sort)
    assert [len(page) for page in pages] == [3, 3, 3, 3, 1]

    last = client.get(f"{APIS}?sort={sort}&page_size=3")
    for _ in range(len(pages) - 1):
        last = client.get(last.json()["next"])
    # Back from the last page, following "previous": the same pages, in reverse, down to the first.
    back = _walk_back(client, last.json()["previous"])
    assert back == pages[-2::-1]
    first = client.get(f"{APIS}?sort={sort}&page_size=3").json()
    assert first["previous"] is None


def test_the_first_page_says_there_is_no_page_before_and_the_last_none_after(apis, ciso):
    client = token_client(ciso)
    everything = client.get(APIS).json()
    assert everything["next"] is None and everything["previous"] is None
    assert len(everything["results"]) == 13


def test_every_page_is_scoped_whatever_cursor_is_sent(apis, ciso, alice):
    """A cursor only says where to start: one made from the CISO's list brings a developer nothing
    outside her unit."""
    ciso_next = token_client(ciso).get(f"{APIS}?page_size=2").json()["next"]
    ours = {api.slug for api in apis if api.org_unit.slug == "team"}
    developer = token_client(alice)
    seen = [
        slug for page in _walk(developer, ciso_next.replace("page_size=2", "page_size=1")) for slug in page
    ]
    assert seen and set(seen) <= ours
    assert {slug for page in _walk(developer, f"{APIS}?page_size=1") for slug in page} == ours


def test_a_filter_is_kept_in_the_links(apis, ciso):
    client = token_client(ciso)
    pages = _walk(client, f"{APIS}?status=draft&page_size=2")
    drafts = [slug for slug in _expected(ciso, "name") if Api.objects.get(slug=slug).status == "draft"]
    assert [slug for page in pages for slug in page] == drafts


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "x" * 600,
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _cursor("just a string"),
        _cursor({"o": "-name", "v": "API 1", "i": 1}),  # made for another order
        _cursor({"o": "name", "v": "API 1"}),
        _cursor({"o": "name", "v": "API 1", "i": True}),
        _cursor({"o": "name", "v": "API 1", "i": 2**70}),
        _cursor({"o": "name", "v": "API 1", "i": 1, "b": 2}),
        _cursor({"o": "name", "v": ["API 1"], "i": 1}),
        _cursor({"o": "name", "v": None, "i": 1}),
        _cursor({"o": "name", "v": "nul\u0000", "i": 1}),
    ],
)
def test_a_cursor_that_does_not_decode_is_a_404_in_the_one_error_shape(cursor, apis, ciso):
    response = token_client(ciso).get(APIS, {"cursor": cursor})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("sort", "value"),
    [
        ("completeness", "many"),
        ("completeness", 2**70),
        ("updated", "2026-01-01T00:00:00"),  # naive: no timezone
        ("updated", "yesterday"),
    ],
)
def test_a_cursor_value_of_the_wrong_kind_is_a_404(sort, value, apis, ciso):
    cursor = _cursor({"o": selectors.SORTS[sort], "v": value, "i": 1})
    response = token_client(ciso).get(APIS, {"sort": sort, "cursor": cursor})
    assert response.status_code == 404


def test_a_repeated_cursor_is_a_400(apis, ciso):
    response = token_client(ciso).get(f"{APIS}?cursor=a&cursor=b")
    assert response.status_code == 400


def test_a_previous_link_into_rows_since_deleted_is_the_first_page(apis, ciso):
    client = token_client(ciso)
    second = client.get(client.get(f"{APIS}?page_size=2").json()["next"]).json()
    first_slugs = [row["slug"] for row in client.get(f"{APIS}?page_size=2").json()["results"]]
    Api.objects.filter(slug__in=first_slugs).delete()
    before = client.get(second["previous"]).json()
    assert before["previous"] is None
    assert [row["slug"] for row in before["results"]] == [row["slug"] for row in second["results"]]


def test_the_deprecated_page_numbers_still_answer_with_the_total(apis, ciso):
    client = token_client(ciso)
    response = client.get(APIS, {"page": 2, "page_size": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 13
    assert [row["slug"] for row in body["results"]] == _expected(ciso, "name")[5:10]
    assert "page=3" in body["next"] and "page" in body["previous"]
    assert response["Deprecation"] == f"@{int(PAGE_NUMBERS_DEPRECATED.timestamp())}"
    assert "Deprecation" not in client.get(APIS)
    assert client.get(APIS, {"page": 4, "page_size": 5}).status_code == 404  # past the last, as before


def test_a_page_and_a_cursor_together_are_a_400(apis, ciso):
    client = token_client(ciso)
    cursor = client.get(f"{APIS}?page_size=2").json()["next"].split("cursor=")[1]
    response = client.get(APIS, {"page": 1, "cursor": cursor})
    assert response.status_code == 400
    assert "page" in response.json()["error"]["fields"]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris"])
def test_the_rows_are_what_the_list_serializer_makes(zone, apis, ciso):
    by_slug = {api.slug: api for api in Api.objects.select_related("org_unit")}
    with timezone.override(zone):
        rows = api_list_rows(selectors.api_list_rows(ciso, {}))
        assert len(rows) == 13
        for row in rows:
            assert row == ApiListSerializer(by_slug[row["slug"]]).data


def test_the_list_counts_nothing_and_runs_three_queries(apis, ciso):
    client = token_client(ciso)
    client.get(APIS)  # the token's last-used stamp
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"{APIS}?page_size=2").status_code == 200
    sql = [q["sql"] for q in ctx.captured_queries]
    assert len(sql) == 3  # the token with its user, the grants, the page
    assert not any("COUNT(" in s.upper() for s in sql)
