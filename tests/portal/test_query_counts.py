"""List pages and API lists run a number of SQL queries that does not grow with the rows they show.

Each list is requested with 5 rows and with 100 rows under the same ``django_assert_max_num_queries``
bound; the 100-row request must also not exceed what the 5-row one actually ran.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.models import Role
from tests.access_matrix import make_user
from tests.conftest import Org
from tests.factories import ApiTokenFactory, AuditEventFactory, grant, make_unit

Seeder = Callable[..., None]


def _units(org: Org, viewer: User, start: int, stop: int) -> None:
    for i in range(start, stop):
        make_unit(f"qc-unit-{i}", org.team, name=f"qc unit {i}")


def _memberships(org: Org, viewer: User, start: int, stop: int) -> None:
    for i in range(start, stop):
        grant(make_user(f"qc-member-{i}"), org.team if i % 2 else org.sibling, Role.DEVELOPER)


def _events(org: Org, viewer: User, start: int, stop: int) -> None:
    for i in range(start, stop):
        AuditEventFactory(action="qc.seed", object_type="", object_id=f"qc-event-{i}", org_unit=org.team)


def _tokens(org: Org, viewer: User, start: int, stop: int) -> None:
    for i in range(start, stop):
        ApiTokenFactory(user=viewer, name=f"qc-token-{i}")


# url → (seed rows, text each row shows, upper bound on queries whatever the row count)
LISTS: dict[str, tuple[Seeder, str, int]] = {
    "/org/": (_units, "qc-unit-", 8),
    "/api/v1/org-units/": (_units, "qc-unit-", 8),
    "/api/v1/memberships/": (_memberships, "qc-member-", 8),
    "/audit/": (_events, "qc-event-", 8),
    "/api/v1/audit-events/": (_events, "qc-event-", 8),
    "/accounts/tokens/": (_tokens, "qc-token-", 8),
}
FEW, MANY = 5, 100


@pytest.mark.parametrize("url", list(LISTS))
def test_it_runs_the_same_queries_for_5_and_100_rows(url, org, ciso, login, django_assert_max_num_queries):
    seed, marker, bound = LISTS[url]
    client = login(ciso)
    client.get(url)  # first request of the session: writes the idle-timeout stamp once
    seed(org, ciso, 0, FEW)

    with django_assert_max_num_queries(bound), CaptureQueriesContext(connection) as few:
        response = client.get(url)
    assert response.status_code == 200
    assert response.content.decode().count(marker) >= FEW

    seed(org, ciso, FEW, MANY)
    with django_assert_max_num_queries(min(bound, len(few))):
        response = client.get(url)
    assert response.status_code == 200
    # Pages are capped at 50 (the fixture's own units share the first page): many rows were rendered.
    assert response.content.decode().count(marker) >= 40
