"""The audit trail: who did what, appended to a hash chain that cannot fork or be edited unnoticed.

Each row stores the previous row's hash and the SHA-256 of its own canonical content. Appends lock
the single ``AuditChainHead`` row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite takes its write lock
at BEGIN IMMEDIATE), so concurrent writers queue instead of forking the chain.
``manage.py verify_audit_chain`` recomputes every hash.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils.ipv6 import clean_ipv6_address

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
            return str(self.user.get_username())
        return "anonymous"


def client_ip(request: Any) -> str | None:
    # REMOTE_ADDR only: behind a proxy, the proxy rewrites it (gunicorn --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR") or None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def _as_utc_iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _canonical_ip(ip: str | None) -> str | None:
    """One spelling per address, whatever the database or Python version prints.

    PostgreSQL's ``inet`` and Python disagree on how to write some IPv6 addresses (``::1.2.3.4``
    versus ``::102:304``; IPv4-mapped ones changed in Python 3.13), so IPv6 is hashed fully
    expanded from its bytes.
    """
    if not ip:
        return None
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if addr.version == 4:
        return str(addr)
    return ":".join(addr.packed[i : i + 2].hex() for i in range(0, 16, 2))


def event_hash(event: AuditEvent, prev_hash: str) -> str:
    """SHA-256 over every field of the event but its own hash (and the id, which ordering covers)."""
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
        "ip": _canonical_ip(event.ip),
        "rid": event.request_id,
    }
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()


def _storable_ip(ip: str | None) -> str | None:
    """The address as the database will return it, or None when it is not an address at all.

    A zone id (``fe80::1%eth0``) is dropped: PostgreSQL's ``inet`` cannot hold one, and failing the
    whole service over it would be worse than losing it.
    """
    if not ip:
        return None
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return None
    return str(addr) if addr.version == 4 else clean_ipv6_address(str(addr))


def _json_numbers(value: Any) -> Any:
    # jsonb keeps numbers as decimals and prints them positionally: -0.0 comes back as 0.0 and
    # 1e+16 as the integer 10000000000000000. Store floats in the form that survives the trip, so
    # the hash computed now matches the row read back later (on SQLite too). NaN and infinities are
    # not JSON at all; keep them readable as strings.
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0:
            return 0.0
        if abs(value) >= 1e16:  # always a whole number this large; repr() would use an exponent
            return int(value)
        return value
    if isinstance(value, dict):
        return {k: _json_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_numbers(v) for v in value]
    return value


def _json_safe(value: Any) -> Any:
    # Round-trip through JSON so the hash is computed over exactly what the database will return.
    return None if value is None else _json_numbers(json.loads(_canonical(value)))


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
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
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
            ip=_storable_ip(actor.ip),
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
    """Walk the chain oldest first. Yields each verified id, and a ChainProblem at the first break.

    The head is read before the walk: everything up to the head's event is committed by then and
    must match it exactly, while events appended during the walk (this runs beside live writers)
    lie beyond it and only need to link on correctly.
    """
    head = AuditChainHead.objects.filter(pk=1).first()
    head_reached = head is None or (head.last_event_id == 0 and head.count == 0)
    prev_hash = GENESIS_HASH
    count = 0
    last_id: int | None = None
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size):
        if head is not None and not head_reached and event.pk > head.last_event_id:
            yield _newest_missing(head, count, last_id)
            return
        if event.prev_hash != prev_hash:
            after = f"event #{last_id}" if last_id is not None else "the start of the chain"
            yield ChainProblem(
                event.pk, f"does not follow {after} (an event between was removed, or rows were reordered)"
            )
            return
        if event_hash(event, prev_hash) != event.hash:
            yield ChainProblem(event.pk, "content does not match its hash (the row was altered)")
            return
        prev_hash = event.hash
        last_id = event.pk
        count += 1
        if head is not None and event.pk == head.last_event_id:
            if event.hash != head.last_hash or count != head.count:
                yield ChainProblem(
                    event.pk,
                    f"the chain head expects {head.count} events ending here, found {count} "
                    "(rows were removed, or the head was rewritten)",
                )
                return
            head_reached = True
        yield event.pk
    if head is None:
        # Appends during the walk may have created the head just now; only a head still missing is wrong.
        if count and not AuditChainHead.objects.filter(pk=1).exists():
            yield ChainProblem(None, "missing while events exist")
    elif not head_reached:
        yield _newest_missing(head, count, last_id)


def _newest_missing(head: AuditChainHead, count: int, last_id: int | None) -> ChainProblem:
    found = f"found {count} ending at #{last_id}" if last_id is not None else "found none"
    return ChainProblem(
        head.last_event_id,
        f"missing: the chain head expects {head.count} events ending here, {found} "
        "(the newest events were removed)",
    )


def snapshot(obj: Model, fields: list[str]) -> dict[str, Any]:
    """A JSON-safe before/after picture of the named fields of ``obj``."""
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(obj, name)
        if isinstance(value, Model):
            value = value.pk
        out[name] = value
    safe: dict[str, Any] = _json_safe(out)
    return safe
