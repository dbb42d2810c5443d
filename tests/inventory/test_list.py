"""The API list and its CSV export: scope, filters, sorting, paging, query count."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory.models import Api, ApiStatus
from tests.factories import ApiFactory
from tests.inventory.pages import url

# --- List ------------------------------------------------------------------------------------------------


def test_it_lists_only_apis_in_scope(org, alice, login):
    ApiFactory(org_unit=org.team, slug="mine")
    ApiFactory(org_unit=org.other_team, slug="theirs")
    body = login(alice).get(url("list")).content.decode()
    assert "mine" in body
    assert "theirs" not in body


def test_an_unknown_or_hidden_unit_filter_lists_nothing_in_html_and_rest_alike(org, alice, login):
    """One rule in the selector: a unit slug outside the user's sight and one that does not exist
    both give an empty list, on the page and over REST, so neither can be probed."""
    from tests.inventory.test_api import token_client

    ApiFactory(org_unit=org.team, slug="mine")
    ApiFactory(org_unit=org.other_team, slug="theirs")
    page, rest = login(alice), token_client(alice)
    for unit in ("other-team", "no-such-unit"):
        body = page.get(url("list"), {"unit": unit}).content.decode()
        assert "No APIs match" in body and "mine" not in body
        response = rest.get("/api/v1/inventory/apis/", {"unit": unit})
        assert response.status_code == 200 and response.json()["results"] == []
    assert "mine" in page.get(url("list"), {"unit": "team"}).content.decode()
    assert [a["slug"] for a in rest.get("/api/v1/inventory/apis/", {"unit": "team"}).json()["results"]] == [
        "mine"
    ]


def test_it_filters_and_searches(org, ciso, login):
    ApiFactory(org_unit=org.team, slug="alpha-payments", exposure="public")
    ApiFactory(org_unit=org.sibling, slug="beta-orders")
    ApiFactory(org_unit=org.other_team, slug="gamma-ledger", exposure="public")
    client = login(ciso)
    body = client.get(url("list"), {"unit": "dept"}).content.decode()
    assert "alpha-payments" in body and "beta-orders" in body and "gamma-ledger" not in body
    body = client.get(url("list"), {"exposure": "public"}).content.decode()
    assert "alpha-payments" in body and "gamma-ledger" in body and "beta-orders" not in body
    body = client.get(url("list"), {"q": "orders"}).content.decode()
    assert "beta-orders" in body and "alpha-payments" not in body
    body = client.get(url("list"), {"status": "approved"}).content.decode()
    assert "No APIs match" in body
    body = client.get(url("list"), {"has_spec": "true"}).content.decode()
    assert "No APIs match" in body


def test_it_ignores_invalid_filters_and_says_so(api, alice, login):
    response = login(alice).get(url("list"), {"min_completeness": "lots", "sort": "hack"})
    assert response.status_code == 200
    assert "were not valid" in response.content.decode()
    assert api.slug in response.content.decode()


def test_it_sorts_by_completeness(org, alice, login):
    ApiFactory(org_unit=org.team, slug="bare")
    ApiFactory(
        org_unit=org.team,
        slug="described",
        description="Does things",
        technical_contact_email="a@example.com",
    )
    body = login(alice).get(url("list"), {"sort": "-completeness"}).content.decode()
    assert body.index("described") < body.index("bare")


def test_it_flags_stale_apis(org, alice, login):
    old = ApiFactory(org_unit=org.team, slug="old-api")
    Api.objects.filter(pk=old.pk).update(
        status=ApiStatus.APPROVED, confirmed_at=timezone.now() - timedelta(days=400)
    )
    # A draft is still being written: it is never stale, however old.
    draft = ApiFactory(org_unit=org.team, slug="old-draft")
    Api.objects.filter(pk=draft.pk).update(confirmed_at=timezone.now() - timedelta(days=400))
    ApiFactory(org_unit=org.team, slug="fresh-api")
    client = login(alice)
    body = client.get(url("list")).content.decode()
    assert body.count(">stale</span>") == 1
    body = client.get(url("list"), {"stale": "on"}).content.decode()
    assert "old-api" in body and "fresh-api" not in body and "old-draft" not in body


def test_it_pages_the_list(org, alice, login):
    for i in range(55):
        ApiFactory(org_unit=org.team, slug=f"api-{i:02d}")
    client = login(alice)
    first = client.get(url("list")).content.decode()
    assert "api-49" in first and "api-50" not in first and "page=2" in first
    second = client.get(url("list"), {"page": 2}).content.decode()
    assert "api-50" in second and "api-54" in second and "api-49" not in second


def test_it_keeps_the_list_query_count_constant(org, alice, login):
    client = login(alice)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("list")).status_code == 200
        return len(ctx.captured_queries)

    for i in range(5):
        ApiFactory(org_unit=org.team, slug=f"small-{i}")
    count_queries()  # the first request of a session does its own bookkeeping
    small = count_queries()
    for i in range(45):
        ApiFactory(org_unit=org.team, slug=f"large-{i}")
    # Making 45 APIs can take over a minute on a loaded machine, and a session unseen for a minute
    # records its activity on the next request (portal.middleware): let that request pass first.
    count_queries()
    assert count_queries() == small


# --- CSV export ------------------------------------------------------------------------------------------


def test_it_exports_csv_safe_from_formulas(org, alice, login):
    ApiFactory(org_unit=org.team, slug="evil", name="=cmd()", description="x", technical_contact_name="+1")
    ApiFactory(org_unit=org.other_team, slug="hidden")
    response = login(alice).get(url("export"))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "slug"
    by_slug = {r[0]: r for r in rows[1:]}
    assert set(by_slug) == {"evil"}
    assert by_slug["evil"][1] == "'=cmd()"


def test_it_exports_with_the_list_filters(org, alice, login):
    ApiFactory(org_unit=org.team, slug="keep", exposure="public")
    ApiFactory(org_unit=org.team, slug="drop")
    response = login(alice).get(url("export"), {"exposure": "public"})
    body = b"".join(response.streaming_content).decode()
    assert "keep" in body and "drop" not in body


def test_the_owner_filter_offers_only_visible_units(alice, login, org):
    html = login(alice).get("/inventory/").content.decode()
    assert 'value="team"' in html
    assert 'value="sibling"' not in html and 'value="root"' not in html
