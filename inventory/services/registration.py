"""The API record: registration by form, REST and CI, and the derived summary columns.

Every verb is one transaction with one audit record and checks access itself (``portal.access.authorize``).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import Http404
from django.utils import timezone

from inventory.models import (
    API_IN_USE,
    Api,
    ApiStatus,
    AuthScheme,
    Limits,
    Protocol,
)
from inventory.services import review, summary
from inventory.services.summary import refresh_summary
from portal import audit
from portal.access import Cap, authorize, authorize_unit
from portal.audit import Actor
from portal.models import OrgUnit
from portal.workflow import StateConflict

API_FIELDS = [
    "name", "description", "technical_contact_name", "technical_contact_email", "lifecycle", "version",
    "exposure", "data_classification", "handles_personal_data", "auth_schemes", "protocols",
    "availability_target",
]  # fmt: skip


def _validate_choices(
    values: list[str], choices: type[models.TextChoices], label: str, limit: int
) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValidationError({label: "Give a list of names."})
    if len(values) > limit:
        raise ValidationError({label: f"Give at most {limit} names."})
    unknown = sorted(set(values) - set(choices.values))
    if unknown:
        raise ValidationError(
            {label: f"Unknown: {', '.join(unknown)}. Choose from {', '.join(choices.values)}."}
        )
    return sorted(set(values), key=list(choices.values).index)


def _clean_api(api: Api) -> None:
    api.auth_schemes = _validate_choices(
        api.auth_schemes or [], AuthScheme, "auth_schemes", Limits.AUTH_SCHEMES
    )
    api.protocols = _validate_choices(api.protocols or [], Protocol, "protocols", Limits.PROTOCOLS)
    if AuthScheme.NONE in api.auth_schemes and len(api.auth_schemes) > 1:
        raise ValidationError({"auth_schemes": "“None” cannot be combined with other schemes."})
    api.full_clean()


def _save_environments(actor: Actor, api: Api, environments: list[dict[str, Any]] | None) -> None:
    from inventory.services.environments import environment_save

    if environments and len(environments) > Limits.ENVIRONMENTS:
        raise ValidationError({"environments": f"At most {Limits.ENVIRONMENTS} environments."})
    with summary.refreshed_once():
        for env in environments or []:
            environment_save(
                actor=actor,
                api=api,
                name=env["name"],
                base_urls=env["base_urls"],
                is_production=env.get("is_production", False),
            )


@transaction.atomic
def api_create(
    *,
    actor: Actor,
    org_unit: OrgUnit,
    slug: str,
    name: str,
    environments: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> Api:
    """Register a new API as a draft for ``org_unit``, with its environments if given (all or nothing)."""
    authorize_unit(actor, Cap.INVENTORY_SUBMIT, org_unit)
    unknown = set(fields) - set(API_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    if Api.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": "An API with this slug is already registered."})
    api = Api(org_unit=org_unit, slug=slug, name=name, created_by=actor.user, **fields)
    _clean_api(api)
    api.save()
    refresh_summary(api)
    audit.record(
        actor=actor,
        action="api.create",
        obj=api,
        org_unit=org_unit,
        after=audit.snapshot(api, ["slug", *API_FIELDS]),
    )
    _save_environments(actor, api, environments)
    return api


@transaction.atomic
def api_update(
    *, actor: Actor, api: Api, environments: list[dict[str, Any]] | None = None, **fields: Any
) -> Api:
    """Change the record's fields (and save the environments given, by name); unchanged values
    write nothing, so CI can send the same registration on every run."""
    authorize(actor, Cap.INVENTORY_SUBMIT, api)
    unknown = set(fields) - set(API_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    api = Api.objects.select_for_update().select_related("org_unit").get(pk=api.pk)
    if not is_editable(api):
        raise ValidationError("A retired API can no longer be changed.")
    changed = [k for k, v in fields.items() if getattr(api, k) != v]
    _save_environments(actor, api, environments)
    if not changed:
        return api
    before = audit.snapshot(api, changed)
    for key in changed:
        setattr(api, key, fields[key])
    _clean_api(api)
    api.updated_at = timezone.now()
    api.save(update_fields=[*changed, "updated_at"])
    refresh_summary(api)
    after = audit.snapshot(api, changed)
    audit.record(actor=actor, action="api.update", obj=api, org_unit=api.org_unit, before=before, after=after)
    material = [name for name in MATERIAL_FIELDS if name in changed and before[name] != after[name]]
    if material:
        api = review.api_send_back(actor=actor, api=api, what=f"changed {', '.join(material)}")
    return api


def is_editable(api: Api) -> bool:
    """Whether the record may still be changed (the page offers its forms only then)."""
    return api.status != ApiStatus.RETIRED


# What a reviewer approved that, once changed, needs their eyes again. Cosmetic fields (name,
# description, contact, version) do not.
MATERIAL_FIELDS = ("exposure", "auth_schemes", "data_classification", "handles_personal_data")


@transaction.atomic
def api_upsert(
    *, actor: Actor, org_unit: OrgUnit | None, slug: str, name: str, **fields: Any
) -> tuple[Api, bool]:
    """Create or update by slug: what CI calls on every pipeline run (idempotent). ``org_unit`` is
    needed to create; on an update it may be left out, and must not differ."""
    existing = Api.objects.select_related("org_unit").filter(slug=slug).first()
    if existing is None:
        if org_unit is None:
            # Answered like someone else's API (404), so an update cannot probe which slugs exist.
            raise Http404
        return api_create(actor=actor, org_unit=org_unit, slug=slug, name=name, **fields), True
    # Outside the actor's sight the API does not exist for them (404), visible but not theirs: 403.
    authorize(actor, Cap.INVENTORY_SUBMIT, existing)
    if org_unit is not None and existing.org_unit_id != org_unit.pk:
        raise ValidationError(
            {"org_unit": "The API belongs to another unit; ownership is not changed by an update."}
        )
    return api_update(actor=actor, api=existing, name=name, **fields), False


def can_confirm(api: Api) -> bool:
    """Only records in use are confirmed: a draft is still being written, a retired one is gone."""
    return api.status in API_IN_USE


@transaction.atomic
def api_confirm(*, actor: Actor, api: Api) -> Api:
    """The owners confirm the record is still accurate (resets the staleness clock)."""
    authorize(actor, Cap.INVENTORY_SUBMIT, api)
    api = Api.objects.select_for_update().select_related("org_unit").get(pk=api.pk)
    if not can_confirm(api):
        raise StateConflict(f"A {api.get_status_display().lower()} record has nothing to confirm yet.")
    now = timezone.now()
    Api.objects.filter(pk=api.pk).update(confirmed_at=now, stale_notified_at=None)
    api.confirmed_at, api.stale_notified_at = now, None
    audit.record(actor=actor, action="api.confirm", obj=api, org_unit=api.org_unit)
    return api
