"""Registering an API in the browser: the create form and the section forms."""

from __future__ import annotations

from inventory.models import Api, ApiStatus
from tests.factories import ApiFactory
from tests.inventory.pages import url

# --- Create ----------------------------------------------------------------------------------------------


def test_it_offers_only_units_where_the_user_may_register(org, alice, login):
    body = login(alice).get(url("create")).content.decode()
    assert f'value="{org.team.pk}"' in body
    assert f'value="{org.sibling.pk}"' not in body


def test_it_creates_a_draft(org, alice, login):
    response = login(alice).post(
        url("create"), {"org_unit": org.team.pk, "name": "Payments", "slug": "payments"}
    )
    api = Api.objects.get(slug="payments")
    assert response.status_code == 302
    assert response["Location"] == url("detail", "payments")
    assert api.status == ApiStatus.DRAFT and api.org_unit == org.team


def test_it_refuses_another_units_team_on_create(org, alice, login):
    response = login(alice).post(url("create"), {"org_unit": org.sibling.pk, "name": "X", "slug": "x"})
    assert response.status_code == 400
    assert not Api.objects.exists()


def test_it_reports_a_duplicate_slug(org, api, alice, login):
    response = login(alice).post(url("create"), {"org_unit": org.team.pk, "name": "Again", "slug": api.slug})
    assert response.status_code == 400
    assert "already registered" in response.content.decode()


# --- Sections --------------------------------------------------------------------------------------------


def test_it_404s_an_unknown_section(api, alice, login):
    assert login(alice).get(url("edit_section", api.slug, "nope")).status_code == 404


def test_it_prefills_a_section_and_shows_what_is_missing(org, alice, login):
    api = ApiFactory(org_unit=org.team, slug="prefilled", description="Moves money")
    body = login(alice).get(url("edit_section", api.slug, "basics")).content.decode()
    assert "Moves money" in body
    assert "Still missing" in body and "a technical contact" in body and "an OpenAPI document" in body
    assert ">a description</a>" not in body and ">a technical contact</a>" in body


def test_it_saves_one_section_and_updates_missing(api, alice, login):
    client = login(alice)
    response = client.post(
        url("edit_section", api.slug, "contact"),
        {"technical_contact_name": "Ann", "technical_contact_email": "ann@example.com"},
    )
    assert response.status_code == 302
    api.refresh_from_db()
    assert api.technical_contact_email == "ann@example.com"
    assert "a technical contact" not in api.missing
    body = client.get(response["Location"]).content.decode()
    assert "Contact" in body or "contact" in body
    assert ">a technical contact</a>" not in body and ">a description</a>" in body


def test_it_shows_section_errors(api, alice, login):
    response = login(alice).post(
        url("edit_section", api.slug, "contact"), {"technical_contact_email": "nope"}
    )
    assert response.status_code == 400
    assert "valid email" in response.content.decode()


def test_it_shows_service_errors_on_the_field(api, alice, login):
    data = {"exposure": "public", "data_classification": "internal", "auth_schemes": ["none", "bearer"]}
    response = login(alice).post(url("edit_section", api.slug, "security"), data)
    assert response.status_code == 400
    assert "cannot be combined" in response.content.decode()
    api.refresh_from_db()
    assert api.auth_schemes == []
