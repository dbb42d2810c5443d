"""Import Backstage catalog files: APIs become registrations, Components become consumer links."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404

from inventory.engines import catalog
from inventory.models import Api, ApiStatus
from inventory.services.consumers import consumer_service_save, dependency_add
from inventory.services.registration import api_upsert
from inventory.services.review import API_WORKFLOW, api_transition
from inventory.services.specs import spec_upload
from portal import audit
from portal.access import Cap, authorize_unit, holds_company_wide
from portal.audit import Actor
from portal.models import OrgUnit


@dataclass
class CatalogImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    approved: list[str] = field(default_factory=list)
    links: int = 0
    problems: list[str] = field(default_factory=list)


class CatalogRejected(ValidationError):
    """Problems that stop the whole import (nothing was written)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems)
        self.problems = problems


def catalog_import(
    *,
    actor: Actor,
    data: bytes,
    resolve_text: Callable[[str], bytes | None],
    default_owner: OrgUnit | None = None,
    approve: bool = False,
) -> CatalogImportResult:
    """All or nothing: any entity that cannot be mapped (unknown owner, bad definition) rejects the file.

    ``approve`` is the security team's bulk import of an already-reviewed catalogue: it needs
    ``inventory.review`` and is audited as the operator.
    """
    try:
        parsed = catalog.parse_catalog(
            data, resolve_text=resolve_text, max_bytes=settings.PORTAL_UPLOAD_MAX_BYTES
        )
    except catalog.CatalogError as exc:
        raise ValidationError({"file": str(exc)}) from exc
    owners: Any = OrgUnit.objects.filter(
        slug__in={e.owner for e in parsed.apis + parsed.components if e.owner}
    )
    if actor.user is not None:
        # A unit the importer cannot see is reported exactly like one that does not exist.
        owners = owners.visible_to(actor.user, Cap.INVENTORY_VIEW)
    units = {u.slug: u for u in owners}
    fatal: list[str] = []
    entities: list[catalog.CatalogApi | catalog.CatalogComponent] = [*parsed.apis, *parsed.components]
    for entity in entities:
        if not entity.owner and default_owner is None:
            fatal.append(
                f"document {entity.document_number}: {entity.name} has no owner; pass --owner or set spec.owner."
            )
        elif entity.owner and entity.owner not in units:
            fatal.append(
                f"document {entity.document_number}: owner {entity.owner!r} is not a unit of the org chart that you can see."
            )
    if approve and actor.user is not None and not holds_company_wide(actor.user, Cap.INVENTORY_REVIEW):
        # Bulk approval is for the security team on the root only.
        fatal.append("Approving on import needs the inventory.review capability over the whole company.")
    if fatal:
        raise CatalogRejected(fatal)
    result = CatalogImportResult(problems=list(parsed.problems))
    try:
        with transaction.atomic():
            _apply(
                actor=actor,
                parsed=parsed,
                units=units,
                default_owner=default_owner,
                approve=approve,
                result=result,
            )
    except (PermissionDenied, Http404) as exc:
        raise CatalogRejected(["You may not register APIs for one of the owners in this file."]) from exc
    except ValidationError as exc:
        raise CatalogRejected([f"{m}" for m in exc.messages]) from exc
    return result


def _approve(*, actor: Actor, api: Api, result: CatalogImportResult) -> Api:
    """Submit and approve drafts as the operator, through the workflow table. A draft that lacks
    what submission requires stays a draft; a record waiting for review, or sent back by a reviewer,
    stays as it is: each is reported, not approved."""
    api.refresh_from_db()
    submit = API_WORKFLOW.move("submit")
    if api.status in API_WORKFLOW.move("approve").sources:
        # Waiting for a person's review (submitted, or a material change to an approved record,
        # perhaps made by this very import): the operator's flag does not decide for the reviewers.
        result.problems.append(f"{api.slug}: waiting for review; not approved by the import.")
        return api
    if api.status == ApiStatus.CHANGES_REQUESTED:
        # A reviewer said no: only a person's new review undoes that, not the operator's flag.
        result.problems.append(f"{api.slug}: changes were requested; not approved by the import.")
        return api
    if api.status not in submit.sources:
        return api  # approved already, or deprecated, suspended, retired: nothing to approve
    problems = API_WORKFLOW.blocked(submit, api, actor)
    if problems:
        result.problems.append(f"{api.slug}: not approved. {' '.join(problems)}")
        return api
    api = api_transition(actor=actor, api=api, action="submit")
    api = api_transition(actor=actor, api=api, action="approve", note="Approved on catalog import.")
    result.approved.append(api.slug)
    return api


def _apply(
    *,
    actor: Actor,
    parsed: catalog.CatalogResult,
    units: dict[str, OrgUnit],
    default_owner: OrgUnit | None,
    approve: bool,
    result: CatalogImportResult,
) -> None:
    apis: dict[str, Api] = {}
    for entity in parsed.apis:
        owner = units.get(entity.owner) or default_owner
        authorize_unit(actor, Cap.INVENTORY_SUBMIT, owner)
        try:
            api, created = api_upsert(
                actor=actor,
                org_unit=owner,
                slug=entity.name,
                name=entity.title,
                description=entity.description,
                lifecycle=entity.lifecycle,
            )
        except ValidationError as exc:
            raise ValidationError(
                f"document {entity.document_number} ({entity.name}): {'; '.join(exc.messages)}"
            ) from exc
        (result.created if created else result.updated).append(api.slug)
        if entity.definition is not None:
            try:
                spec_upload(actor=actor, api=api, data=entity.definition, filename=f"{entity.name}.catalog")
            except ValidationError as exc:
                raise ValidationError(
                    f"document {entity.document_number} ({entity.name}) definition: {'; '.join(exc.messages)}"
                ) from exc
        if approve:
            api = _approve(actor=actor, api=api, result=result)
        apis[api.slug] = api
    named = {n for c in parsed.components for n in c.provides + c.consumes}
    # Only APIs the importer can see may be linked (as the form allows); others are "unknown", so the
    # file can neither attach links to another team's API nor probe which slugs exist.
    candidates = Api.objects.filter(slug__in=named)
    if actor.user is not None:
        candidates = candidates.visible_to(actor.user, Cap.INVENTORY_VIEW)
    known = {a.slug: a for a in candidates}
    known.update(apis)
    for component in parsed.components:
        owner = units.get(component.owner) or default_owner
        assert owner is not None  # catalog_import refused the file when an entity has no owner
        missing = [n for n in component.provides + component.consumes if n not in known]
        if missing:
            raise ValidationError(
                f"document {component.document_number} ({component.name}): unknown APIs {', '.join(sorted(missing))}."
            )
        providers = [known[n] for n in component.consumes]
        consumers_as_apis = [known[n] for n in component.provides]
        for provider in providers:
            if consumers_as_apis:
                for consumer in consumers_as_apis:
                    if consumer.pk != provider.pk:
                        dependency_add(
                            actor=actor,
                            api=provider,
                            consumer_api=consumer,
                            note=f"catalog: {component.name}",
                        )
                        result.links += 1
            else:
                service = consumer_service_save(actor=actor, owner=owner, name=component.name)
                dependency_add(actor=actor, api=provider, consumer_service=service, note="catalog")
                result.links += 1
    root = OrgUnit.objects.filter(parent__isnull=True).order_by("id").first()
    audit.record(
        actor=actor,
        action="catalog.import",
        object_type="catalog",
        org_unit=root,
        after={
            "created": result.created,
            "updated": result.updated,
            "approved": result.approved,
            "links": result.links,
        },
    )
