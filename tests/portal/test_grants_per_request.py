"""A user's grants are read once per request, and never kept longer: a grant revoked (by the service,
the admin or any other write to the table) is gone on the very next request, page or token."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portal.audit import Actor
from portal.models import Membership, Role
from portal.services.org_chart import membership_revoke
from tests.conftest import Org
from tests.factories import ApiFactory, ApiTokenFactory, grant

LIST, REST_LIST = "/inventory/", "/api/v1/inventory/apis/"
SYSTEM = Actor.system("test")


def _grant_reads(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return sum('FROM "portal_membership"' in q["sql"] for q in ctx.captured_queries)


def test_it_reads_the_grants_once_per_request(bob: User, login):
    client = login(bob)
    client.get(LIST)
    # The page checks the capability, scopes the list, builds the units menu and the navigation.
    assert _grant_reads(client, LIST) == 1
    assert _grant_reads(client, LIST) == 1  # and again on the next request: not kept between them


def test_a_revoked_grant_takes_effect_on_the_next_page(bob: User, login):
    client = login(bob)
    assert client.get(LIST).status_code == 200

    membership_revoke(actor=SYSTEM, membership=Membership.objects.get(user=bob))
    assert client.get(LIST).status_code == 403


def test_a_grant_deleted_outside_the_services_takes_effect_on_the_next_page(bob: User, login):
    client = login(bob)
    assert client.get(LIST).status_code == 200

    Membership.objects.filter(user=bob).delete()  # the admin, a shell: no service, no signal relied on
    assert client.get(LIST).status_code == 403


def test_a_revoked_grant_takes_effect_on_the_next_token_call(org: Org, alice: User):
    token = ApiTokenFactory(user=alice, name="ci", second_factor=True, actor=Actor(user=alice))
    client = Client(headers={"Authorization": f"Bearer {token.secret}"})
    assert client.get(REST_LIST).status_code == 200

    membership_revoke(actor=SYSTEM, membership=Membership.objects.get(user=alice))
    assert client.get(REST_LIST).status_code == 403


def test_a_narrowed_grant_narrows_the_next_page(org: Org, make_member, login):
    ApiFactory(org_unit=org.team, slug="ours", name="Ours")
    ApiFactory(org_unit=org.other_team, slug="theirs", name="Theirs")
    user = make_member(Role.VIEWER, org.root, "vera")
    client = login(user)
    body = client.get(LIST).content.decode()
    assert "/inventory/apis/ours/" in body and "/inventory/apis/theirs/" in body

    Membership.objects.filter(user=user).delete()
    grant(user, org.team, Role.VIEWER)
    body = client.get(LIST).content.decode()
    assert "/inventory/apis/ours/" in body and "/inventory/apis/theirs/" not in body
