"""What an API is built with: SBOM and lockfile uploads, and declared runtimes and frameworks.

Every verb is one transaction with one audit record and checks access itself (``portal.access.authorize``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from inventory.models import (
    Api,
    Component,
    Limits,
    SbomImport,
)
from inventory.services.summary import refresh_summary
from portal import audit
from portal.access import Cap, authorize
from portal.audit import Actor


@dataclass
class ComponentReplaceResult:
    sbom_import: SbomImport
    warnings: list[str] = field(default_factory=list)


@transaction.atomic
def components_replace(
    *, actor: Actor, api: Api, data: bytes, filename: str = "", format: str | None = None
) -> ComponentReplaceResult:
    """Replace the API's uploaded component set with the file's, all or nothing, recording the changes."""
    from inventory.engines import sbom

    authorize(actor, Cap.INVENTORY_SUBMIT, api)
    try:
        parsed = sbom.parse_sbom(
            data, filename=filename, format=format, max_bytes=settings.PORTAL_UPLOAD_MAX_BYTES
        )
    except sbom.SbomError as exc:
        raise ValidationError({"file": str(exc)}) from exc
    api = Api.objects.select_for_update().select_related("org_unit").get(pk=api.pk)
    current = Component.objects.filter(api=api, source=Component.Source.SBOM)
    changes = sbom.diff_components([(c.ecosystem, c.name, c.version) for c in current], parsed.components)
    current.delete()
    Component.objects.bulk_create(
        [
            Component(
                api=api,
                ecosystem=c.ecosystem,
                name=c.name[:300],
                version=c.version[:100],
                purl=c.purl[:600],
                kind=c.kind,
                direct=c.direct,
                source=Component.Source.SBOM,
            )
            for c in parsed.components
        ],
        ignore_conflicts=True,  # a declared component with the same purl stays as declared
    )
    record = SbomImport.objects.create(
        api=api,
        format=parsed.format,
        filename=filename[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        component_count=len(parsed.components),
        added=changes.added,
        removed=changes.removed,
        upgraded=changes.upgraded,
        uploaded_by=actor.user,
    )
    refresh_summary(api)
    audit.record(
        actor=actor,
        action="api.components_replace",
        obj=api,
        org_unit=api.org_unit,
        after={
            "format": parsed.format,
            "sha256": record.sha256,
            "count": len(parsed.components),
            "added": len(changes.added),
            "removed": len(changes.removed),
            "upgraded": len(changes.upgraded),
        },
    )
    return ComponentReplaceResult(sbom_import=record, warnings=parsed.warnings)


@transaction.atomic
def component_declare(
    *, actor: Actor, api: Api, ecosystem: str, name: str, version: str, kind: str
) -> Component:
    """A framework or runtime declared in the form (kept across SBOM uploads)."""
    from packageurl import PackageURL

    authorize(actor, Cap.INVENTORY_SUBMIT, api)
    if kind not in Component.Kind.values:
        raise ValidationError({"kind": "Unknown kind."})
    ecosystem = ecosystem.strip().lower() or "generic"
    try:
        purl = PackageURL(type=ecosystem, name=name.strip(), version=version.strip() or None).to_string()
    except ValueError as exc:
        raise ValidationError({"name": f"Not a valid package: {exc}"}) from exc
    max_purl = Component._meta.get_field("purl").max_length or 0
    if len(purl) > max_purl:  # escaping can triple a 300-character name
        raise ValidationError({"name": f"The package URL would be longer than {max_purl} characters."})
    declared = Component.objects.filter(api=api, source=Component.Source.DECLARED)
    if not declared.filter(purl=purl).exists() and declared.count() >= Limits.DECLARED_COMPONENTS:
        raise ValidationError({"name": f"At most {Limits.DECLARED_COMPONENTS} declared components."})
    component, _ = Component.objects.update_or_create(
        api=api,
        purl=purl,
        defaults={
            "ecosystem": ecosystem,
            "name": name.strip(),
            "version": version.strip(),
            "kind": kind,
            "direct": True,
            "source": Component.Source.DECLARED,
        },
    )
    refresh_summary(api)
    audit.record(
        actor=actor,
        action="api.component_declare",
        obj=component,
        org_unit=api.org_unit,
        after={"purl": purl, "kind": kind},
    )
    return component
