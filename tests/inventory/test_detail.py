"""An API's page: its tabs, and the buttons each persona is offered."""

from __future__ import annotations

import pytest

from inventory.services import review
from portal.models import Role
from tests.factories import SYSTEM, EnvironmentFactory
from tests.inventory.pages import url


@pytest.mark.parametrize(
    "tab", ["overview", "spec", "packages", "servers", "consumers", "metrics", "history"]
)
def test_it_renders_every_tab(api, env, alice, login, tab):
    client = login(alice)
    full = client.get(url("detail", api.slug), {"tab": tab})
    assert full.status_code == 200
    assert "<html" in full.content.decode()
    partial = client.get(url("detail", api.slug), {"tab": tab}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert "<html" not in partial.content.decode()
    assert "HX-Request" in partial["Vary"]


def test_it_shows_a_viewer_no_buttons(api, bob, login):
    body = login(bob).get(url("detail", api.slug)).content.decode()
    assert api.name in body
    assert "Submit for review" not in body
    assert url("edit_section", api.slug, "basics") not in body


def test_it_shows_only_allowed_transitions(ready, alice, ciso, login):
    body = login(alice).get(url("detail", ready.slug)).content.decode()
    assert "Submit for review" in body and ">Approve<" not in body
    review.api_submit(actor=SYSTEM, api=ready)
    body = login(alice).get(url("detail", ready.slug)).content.decode()
    assert "Submit for review" not in body and ">Approve<" not in body
    body = login(ciso).get(url("detail", ready.slug)).content.decode()
    assert ">Approve<" in body and "Request changes" in body


def test_it_shows_the_history_to_audit_readers_only(org, api, alice, make_member, login):
    EnvironmentFactory(api=api, name="staging", base_urls=["https://s.example.com"])
    auditor = make_member(Role.AUDITOR, org.root, "audrey")
    body = login(auditor).get(url("detail", api.slug), {"tab": "history"}).content.decode()
    assert "Registered" in body and "Environment saved" in body
    # Viewing an API is not reading its audit trail: no tab, and asking for it shows the overview.
    body = login(alice).get(url("detail", api.slug), {"tab": "history"}).content.decode()
    assert "Environment saved" not in body and "?tab=history" not in body
