"""Who relies on an API: registered APIs or named services.

Every verb is one transaction with one audit record and checks access itself (``portal.access.authorize``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from inventory.models import (
    Api,
    ApiDependency,
    ConsumerService,
    Limits,
)
from portal import audit
from portal.access import Cap, authorize, authorize_unit
from portal.audit import Actor
from portal.models import OrgUnit
from portal.validators import check_fields


@transaction.atomic
def dependency_add(
    *,
    actor: Actor,
    api: Api,
    consumer_api: Api | None = None,
    consumer_service: ConsumerService | None = None,
    note: str = "",
) -> ApiDependency:
    """Record that a consumer relies on ``api``. Cycles are allowed (they exist in real systems);
    the blast-radius walk handles them."""
    authorize(actor, Cap.INVENTORY_SUBMIT, api)
    if (consumer_api is None) == (consumer_service is None):
        raise ValidationError("Name exactly one consumer: a registered API or a service.")
    if consumer_api is not None and consumer_api.pk == api.pk:
        raise ValidationError({"consumer_api": "An API cannot consume itself."})
    if ApiDependency.objects.filter(api=api).count() >= Limits.CONSUMERS:
        raise ValidationError(f"An API has at most {Limits.CONSUMERS} recorded consumers.")
    check_fields(ApiDependency, note=note)  # get_or_create below skips full_clean()
    dep, created = ApiDependency.objects.get_or_create(
        api=api, consumer_api=consumer_api, consumer_service=consumer_service, defaults={"note": note}
    )
    if created:
        audit.record(
            actor=actor,
            action="api.dependency_add",
            obj=dep,
            org_unit=api.org_unit,
            after={"consumer": str(consumer_api or consumer_service), "api": api.slug},
        )
    return dep


@transaction.atomic
def consumer_add(
    *, actor: Actor, api: Api, consumer_api_slug: str = "", consumer_service_name: str = "", note: str = ""
) -> ApiDependency:
    """Record a consumer named by the user: an API they can see (by slug), or a service, which is
    recorded as owned by the API's unit (the team that knows of it)."""
    consumer_api = None
    if consumer_api_slug:
        candidates = Api.objects.filter(slug=consumer_api_slug)
        if actor.user is not None:
            candidates = candidates.visible_to(actor.user, Cap.INVENTORY_VIEW)
        consumer_api = candidates.first()
        if consumer_api is None:
            raise ValidationError({"consumer_api": "No API with this slug that you can see."})
    service = None
    if consumer_service_name:
        service = consumer_service_save(actor=actor, owner=api.org_unit, name=consumer_service_name)
    return dependency_add(
        actor=actor, api=api, consumer_api=consumer_api, consumer_service=service, note=note
    )


@transaction.atomic
def dependency_remove(*, actor: Actor, dependency: ApiDependency) -> None:
    api = dependency.api
    authorize(actor, Cap.INVENTORY_SUBMIT, api)
    audit.record(
        actor=actor,
        action="api.dependency_remove",
        obj=dependency,
        org_unit=api.org_unit,
        before={"consumer": str(dependency.consumer_api or dependency.consumer_service)},
    )
    dependency.delete()


@transaction.atomic
def consumer_service_save(
    *, actor: Actor, owner: OrgUnit, name: str, contact_email: str = ""
) -> ConsumerService:
    authorize_unit(actor, Cap.INVENTORY_SUBMIT, owner)
    service, created = ConsumerService.objects.get_or_create(
        owner=owner, name=name.strip(), defaults={"contact_email": contact_email}
    )
    if not created and service.contact_email != contact_email and contact_email:
        service.contact_email = contact_email
        service.full_clean()
        service.save(update_fields=["contact_email"])
    elif created:
        service.full_clean()
        audit.record(
            actor=actor,
            action="consumer_service.create",
            obj=service,
            org_unit=owner,
            after={"name": service.name},
        )
    return service
