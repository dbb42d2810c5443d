"""The inventory search (``?q=``) matches any case in the name, the slug and the description, and on
PostgreSQL it is served by the trigram indexes of inventory migration 0008 instead of reading every
row: the index expressions must be exactly what Django writes for ``icontains``."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from inventory import selectors
from inventory.models import Api
from tests.conftest import Org
from tests.factories import UserFactory

TRIGRAM_INDEXES = ("api_name_trgm_idx", "api_slug_trgm_idx", "api_description_trgm_idx")


@pytest.fixture
def apis(org: Org) -> None:
    Api.objects.bulk_create(
        [
            Api(name="Payments Gateway", slug="gw-1", org_unit=org.team),
            Api(name="Orders", slug="orders-payments-sync", org_unit=org.team),
            Api(name="Ledger", slug="ledger", description="Books every PAYMENT twice.", org_unit=org.team),
            Api(name="Catalog", slug="catalog", description="Products.", org_unit=org.team),
        ]
    )


@pytest.mark.parametrize("term", ["payment", "PAYMENT", "Payment", "aymen"])
def test_it_finds_a_term_in_any_case_in_name_slug_or_description(apis, ciso, term):
    found = set(selectors.api_list(ciso, {"q": term}).values_list("slug", flat=True))
    assert found == {"gw-1", "orders-payments-sync", "ledger"}


def test_it_finds_nothing_for_a_term_nothing_contains(apis, ciso):
    assert not selectors.api_list(ciso, {"q": "zqxj-no-such-api"}).exists()


def _plan(sql: str, params: tuple) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        # A handful of rows: the planner would rightly read the table, or walk another index and
        # filter. Forbid both to see whether the trigram indexes can serve the condition at all
        # (a bitmap scan needs an index whose condition matches the query's expression).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes exist on PostgreSQL only")
def test_on_postgresql_the_search_uses_the_trigram_indexes(apis):
    # A superuser's list has no scope to join: the plan is the search condition alone.
    qs = selectors.api_list(UserFactory(is_superuser=True), {"q": "zqxj-no-such-api"})
    plan = _plan(*qs.query.sql_with_params())
    for index in TRIGRAM_INDEXES:
        assert index in plan, plan
    assert "Seq Scan on inventory_api" not in plan


def test_the_indexes_exist_on_postgresql_only(db):
    with connection.cursor() as cursor:
        names = {
            name
            for constraints in [connection.introspection.get_constraints(cursor, Api._meta.db_table)]
            for name in constraints
        }
    present = {index for index in TRIGRAM_INDEXES if index in names}
    assert present == (set(TRIGRAM_INDEXES) if connection.vendor == "postgresql" else set())
