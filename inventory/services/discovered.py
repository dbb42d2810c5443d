"""Shadow, undocumented and zombie APIs found in gateway/access logs.

The file is streamed line by line: memory grows with the number of distinct endpoints, never with
the number of lines. Matching uses one snapshot of the registry (two queries), and results are
written in bulk.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from inventory.engines import discovery
from inventory.models import Api, ApiStatus, DiscoveredEndpoint, LogIngest, Operation
from inventory.services.environments import environment_save
from inventory.services.registration import api_create
from portal import audit
from portal.access import Cap, authorize, authorize_unit, require_company_wide
from portal.audit import Actor
from portal.field_limits import max_length_of
from portal.models import OrgUnit
from portal.validators import check_fields
from portal.workflow import StateConflict

# A host name as DNS allows it: as DiscoveredEndpoint.host stores it, so the column holds the rule.
DEFAULT_HOST_MAX_LENGTH = max_length_of(DiscoveredEndpoint, "host")

_FINDING_FOR = {
    "shadow_api": DiscoveredEndpoint.Finding.SHADOW_API,
    "undocumented": DiscoveredEndpoint.Finding.UNDOCUMENTED,
    "zombie": DiscoveredEndpoint.Finding.ZOMBIE,
}


class _HashingLines:
    """Decode a byte stream into lines while hashing it and enforcing the size limit."""

    def __init__(self, chunks: Iterable[bytes], max_bytes: int) -> None:
        self._chunks = chunks
        self._max = max_bytes
        self.sha256 = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[str]:
        # A line longer than the engine accepts is cut here: enough of it is kept for the engine to
        # see that it is too long (and show an excerpt), the rest is dropped unread. Without the cut,
        # a file with no newline made ``pending`` grow with each chunk and re-split it every time.
        keep = 4 * (discovery.MAX_LINE_LENGTH + 1)  # a UTF-8 character is at most 4 bytes
        pending = b""
        cut = False  # the current line already passed ``keep``
        for chunk in self._chunks:
            self.size += len(chunk)
            if self.size > self._max:
                raise ValidationError({"file": f"Log file too large (limit {self._max:,} bytes)."})
            self.sha256.update(chunk)
            *ends, tail = chunk.split(b"\n")
            for piece in ends:
                line = pending if cut else pending + piece
                yield line[:keep].decode("utf-8", errors="replace")
                pending, cut = b"", False
            if not cut:
                pending += tail
                if len(pending) > keep:
                    pending, cut = pending[:keep], True
        if pending:
            yield pending.decode("utf-8", errors="replace")


def _registry_snapshot() -> list[discovery.KnownApi]:
    envs: dict[int, list[str]] = {}
    for api_id, urls in Api.objects.filter(environments__isnull=False).values_list(
        "id", "environments__base_urls"
    ):
        envs.setdefault(api_id, []).extend(urls or [])
    ops: dict[int, list[discovery.KnownOperation]] = {}
    rows = Operation.objects.filter(spec__is_current=True).values_list(
        "spec__api_id", "method", "path", "deprecated", "id"
    )
    for api_id, method, path, deprecated, op_id in rows.iterator(chunk_size=5000):
        ops.setdefault(api_id, []).append(discovery.KnownOperation(method, path, deprecated, op_id))
    retired = set(Api.objects.filter(status=ApiStatus.RETIRED).values_list("id", flat=True))
    return [
        discovery.KnownApi(api_id, urls, api_id in retired, ops.get(api_id, []))
        for api_id, urls in envs.items()
    ]


@dataclass
class IngestResult:
    ingest: LogIngest
    findings: dict[str, int]


def discovery_ingest(
    *,
    actor: Actor,
    chunks: Iterable[bytes],
    filename: str = "",
    fmt: str | None = None,
    default_host: str = "",
    max_bytes: int = settings.PORTAL_UPLOAD_MAX_BYTES,
) -> IngestResult:
    """Stream a log, aggregate its endpoints, classify them against the registry and record the result.

    A log touches every team's APIs (findings, last-seen times), so it takes review rights over the
    whole company, not over one subtree. At most ``max_bytes`` are read: the upload limit unless
    the caller streams a file from disk (``discover_from_logs``: ``PORTAL_DISCOVERY_LOG_MAX_BYTES``).
    """
    if len(default_host) > DEFAULT_HOST_MAX_LENGTH:
        raise ValidationError({"host": f"A host name has at most {DEFAULT_HOST_MAX_LENGTH} characters."})
    if actor.user is not None:
        require_company_wide(actor.user, Cap.INVENTORY_REVIEW)
    lines = _HashingLines(chunks, max_bytes)
    line_iter = iter(lines)
    head = list(itertools.islice(line_iter, 20))
    if not any(line.strip() for line in head):
        raise ValidationError({"file": "The log file is empty."})
    if fmt is None:
        try:
            fmt = discovery.detect_log_format([line for line in head if line.strip()])
        except discovery.LogFormatError as exc:
            raise ValidationError({"file": str(exc)}) from exc
    records = discovery.iter_records(itertools.chain(head, line_iter), fmt=fmt, default_host=default_host)
    try:
        agg = discovery.aggregate(records, max_unreadable=discovery.MAX_UNREADABLE_LINES)
    except discovery.TooManyUnreadableLines as exc:
        raise ValidationError({"file": f"{exc} Nothing was recorded."}) from exc
    if agg.parsed == 0:
        examples = "; ".join(f"line {s.line_number}: {s.reason}" for s in agg.skipped_examples[:3])
        raise ValidationError({"file": f"No line of the log could be read as {fmt}. {examples}"})
    return _record_ingest(actor=actor, agg=agg, fmt=fmt, filename=filename, sha256=lines.sha256.hexdigest())


@transaction.atomic
def _record_ingest(
    *, actor: Actor, agg: discovery.Aggregate, fmt: str, filename: str, sha256: str
) -> IngestResult:
    matcher = discovery.Matcher(_registry_snapshot())
    api_units = dict(Api.objects.values_list("id", "org_unit_id"))
    root = OrgUnit.objects.filter(parent__isnull=True).order_by("id").first()
    if root is None:
        raise ValidationError(
            "Create the org chart before ingesting logs: shadow APIs need an owner to review them."
        )
    now = timezone.now()
    op_last_seen: dict[int, datetime] = {}
    found: dict[tuple[str, str, str], tuple[discovery.Match, discovery.EndpointStats]] = {}
    counts = {"documented": 0, "shadow_api": 0, "undocumented": 0, "zombie": 0}
    for key, stats in agg.endpoints.items():
        match = matcher.match(stats.host, stats.method, stats.path_template)
        counts[match.kind] += 1
        # The matcher hands back the keys it was given: our Operation and Api ids.
        op_id = match.operation_key
        if isinstance(op_id, int) and match.kind in ("documented", "zombie"):
            seen = stats.last_seen or now
            previous = op_last_seen.get(op_id)
            op_last_seen[op_id] = max(previous, seen) if previous else seen
        if match.kind != "documented":
            found[key] = (match, stats)

    # Last seen per documented operation, in bulk.
    ops = list(Operation.objects.filter(id__in=list(op_last_seen)))
    for op in ops:
        seen = op_last_seen[op.pk]
        op.last_seen_at = max(op.last_seen_at, seen) if op.last_seen_at else seen
    Operation.objects.bulk_update(ops, ["last_seen_at"], batch_size=1000)

    # Findings: update the ones we know, create the rest.
    keys = list(found)
    existing: dict[tuple[str, str, str], DiscoveredEndpoint] = {}
    for batch_start in range(0, len(keys), 500):
        batch = keys[batch_start : batch_start + 500]
        hosts = {k[0] for k in batch}
        for item in DiscoveredEndpoint.objects.filter(
            host__in=hosts, path_template__in={k[2] for k in batch}
        ):
            existing[(item.host, item.method, item.path_template)] = item
    to_update, to_create = [], []
    for key, (match, stats) in found.items():
        first, last = stats.first_seen or now, stats.last_seen or now
        item = existing.get(key)
        if item is not None:
            item.hits += stats.hits
            item.last_seen = max(item.last_seen, last)
            item.first_seen = min(item.first_seen, first)
            codes = dict(item.status_codes)
            for code, n in stats.status_codes.items():
                codes[code] = codes.get(code, 0) + n
            item.status_codes = codes
            item.finding = _FINDING_FOR[match.kind]
            to_update.append(item)
        else:
            api_id = match.api_key if isinstance(match.api_key, int) else None
            unit_id = api_units.get(api_id, root.pk) if api_id is not None else root.pk
            to_create.append(
                DiscoveredEndpoint(
                    finding=_FINDING_FOR[match.kind],
                    host=stats.host[:253],
                    method=stats.method[:10],
                    path_template=stats.path_template[:500],
                    api_id=api_id,
                    org_unit_id=unit_id,
                    hits=stats.hits,
                    status_codes=dict(stats.status_codes),
                    first_seen=first,
                    last_seen=last,
                )
            )
    DiscoveredEndpoint.objects.bulk_update(
        to_update, ["hits", "last_seen", "first_seen", "status_codes", "finding"], batch_size=1000
    )
    DiscoveredEndpoint.objects.bulk_create(to_create, batch_size=1000)
    ingest = LogIngest.objects.create(
        filename=filename[:255],
        sha256=sha256,
        format=fmt,
        lines=agg.lines,
        parsed=agg.parsed,
        skipped=agg.skipped,
        endpoints=len(agg.endpoints),
        uploaded_by=actor.user,
        skipped_examples=[
            {"line": s.line_number, "reason": s.reason, "excerpt": s.excerpt} for s in agg.skipped_examples
        ],
    )
    audit.record(
        actor=actor,
        action="discovery.ingest",
        obj=ingest,
        org_unit=root,
        after={"sha256": sha256, "lines": agg.lines, "parsed": agg.parsed, "skipped": agg.skipped, **counts},
    )
    return IngestResult(ingest=ingest, findings=counts)


@transaction.atomic
def discovered_dismiss(*, actor: Actor, item: DiscoveredEndpoint, reason: str) -> DiscoveredEndpoint:
    authorize(actor, Cap.INVENTORY_REVIEW, item)
    if not reason.strip():
        raise ValidationError({"reason": "Say why this is dismissed."})
    if item.state != DiscoveredEndpoint.State.NEW:
        raise StateConflict(f"Already {item.get_state_display().lower()}.")
    try:
        check_fields(DiscoveredEndpoint, dismissed_reason=reason.strip())
    except ValidationError as exc:
        raise ValidationError({"reason": exc.messages}) from exc
    item.state, item.dismissed_reason = DiscoveredEndpoint.State.DISMISSED, reason.strip()
    item.save(update_fields=["state", "dismissed_reason"])
    audit.record(
        actor=actor,
        action="discovery.dismiss",
        obj=item,
        org_unit=item.org_unit,
        after={"reason": item.dismissed_reason},
    )
    return item


@transaction.atomic
def discovered_register(
    *, actor: Actor, item: DiscoveredEndpoint, org_unit: OrgUnit, slug: str, name: str
) -> Api:
    """Turn a shadow API into a registration draft for the team that owns it."""
    authorize(actor, Cap.INVENTORY_VIEW, item)
    authorize_unit(actor, Cap.INVENTORY_SUBMIT, org_unit)
    if item.finding != DiscoveredEndpoint.Finding.SHADOW_API:
        raise ValidationError(
            "Only a shadow API (unknown host) becomes a new registration; document the endpoint in its API's spec instead."
        )
    if item.state != DiscoveredEndpoint.State.NEW:
        raise ValidationError(f"Already {item.get_state_display().lower()}.")
    api = api_create(
        actor=actor,
        org_unit=org_unit,
        slug=slug,
        name=name,
        description=f"Registered from discovery: {item.method} {item.host}{item.path_template} seen {item.hits} times.",
    )
    environment_save(
        actor=actor, api=api, name="production", base_urls=[f"https://{item.host}"], is_production=True
    )
    # Every endpoint of the same host was part of the same unknown API.
    DiscoveredEndpoint.objects.filter(
        host=item.host,
        state=DiscoveredEndpoint.State.NEW,
        finding=DiscoveredEndpoint.Finding.SHADOW_API,
        org_unit=item.org_unit,
    ).update(state=DiscoveredEndpoint.State.REGISTERED, registered_api=api, org_unit=org_unit)
    audit.record(
        actor=actor, action="discovery.register", obj=item, org_unit=org_unit, after={"api": api.slug}
    )
    return api
