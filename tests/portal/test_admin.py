"""The admin: org.manage holders only, scoped to their subtree, writing through the audited services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db.models import Model
from django.http import HttpResponse
from django.urls import reverse

from portal.models import AuditEvent, Membership, OrgUnit, Role
from tests.conftest import MakeMember, Org
from tests.factories import UserFactory

ADD_UNIT = reverse("admin:portal_orgunit_add")
ADD_MEMBERSHIP = reverse("admin:portal_membership_add")


@pytest.fixture
def division_ciso(org: Org, make_member: MakeMember) -> User:
    return make_member(Role.CISO, org.division, "dora")


def _change_url(obj: Model) -> str:
    return reverse(f"admin:portal_{obj._meta.model_name}_change", args=[obj.pk])


def _listed_slugs(response: HttpResponse) -> set[str]:
    return {unit.slug for unit in response.context["cl"].result_list}


# --- Who gets in -------------------------------------------------------------------------------------


def test_it_lets_a_ciso_on_the_root_in(ciso, login):
    response = login(ciso).get(reverse("admin:index"))
    assert response.status_code == 200


@pytest.mark.parametrize("role", [r for r in Role.values if r != Role.CISO])
def test_it_refuses_roles_without_org_manage(org, make_member, login, role):
    client = login(make_member(role, org.root))
    assert client.get(reverse("admin:index")).status_code == 403
    assert client.get(reverse("admin:portal_orgunit_changelist")).status_code == 403


def test_it_sends_anonymous_users_to_the_portal_login(db, client):
    response = client.get(reverse("admin:portal_orgunit_changelist"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/admin/portal/orgunit/"


def test_its_own_login_form_is_the_portal_login(db, client):
    response = client.get(reverse("admin:login") + "?next=/admin/portal/")
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/admin/portal/"
    response = client.post(reverse("admin:login"), {"username": "x", "password": "y"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_its_login_form_refuses_a_signed_in_non_manager(bob, login):
    assert login(bob).get(reverse("admin:login")).status_code == 403


# --- What a division's CISO sees ----------------------------------------------------------------------


def test_a_division_ciso_sees_only_that_subtrees_units(division_ciso, login):
    response = login(division_ciso).get(reverse("admin:portal_orgunit_changelist"))
    assert response.status_code == 200
    assert _listed_slugs(response) == {"division", "dept", "team", "sibling"}


def test_a_division_ciso_sees_only_that_subtrees_memberships(org, division_ciso, make_member, login):
    inside = make_member(Role.DEVELOPER, org.team)
    outside = make_member(Role.DEVELOPER, org.other_team)
    above = make_member(Role.AUDITOR, org.root)
    response = login(division_ciso).get(reverse("admin:portal_membership_changelist"))
    assert response.status_code == 200
    users = {m.user.username for m in response.context["cl"].result_list}
    assert inside.username in users
    assert division_ciso.username in users
    assert outside.username not in users
    assert above.username not in users


def test_a_division_ciso_gets_404_for_units_outside(org, division_ciso, login):
    client = login(division_ciso)
    assert client.get(_change_url(org.team)).status_code == 200
    assert client.get(_change_url(org.other_team)).status_code == 404
    assert client.get(_change_url(org.root)).status_code == 404


# --- Writes go through the services ---------------------------------------------------------------------


def test_adding_a_unit_goes_through_the_service(org, division_ciso, login):
    response = login(division_ciso).post(
        ADD_UNIT, {"name": "Card Fraud", "slug": "card-fraud", "kind": "team", "parent": org.dept.pk}
    )
    assert response.status_code == 302
    unit = OrgUnit.objects.get(slug="card-fraud")
    assert unit.path == f"{org.dept.path}{unit.pk}/"
    assert unit.depth == 3
    event = AuditEvent.objects.get(action="org_unit.create", object_id=str(unit.pk))
    assert event.actor_id == division_ciso.pk
    assert event.org_path == unit.path


def test_adding_a_membership_goes_through_the_service(org, division_ciso, login):
    newcomer = UserFactory(username="newcomer")
    response = login(division_ciso).post(
        ADD_MEMBERSHIP, {"user": newcomer.pk, "org_unit": org.team.pk, "role": Role.DEVELOPER}
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=newcomer)
    event = AuditEvent.objects.get(action="membership.grant", object_id=str(membership.pk))
    assert event.actor_id == division_ciso.pk
    assert event.after == {"user": "newcomer", "role": Role.DEVELOPER, "unit": "team"}


def test_renaming_a_unit_records_the_real_before(org, division_ciso, login):
    response = login(division_ciso).post(
        _change_url(org.team), {"name": "Issuing", "kind": "team", "parent": org.dept.pk}
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="org_unit.update", object_id=str(org.team.pk))
    assert event.before == {"name": "Team", "kind": "team"}
    assert event.after == {"name": "Issuing", "kind": "team"}
    assert not AuditEvent.objects.filter(action="org_unit.move").exists()


def test_moving_a_unit_within_scope_rewrites_its_path(org, division_ciso, login):
    response = login(division_ciso).post(
        _change_url(org.team), {"name": "Team", "kind": "team", "parent": org.division.pk}
    )
    assert response.status_code == 302
    org.team.refresh_from_db()
    assert org.team.path == f"{org.division.path}{org.team.pk}/"
    assert AuditEvent.objects.filter(action="org_unit.move", object_id=str(org.team.pk)).exists()
    assert not AuditEvent.objects.filter(action="org_unit.update").exists()


def test_deleting_a_membership_goes_through_the_service(org, division_ciso, make_member, login):
    membership = Membership.objects.get(user=make_member(Role.VIEWER, org.sibling))
    url = reverse("admin:portal_membership_delete", args=[membership.pk])
    response = login(division_ciso).post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert AuditEvent.objects.filter(action="membership.revoke", object_id=str(membership.pk)).exists()


# --- Nothing outside the scope can be picked -------------------------------------------------------------


@pytest.mark.parametrize("parent", ["other_division", "root", None])
def test_it_refuses_a_parent_outside_scope(org, division_ciso, login, parent):
    data = {"name": "Rogue", "slug": "rogue", "kind": "team"}
    if parent is not None:
        data["parent"] = getattr(org, parent).pk
    events = AuditEvent.objects.count()
    response = login(division_ciso).post(ADD_UNIT, data)
    assert response.status_code == 200
    assert "parent" in response.context["adminform"].form.errors
    assert not OrgUnit.objects.filter(slug="rogue").exists()
    assert AuditEvent.objects.count() == events


def test_it_offers_only_parents_in_scope(org, division_ciso, login):
    response = login(division_ciso).get(ADD_UNIT)
    choices = response.context["adminform"].form.fields["parent"].queryset
    assert {u.slug for u in choices} == {"division", "dept", "team", "sibling"}


def test_it_cannot_move_a_unit_under_itself(org, division_ciso, login):
    response = login(division_ciso).post(
        _change_url(org.dept), {"name": "Dept", "kind": "department", "parent": org.team.pk}
    )
    assert response.status_code == 200
    assert "parent" in response.context["adminform"].form.errors
    org.dept.refresh_from_db()
    assert org.dept.parent_id == org.division.pk


def test_the_top_unit_of_the_scope_stays_put(org, division_ciso, login):
    # Its parent is out of reach: the field is read-only, so it can neither be moved nor detached.
    client = login(division_ciso)
    form = client.get(_change_url(org.division)).context["adminform"].form
    assert "parent" not in form.fields
    response = client.post(
        _change_url(org.division), {"name": "Division", "kind": "division", "parent": org.other_division.pk}
    )
    assert response.status_code == 302
    org.division.refresh_from_db()
    assert org.division.parent_id == org.root.pk


def test_it_refuses_a_membership_on_a_unit_outside_scope(org, division_ciso, login):
    newcomer = UserFactory(username="newcomer")
    for unit in (org.other_team, org.root):
        response = login(division_ciso).post(
            ADD_MEMBERSHIP, {"user": newcomer.pk, "org_unit": unit.pk, "role": Role.CISO}
        )
        assert response.status_code == 200
        assert "org_unit" in response.context["adminform"].form.errors
    assert not Membership.objects.filter(user=newcomer).exists()


# --- The audit trail is read-only ---------------------------------------------------------------------------


@pytest.fixture
def event(org: Org) -> AuditEvent | None:
    return AuditEvent.objects.filter(org_path=org.team.path).first()


def test_audit_events_cannot_be_added(ciso, login):
    client = login(ciso)
    assert client.get(reverse("admin:portal_auditevent_add")).status_code == 403
    assert client.post(reverse("admin:portal_auditevent_add"), {"action": "forged"}).status_code == 403
    assert not AuditEvent.objects.filter(action="forged").exists()


def test_audit_events_cannot_be_changed(ciso, login, event):
    client = login(ciso)
    url = _change_url(event)
    response = client.get(url)
    assert response.status_code == 200  # viewable, read-only
    assert not response.context["has_change_permission"]
    assert client.post(url, {"action": "forged"}).status_code == 403
    event.refresh_from_db()
    assert event.action != "forged"


def test_audit_events_cannot_be_deleted(ciso, login, event):
    client = login(ciso)
    url = reverse("admin:portal_auditevent_delete", args=[event.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:portal_auditevent_changelist")
    response = client.post(changelist, {"action": "delete_selected", "_selected_action": [event.pk]})
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    assert "delete_selected" not in client.get(changelist).content.decode()
    assert response.status_code in (200, 302)


def test_the_unit_list_does_not_name_a_parent_outside_scope(org, make_member, login):
    from portal.models import OrgUnit, Role

    OrgUnit.objects.filter(pk=org.root.pk).update(name="Zebracorp Holdings")
    division_ciso = make_member(Role.CISO, org.division, "divciso")
    html = login(division_ciso).get("/admin/portal/orgunit/").content.decode()
    assert "Zebracorp" not in html
    assert "Division" in html  # the parent of dept is in scope and still named


def test_the_membership_user_menu_offers_only_people_in_scope_or_unplaced(org, make_member, login):
    from django.contrib.auth import get_user_model

    from portal.models import Role

    division_ciso = make_member(Role.CISO, org.division, "divciso")
    make_member(Role.DEVELOPER, org.team, "insider")
    make_member(Role.DEVELOPER, org.other_team, "outsider")
    get_user_model().objects.create_user("newjoiner", "n@example.com")
    html = login(division_ciso).get("/admin/portal/membership/add/").content.decode()
    assert "insider" in html and "newjoiner" in html
    assert "outsider" not in html


def test_a_password_change_is_audited(ciso, login):
    from portal.models import AuditEvent
    from tests.factories import TEST_PASSWORD

    client = login(ciso)
    new = "another-long-passphrase-42"
    r = client.post(
        "/admin/password_change/",
        {"old_password": TEST_PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert r.status_code == 302
    event = AuditEvent.objects.get(action="user.password_change")
    assert event.actor_id == ciso.pk and event.object_id == str(ciso.pk)
    # A refused change (wrong old password) records nothing.
    client.post(
        "/admin/password_change/", {"old_password": "nope", "new_password1": new, "new_password2": new}
    )
    assert AuditEvent.objects.filter(action="user.password_change").count() == 1
