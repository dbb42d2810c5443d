"""The audit trail: who did what, appended to a hash chain that cannot fork or be edited unnoticed.

Each row stores the previous row's hash and the SHA-256 of its own canonical content. Appends lock
the single ``AuditChainHead`` row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite takes its write lock
at BEGIN IMMEDIATE), so concurrent writers queue instead of forking the chain.
``manage.py verify_audit_chain`` recomputes every hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Model

from portal.models import AuditChainHead, AuditEvent, OrgUnit

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who is acting, passed explicitly into every service (never smuggled through thread-locals)."""

    user: Any = None
    ip: str | None = None
    request_id: str = ""
    label_override: str = ""

    @classmethod
    def from_request(cls, request: Any) -> Actor:
        return cls(
            user=request.user if request.user.is_authenticated else None,
            ip=client_ip(request),
            request_id=getattr(request, "request_id", ""),
        )

    @classmethod
    def system(cls, label: str) -> Actor:
        return cls(label_override=f"system:{label}")

    @property
    def user_id(self) -> int | None:
        return getattr(self.user, "pk", None)

    @property
    def label(self) -> str:
        if self.label_override:
            return self.label_override
        if self.user is not None:
            return self.user.get_username()
        return "anonymous"


def client_ip(request: Any) -> str | None:
    # REMOTE_ADDR only: behind a proxy, the proxy rewrites it (gunicorn --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR") or None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def _as_utc_iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(event: AuditEvent, prev_hash: str) -> str:
    payload = {
        "prev": prev_hash,
        "at": _as_utc_iso(event.at),
        "actor_id": event.actor_id,
        "actor": event.actor_label,
        "action": event.action,
        "type": event.object_type,
        "id": event.object_id,
        "label": event.object_label,
        "unit": event.org_unit_id,
        "path": event.org_path,
        "before": event.before,
        "after": event.after,
        "ip": event.ip,
        "rid": event.request_id,
    }
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()


def _json_safe(value: Any) -> Any:
    # Round-trip through JSON so the hash is computed over exactly what the database will return.
    return None if value is None else json.loads(_canonical(value))


def _head_for_update() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        AuditChainHead.objects.get_or_create(pk=1, defaults={"last_hash": GENESIS_HASH})
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    return head


def record(
    *,
    actor: Actor,
    action: str,
    obj: Model | None = None,
    object_type: str = "",
    object_id: str = "",
    org_unit: OrgUnit | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Append one event. Call inside the service's transaction so the change and its record commit together."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    with transaction.atomic():
        head = _head_for_update()
        event = AuditEvent(
            actor_id=actor.user_id,
            actor_label=actor.label[:200],
            action=action,
            object_type=object_type,
            object_id=object_id,
            object_label=str(obj)[:300] if obj is not None else "",
            org_unit_id=org_unit.pk if org_unit is not None else None,
            org_path=org_unit.path if org_unit is not None else "",
            before=_json_safe(before),
            after=_json_safe(after),
            ip=actor.ip,
            request_id=actor.request_id[:64],
            prev_hash=head.last_hash,
        )
        event.hash = event_hash(event, head.last_hash)
        event.save(force_insert=True)
        AuditChainHead.objects.filter(pk=1).update(
            last_event_id=event.pk, last_hash=event.hash, count=head.count + 1
        )
    return event


@dataclass(frozen=True)
class ChainProblem:
    event_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"event #{self.event_id}" if self.event_id is not None else "chain head"
        return f"{where}: {self.reason}"


def verify_chain(chunk_size: int = 2000) -> Iterator[int | ChainProblem]:
    """Walk the chain oldest first. Yields each verified id, and a ChainProblem at the first break."""
    prev_hash = GENESIS_HASH
    count = 0
    last_id = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size):
        if event.prev_hash != prev_hash:
            yield ChainProblem(
                event.pk, "does not follow the previous event (a row was removed or reordered)"
            )
            return
        if event_hash(event, prev_hash) != event.hash:
            yield ChainProblem(event.pk, "content does not match its hash (the row was altered)")
            return
        prev_hash = event.hash
        last_id = event.pk
        count += 1
        yield event.pk
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is None:
        if count:
            yield ChainProblem(None, "missing while events exist")
        return
    if head.last_hash != prev_hash or head.last_event_id != last_id or head.count != count:
        yield ChainProblem(
            None,
            f"expects {head.count} events ending at #{head.last_event_id}, found {count} ending at #{last_id} "
            "(the newest rows were removed)",
        )


def snapshot(obj: Model, fields: list[str]) -> dict[str, Any]:
    """A JSON-safe before/after picture of the named fields of ``obj``."""
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(obj, name)
        if isinstance(value, Model):
            value = value.pk
        out[name] = value
    return _json_safe(out)
