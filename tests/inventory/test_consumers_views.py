"""Who relies on an API, and the blast radius shown on its page."""

from __future__ import annotations

import pytest

from inventory.models import ApiDependency
from tests.factories import ApiDependencyFactory, ApiFactory
from tests.inventory.pages import url


@pytest.mark.parametrize("data", [{}, {"consumer_api": "orders", "consumer_service": "Batch"}])
def test_it_shows_the_services_consumer_rule_in_the_form(org, api, alice, login, data):
    ApiFactory(org_unit=org.team, slug="orders")
    response = login(alice).post(url("dependency_add", api.slug), data)
    assert response.status_code == 400
    assert "Name exactly one consumer" in response.content.decode()
    assert not ApiDependency.objects.exists()


def test_it_adds_and_removes_consumers(org, api, alice, login):
    other = ApiFactory(org_unit=org.team, slug="orders")
    client = login(alice)
    assert client.post(url("dependency_add", api.slug), {"consumer_api": "orders"}).status_code == 302
    assert (
        client.post(url("dependency_add", api.slug), {"consumer_service": "Nightly batch"}).status_code == 302
    )
    deps = ApiDependency.objects.filter(api=api)
    assert {str(d.consumer_api or d.consumer_service) for d in deps} == {"Orders", "Nightly batch"}
    assert deps.get(consumer_service__isnull=False).consumer_service.owner == org.team
    dep = deps.get(consumer_api=other)
    assert client.post(url("dependency_remove", api.slug, dep.pk)).status_code == 302
    assert not ApiDependency.objects.filter(pk=dep.pk).exists()


def test_it_does_not_link_an_api_the_user_cannot_see(org, api, alice, login):
    ApiFactory(org_unit=org.other_team, slug="secret")
    response = login(alice).post(url("dependency_add", api.slug), {"consumer_api": "secret"})
    assert response.status_code == 400
    assert "No API with this slug" in response.content.decode()
    assert not ApiDependency.objects.exists()


def test_it_hides_out_of_scope_apis_in_the_blast_radius(org, api, alice, login):
    visible = ApiFactory(org_unit=org.team, slug="orders")
    hidden = ApiFactory(org_unit=org.other_team, slug="ledger-secret")
    ApiDependencyFactory(api=api, consumer_api=visible)
    ApiDependencyFactory(api=visible, consumer_api=hidden)
    ApiDependencyFactory(api=hidden, consumer_api=api)  # a cycle back
    body = login(alice).get(url("detail", api.slug), {"tab": "consumers"}).content.decode()
    assert "Orders" in body
    assert "ledger-secret" not in body and "Ledger-Secret" not in body
    assert "And 1 API outside your scope" in body
