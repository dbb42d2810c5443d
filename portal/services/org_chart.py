"""The verbs of the org chart: units, memberships and people. Each is one transaction and one audit record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from portal import audit
from portal.access import forget_grants
from portal.audit import Actor
from portal.models import Membership, OrgUnit, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User  # settings.AUTH_USER_MODEL
else:
    User = get_user_model()


# --- Org chart --------------------------------------------------------------------------------------


def _path_for(unit: OrgUnit) -> str:
    return (unit.parent.path if unit.parent is not None else "/") + f"{unit.pk}/"


@transaction.atomic
def org_unit_create(
    *, actor: Actor, name: str, slug: str, parent: OrgUnit | None, kind: str = OrgUnit.Kind.UNIT
) -> OrgUnit:
    unit = OrgUnit(name=name, slug=slug, parent=parent, kind=kind, path="/pending/")
    unit.full_clean(exclude=["path"])
    unit.save()
    unit.path = _path_for(unit)
    unit.depth = unit.path.count("/") - 2
    unit.save(update_fields=["path", "depth"])
    audit.record(
        actor=actor,
        action="org_unit.create",
        obj=unit,
        org_unit=unit,
        after=audit.snapshot(unit, ["name", "slug", "kind", "parent", "path"]),
    )
    return unit


@transaction.atomic
def org_unit_update(*, actor: Actor, unit: OrgUnit, name: str, kind: str) -> OrgUnit:
    before = audit.snapshot(unit, ["name", "kind"])
    unit.name, unit.kind = name, kind
    unit.full_clean()
    unit.save(update_fields=["name", "kind"])
    audit.record(
        actor=actor,
        action="org_unit.update",
        obj=unit,
        org_unit=unit,
        before=before,
        after=audit.snapshot(unit, ["name", "kind"]),
    )
    return unit


@transaction.atomic
def org_unit_move(*, actor: Actor, unit: OrgUnit, new_parent: OrgUnit | None) -> OrgUnit:
    """Re-parent a unit and rewrite the paths of its whole subtree in one statement."""
    unit = OrgUnit.objects.select_for_update().get(pk=unit.pk)
    if new_parent is not None and new_parent.path.startswith(unit.path):
        raise ValidationError({"parent": "A unit cannot be moved under itself or its own descendants."})
    before = audit.snapshot(unit, ["parent", "path"])
    old_path = unit.path
    unit.parent = new_parent
    new_path = _path_for(unit)
    depth_delta = new_path.count("/") - old_path.count("/")
    from django.db.models import F, Value
    from django.db.models.functions import Concat, Substr

    OrgUnit.objects.filter(path__startswith=old_path).update(
        path=Concat(Value(new_path), Substr("path", len(old_path) + 1)),
        depth=F("depth") + depth_delta,
    )
    OrgUnit.objects.filter(pk=unit.pk).update(parent=new_parent)
    unit.refresh_from_db()
    audit.record(
        actor=actor,
        action="org_unit.move",
        obj=unit,
        org_unit=unit,
        before=before,
        after=audit.snapshot(unit, ["parent", "path"]),
    )
    return unit


@transaction.atomic
def org_unit_delete(*, actor: Actor, unit: OrgUnit) -> None:
    if unit.children.exists():
        raise ValidationError("Remove or move the unit's children first.")
    before = audit.snapshot(unit, ["name", "slug", "kind", "parent", "path"])
    audit.record(actor=actor, action="org_unit.delete", obj=unit, org_unit=unit, before=before)
    unit.delete()


# --- Memberships ------------------------------------------------------------------------------------


@transaction.atomic
def membership_grant(*, actor: Actor, user: User, org_unit: OrgUnit, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    membership, created = Membership.objects.get_or_create(user=user, org_unit=org_unit, role=role)
    if created:
        audit.record(
            actor=actor,
            action="membership.grant",
            obj=membership,
            org_unit=org_unit,
            after={"user": user.get_username(), "role": role, "unit": org_unit.slug},
        )
        forget_grants(user)
    return membership


@transaction.atomic
def membership_revoke(*, actor: Actor, membership: Membership) -> None:
    audit.record(
        actor=actor,
        action="membership.revoke",
        obj=membership,
        org_unit=membership.org_unit,
        before={
            "user": membership.user.get_username(),
            "role": membership.role,
            "unit": membership.org_unit.slug,
        },
    )
    forget_grants(membership.user)
    membership.delete()


# --- Users --------------------------------------------------------------------------------------------


@transaction.atomic
def user_create(*, actor: Actor, username: str, email: str, password: str | None, **extra: Any) -> User:
    from django.contrib.auth.password_validation import validate_password

    user = User(username=username, email=email, **extra)
    if password is not None:
        validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    audit.record(actor=actor, action="user.create", obj=user, after={"username": username, "email": email})
    return user
