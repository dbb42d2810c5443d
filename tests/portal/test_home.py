"""The home page: each role sees the counts of its own scope, in a constant number of queries."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from inventory.services import review
from portal.audit import Actor
from tests.conftest import Org
from tests.factories import ApiFactory, register_api


@pytest.fixture
def apis(org: Org, alice: User, charlie: User) -> None:
    ApiFactory(org_unit=org.team, slug="mine", name="Mine", actor=Actor(user=alice))
    theirs = register_api(org.sibling, "theirs", "Theirs", actor=Actor(user=charlie))
    review.api_submit(actor=Actor(user=charlie), api=theirs)


def test_a_developer_sees_only_their_units_apis(apis, alice, login):
    html = login(alice).get("/").content.decode()
    assert '<div class="display-6">1</div>' in html
    assert "Mine</a> — Draft" in html
    assert "Theirs" not in html
    assert "Waiting for your review" not in html


def test_the_security_team_sees_everything_waiting_for_review(apis, ciso, login):
    html = login(ciso).get("/").content.decode()
    assert '<div class="display-6">2</div>' in html
    assert "Waiting for your review: submitted for review</a>: 1" in html


def test_a_user_without_roles_sees_no_inventory(db, login):
    from tests.factories import UserFactory

    html = login(UserFactory(username="nobody")).get("/").content.decode()
    assert "inventory-summary" not in html and "You hold no role yet" in html


def test_the_home_page_query_count_does_not_grow(org, ciso, login, django_assert_max_num_queries):
    client = login(ciso)
    with django_assert_max_num_queries(14):
        client.get("/")
    for i in range(30):
        ApiFactory(org_unit=org.team, slug=f"api-{i}", name=f"API {i}")
    with django_assert_max_num_queries(14):
        client.get("/")
