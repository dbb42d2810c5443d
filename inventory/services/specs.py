"""The API's OpenAPI document: validated, versioned, parsed into operations and response codes.

Every verb is one transaction with one audit record and checks access itself (``portal.access.authorize``).
Parsing and validating a big document takes seconds of CPU; it happens before the transaction opens,
so the transaction (and the API row it locks) holds only the writes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from inventory.models import (
    Api,
    Operation,
    ResponseCode,
    Spec,
)
from inventory.services import review
from inventory.services.summary import refresh_summary
from portal import audit
from portal.access import Cap, authorize
from portal.audit import Actor

if TYPE_CHECKING:
    from inventory.engines.openapi import ParsedSpec


@dataclass
class SpecUploadResult:
    spec: Spec
    created: bool


BATCH_SIZE = 500  # rows per INSERT when storing operations and response codes


def spec_upload(*, actor: Actor, api: Api, data: bytes, filename: str = "") -> SpecUploadResult:
    """Validate and store a new version of the API's OpenAPI document; identical content is a no-op."""
    from inventory.engines import openapi

    authorize(actor, Cap.INVENTORY_SUBMIT, api)
    digest = hashlib.sha256(data).hexdigest()
    current = api.specs.filter(is_current=True).only("pk", "number", "sha256", "operation_count").first()
    if current is not None and current.sha256 == digest:  # already stored, so already validated
        return SpecUploadResult(spec=current, created=False)
    try:
        parsed = openapi.parse_spec(data, max_bytes=settings.PORTAL_UPLOAD_MAX_BYTES)
    except openapi.SpecError as exc:
        raise ValidationError({"file": str(exc)}) from exc
    return _store(actor=actor, api=api, data=data, digest=digest, filename=filename, parsed=parsed)


@transaction.atomic
def _store(
    *, actor: Actor, api: Api, data: bytes, digest: str, filename: str, parsed: ParsedSpec
) -> SpecUploadResult:
    api = Api.objects.select_for_update().select_related("org_unit").get(pk=api.pk)
    current = api.specs.filter(is_current=True).first()
    if current is not None and current.sha256 == digest:
        return SpecUploadResult(spec=current, created=False)
    widened = (
        _widening(current, parsed.operations)
        if current is not None
        else f"first OpenAPI document: {len(parsed.operations)} operations"
    )
    number = (api.specs.aggregate(n=Max("number"))["n"] or 0) + 1
    api.specs.filter(is_current=True).update(is_current=False)
    spec = Spec.objects.create(
        api=api,
        number=number,
        sha256=digest,
        format=parsed.format,
        content=data.decode("utf-8-sig"),
        openapi_version=parsed.openapi_version,
        title=parsed.title[:300],
        info_version=parsed.info_version[:100],
        filename=filename[:255],
        operation_count=len(parsed.operations),
        uploaded_by=actor.user,
        is_current=True,
    )
    operations = Operation.objects.bulk_create(
        [
            Operation(
                spec=spec,
                method=op.method,
                path=op.path,
                operation_id=op.operation_id[:200],
                summary=op.summary[:500],
                auth_required=op.auth_required,
                deprecated=op.deprecated,
                parameters=op.parameters,
            )
            for op in parsed.operations
        ],
        batch_size=BATCH_SIZE,
    )
    if not all(o.pk for o in operations):  # backends without RETURNING ids on bulk insert
        operations = list(spec.operations.all())
    by_key = {(o.method, o.path): o for o in operations}
    ResponseCode.objects.bulk_create(
        [
            ResponseCode(operation=by_key[(op.method, op.path)], code=code[:10], description=desc[:500])
            for op in parsed.operations
            for code, desc in op.responses.items()
        ],
        batch_size=BATCH_SIZE,
    )
    refresh_summary(api)
    audit.record(
        actor=actor,
        action="api.spec_upload",
        obj=spec,
        org_unit=api.org_unit,
        after={
            "number": number,
            "sha256": digest,
            "operations": len(parsed.operations),
            "openapi": parsed.openapi_version,
        },
    )
    if widened:
        review.api_send_back(actor=actor, api=api, what=widened)
    return SpecUploadResult(spec=spec, created=True)


def _widening(current: Spec, operations: list[Any]) -> str:
    """What a new spec version opens up against the current one: operations added, or operations
    whose security requirement was dropped. Empty when it only narrows or rewords the API."""
    before = {
        (method, path): auth
        for method, path, auth in current.operations.values_list("method", "path", "auth_required")
    }
    added = [op for op in operations if (op.method, op.path) not in before]
    opened = [op for op in operations if before.get((op.method, op.path)) is True and not op.auth_required]
    parts = []
    if added:
        parts.append(f"{len(added)} operation{'s' if len(added) != 1 else ''} added")
    if opened:
        parts.append(f"authentication dropped from {', '.join(f'{o.method} {o.path}' for o in opened[:5])}")
    return "new spec version: " + "; ".join(parts) if parts else ""
