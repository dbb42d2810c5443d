"""The inventory list (``/inventory/``) and the REST list (``/api/v1/inventory/apis/``) run a fixed,
pinned number of SQL queries per request, whatever the number of rows.

Everything a request costs is counted: the session, the user, the second-factor device, the user's
grants (loaded once per request), the page's own reads. The pins are exact: a new per-request query
fails here, so it is added on purpose (and the pin raised with a reason) or not at all.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from inventory.models import Api
from portal.audit import Actor
from portal.models import OrgUnit
from tests.conftest import Org
from tests.factories import ApiTokenFactory

LIST, REST_LIST = "/inventory/", "/api/v1/inventory/apis/"
FEW, MANY = 3, 60  # MANY is more than a page (50): the page is full and a next link is shown

# (url, persona) → queries per request, once the session's idle stamp has been written.
#   /inventory/: the user; for the CISO the proved TOTP device, for alice (no device, not privileged)
#   one UNION asking whether she enrolled one; her grants (once: the capability check, the scope,
#   the navigation and the "Register" button all read them); the units menu; the page of APIs.
#   The session itself comes from the cache (cached_db).
#   REST list: the token with its user; the grants; the page (a keyset page counts nothing).
PINNED = {
    (LIST, "ciso"): 5,
    (LIST, "alice"): 5,
    (REST_LIST, "ciso"): 3,
    (REST_LIST, "alice"): 3,
}


def _apis(unit: OrgUnit, start: int, stop: int) -> None:
    Api.objects.bulk_create(
        Api(name=f"QC API {i:03d}", slug=f"qc-api-{i:03d}", org_unit=unit) for i in range(start, stop)
    )


def _client(url: str, user: User, login) -> Client:  # noqa: ANN001 - the conftest fixture
    if url == REST_LIST:
        token = ApiTokenFactory(user=user, name="qc", second_factor=True, actor=Actor(user=user))
        return Client(headers={"Authorization": f"Bearer {token.secret}"})
    return login(user)


def _queries(client: Client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


@pytest.mark.parametrize(("url", "persona"), list(PINNED))
def test_it_runs_a_pinned_number_of_queries_whatever_the_rows(url, persona, org: Org, request, login):
    user = request.getfixturevalue(persona)
    client = _client(url, user, login)
    client.get(url)  # first request: the session's idle stamp and the token's last-used stamp
    _apis(org.team, 0, FEW)

    few, body = _queries(client, url)
    assert body.count("qc-api-") >= FEW

    _apis(org.team, FEW, MANY)
    many, body = _queries(client, url)
    assert body.count("qc-api-") >= 50  # a full page was rendered

    assert (few, many) == (PINNED[url, persona], PINNED[url, persona])
