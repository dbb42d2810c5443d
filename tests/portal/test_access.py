"""The capability table and subtree scoping, without going through views."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from portal.access import ROLE_CAPABILITIES, Cap, require, scopes_for
from portal.models import Membership, OrgUnit, Role
from tests.factories import grant


def test_every_role_has_capabilities():
    assert set(ROLE_CAPABILITIES) == set(Role.values)
    assert all(ROLE_CAPABILITIES[r] for r in Role.values)


def test_it_applies_a_role_to_the_whole_subtree(org, make_member):
    user = make_member(Role.VIEWER, org.division)
    visible = set(OrgUnit.objects.visible_to(user, Cap.ORG_VIEW).values_list("slug", flat=True))
    assert visible == {"division", "dept", "team", "sibling"}


def test_it_does_not_reach_up_or_sideways(org, make_member):
    user = make_member(Role.DEVELOPER, org.team)
    visible = set(OrgUnit.objects.visible_to(user, Cap.ORG_VIEW).values_list("slug", flat=True))
    assert visible == {"team"}
    with pytest.raises(Http404):
        require(user, Cap.ORG_VIEW, org.sibling)
    with pytest.raises(Http404):
        require(user, Cap.ORG_VIEW, org.dept)


def test_it_answers_403_for_visible_but_not_allowed(org, make_member):
    user = make_member(Role.VIEWER, org.team)
    require(user, Cap.ORG_VIEW, org.team)
    with pytest.raises(PermissionDenied):
        require(user, Cap.ORG_MANAGE, org.team)


def test_different_roles_on_different_units(org, make_member):
    user = make_member(Role.DEVELOPER, org.team)
    grant(user, org.other_division, Role.VIEWER)
    user.refresh_from_db()
    assert scopes_for(user, Cap.INVENTORY_SUBMIT) == [org.team.path]
    assert sorted(scopes_for(user, Cap.INVENTORY_VIEW)) == sorted([org.team.path, org.other_division.path])


def test_parent_grant_absorbs_child_grant(org, make_member):
    user = make_member(Role.VIEWER, org.team)
    grant(user, org.division, Role.VIEWER)
    user.refresh_from_db()
    assert scopes_for(user, Cap.ORG_VIEW) == [org.division.path]


def test_no_membership_sees_nothing(org, db):
    from tests.factories import UserFactory

    user = UserFactory()
    assert not OrgUnit.objects.visible_to(user, Cap.ORG_VIEW).exists()
    assert not Membership.objects.visible_to(user, Cap.ORG_VIEW).exists()


def test_inactive_user_sees_nothing(org, make_member):
    user = make_member(Role.CISO, org.root)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert not OrgUnit.objects.visible_to(user, Cap.ORG_VIEW).exists()


def test_moving_a_unit_rewrites_its_subtree(org):
    from portal.services.org_chart import org_unit_move
    from tests.factories import SYSTEM

    org_unit_move(actor=SYSTEM, unit=org.dept, new_parent=org.other_division)
    org.team.refresh_from_db()
    assert org.team.path == f"{org.root.path}{org.other_division.pk}/{org.dept.pk}/{org.team.pk}/"
    assert org.team.depth == 3


def test_a_unit_cannot_move_under_itself(org):
    from django.core.exceptions import ValidationError

    from portal.services.org_chart import org_unit_move
    from tests.factories import SYSTEM

    with pytest.raises(ValidationError):
        org_unit_move(actor=SYSTEM, unit=org.division, new_parent=org.team)
