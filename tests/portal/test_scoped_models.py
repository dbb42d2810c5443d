"""Every scoped model of every app declares its scope once, and that declaration works.

``ScopedModel.scope_path`` is read by both the queryset (``visible_to``) and the instance
(``scope_path_value``). A wrong path used to show up only when someone first called
``visible_to`` on that model; here every model is exercised, so a new app cannot repeat it.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models

from portal.access import Cap
from portal.models import Membership, OrgUnit, Role, ScopedModel
from tests.factories import UserFactory, grant

SCOPED = sorted((m for m in apps.get_models() if issubclass(m, ScopedModel)), key=lambda m: m._meta.label)

# Models reached only through a scoped parent (their views look the parent up first), or not owned
# by a unit at all. A model that points at a unit or an API and is in neither list fails below.
UNSCOPED_CHILDREN = {
    "inventory.operation",  # through Spec
    "inventory.responsecode",  # through Operation
    "inventory.performancebaseline",  # through Environment
    "inventory.logingest",  # company-wide: only inventory.review over every root reads it
}


def _resolve(model: type[models.Model], path: str) -> models.Field:
    """Follow ``path`` (``api__org_unit__path``) through the model's relations to the last field."""
    field = None
    for part in path.split("__"):
        field = model._meta.get_field(part)
        if field.is_relation:
            model = field.related_model
    assert field is not None
    return field


def test_there_are_scoped_models_in_every_app_that_has_data():
    labels = {m._meta.app_label for m in SCOPED}
    assert {"portal", "inventory"} <= labels


@pytest.mark.parametrize("model", SCOPED, ids=[m._meta.label for m in SCOPED])
def test_scope_path_ends_at_a_unit_path(model):
    field = _resolve(model, model.scope_path)
    assert isinstance(field, models.CharField), f"{model._meta.label}.scope_path ends at {field!r}"
    assert field.model in (OrgUnit, model) or field.name in ("path", "org_path")


@pytest.mark.parametrize("model", SCOPED, ids=[m._meta.label for m in SCOPED])
def test_visible_to_runs_for_every_scoped_model(model, org, db):
    user = UserFactory(username=f"viewer-{model._meta.model_name}")
    grant(user, org.team, Role.VIEWER)
    # Evaluated, not just built: a wrong field name raises FieldError only when the SQL is made.
    model._default_manager.visible_to(user, Cap.INVENTORY_VIEW).count()
    assert model._default_manager.visible_to(user, Cap.AUDIT_VIEW).count() == 0


def test_the_instance_follows_the_same_path(org, db):
    user = UserFactory(username="alice-scope")
    membership = grant(user, org.team, Role.DEVELOPER)
    assert isinstance(membership, Membership)
    assert membership.scope_path_value == org.team.path
    assert org.team.scope_path_value == org.team.path


def test_every_model_owned_by_a_unit_or_an_api_is_scoped():
    from inventory.models import Api

    missing = []
    for model in apps.get_models():
        label = model._meta.label_lower
        if issubclass(model, ScopedModel) or label in UNSCOPED_CHILDREN:
            continue
        owners = {
            f.related_model
            for f in model._meta.get_fields()
            if f.is_relation and f.many_to_one and not f.auto_created
        }
        if owners & {OrgUnit, Api}:
            missing.append(label)
    assert not missing, f"Declare scope_path (ScopedModel) or list as a child: {missing}"
