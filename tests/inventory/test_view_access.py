"""Who reaches the inventory pages: every view, every persona.

alice is a developer on team, bob a viewer on team, charlie a developer on the sibling team.
Every mutating view gets: anonymous redirected, wrong role 403, another unit's API 404.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from inventory.models import ApiStatus, Environment
from tests.inventory.pages import url

GET_VIEWS = [
    ("list", ()),
    ("export", ()),
    ("create", ()),
    ("catalog_upload", ()),
    ("discovery", ()),
    ("discovery_upload", ()),
]
API_GET_VIEWS = [("detail", ()), ("edit_section", ("basics",)), ("spec_diff", ())]
API_POST_VIEWS = [
    ("edit_section", ("basics",)),
    ("transition", ()),
    ("spec_upload", ()),
    ("components_upload", ()),
    ("environment_save", ()),
    ("window_add", ()),
    ("dependency_add", ()),
]


@pytest.mark.parametrize(("name", "args"), GET_VIEWS)
def test_it_redirects_anonymous_to_login(org, name, args):
    response = Client().get(url(name, *args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("name", "args"), API_GET_VIEWS + API_POST_VIEWS)
def test_it_redirects_anonymous_from_api_pages(api, name, args):
    client = Client()
    response = (
        client.post(url(name, api.slug, *args))
        if (name, args) in API_POST_VIEWS
        else client.get(url(name, api.slug, *args))
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("name", "args"), [("list", ()), ("export", ()), ("create", ()), ("discovery", ())])
def test_it_forbids_users_without_a_role(nobody, login, name, args):
    assert login(nobody).get(url(name, *args)).status_code == 403


@pytest.mark.parametrize(("name", "args"), [("create", ()), ("catalog_upload", ()), ("discovery_upload", ())])
def test_it_forbids_viewers_from_registration_pages(bob, login, name, args):
    assert login(bob).get(url(name, *args)).status_code == 403


@pytest.mark.parametrize(("name", "args"), API_POST_VIEWS)
def test_it_forbids_viewers_from_changing_an_api(api, bob, login, name, args):
    data = {"action": "submit"} if name == "transition" else {}
    response = login(bob).post(url(name, api.slug, *args), data)
    assert response.status_code == 403


@pytest.mark.parametrize(("name", "args"), API_GET_VIEWS + API_POST_VIEWS)
def test_it_hides_another_units_api(api, charlie, login, name, args):
    client = login(charlie)
    response = (
        client.post(url(name, api.slug, *args))
        if (name, args) in API_POST_VIEWS
        else client.get(url(name, api.slug, *args))
    )
    assert response.status_code == 404


def test_it_hides_another_units_child_objects(api, env, charlie, login):
    client = login(charlie)
    for path in (
        url("environment_delete", api.slug, env.pk),
        url("server_attach", api.slug, env.pk),
        url("baseline_save", api.slug, env.pk),
        url("window_delete", api.slug, 1),
        url("dependency_remove", api.slug, 1),
    ):
        assert client.post(path).status_code == 404, path
    assert client.get(url("spec_raw", api.slug, 1)).status_code == 404
    assert Environment.objects.filter(pk=env.pk).exists()


def test_it_rejects_get_on_post_only_views(api, alice, login):
    assert login(alice).get(url("transition", api.slug)).status_code == 405


def test_it_requires_a_csrf_token(org, api, alice):
    from tests.conftest import verified_login

    client = verified_login(Client(enforce_csrf_checks=True), alice)
    response = client.post(url("transition", api.slug), {"action": "submit"})
    assert response.status_code == 403
    api.refresh_from_db()
    assert api.status == ApiStatus.DRAFT
