"""The audit trail: who did what, appended to a hash chain that cannot fork or be edited unnoticed.

Each row stores the previous row's hash and the SHA-256 of its own canonical content. Appends lock
the single ``AuditChainHead`` row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite takes its write lock
at BEGIN IMMEDIATE), so concurrent writers queue instead of forking the chain.
``manage.py verify_audit_chain`` recomputes every hash.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
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


LEGACY_SCHEME = "sha256"
HMAC_PREFIX = "hmac-sha256:"


def _hmac_key() -> bytes:
    key: str = settings.AUDIT_HMAC_KEY
    return key.encode()


def key_id(key: bytes) -> str:
    """A short public name for a key, stored with each event: which key signed it, never the key."""
    return hashlib.sha256(b"portal-audit-key-id:" + key).hexdigest()[:12]


def current_scheme() -> str:
    return HMAC_PREFIX + key_id(_hmac_key())


def event_hash(event: AuditEvent, prev_hash: str) -> str:
    """The event's chained hash under its ``scheme``.

    ``hmac-sha256:<key id>``: an HMAC keyed with ``AUDIT_HMAC_KEY``, which lives outside the
    database, so someone who can write the table still cannot make a row (or re-hash the chain)
    that verifies. ``sha256``: the plain hash of events written before the chain was keyed.
    Raises ``ValueError`` for a scheme or key this installation does not hold.
    """
    payload = _payload(event, prev_hash)
    scheme = event.scheme or LEGACY_SCHEME
    if scheme == LEGACY_SCHEME:
        return hashlib.sha256(_canonical(payload).encode()).hexdigest()
    if not scheme.startswith(HMAC_PREFIX):
        raise ValueError(f"unknown scheme {scheme!r}")
    key = _hmac_key()
    if scheme != HMAC_PREFIX + key_id(key):
        raise ValueError(f"signed with another key ({scheme.removeprefix(HMAC_PREFIX)})")
    payload["scheme"] = scheme
    return hmac.new(key, _canonical(payload).encode(), hashlib.sha256).hexdigest()


def _payload(event: AuditEvent, prev_hash: str) -> dict[str, Any]:
    """Every field of the event but its own hash (and the id, which ordering covers)."""
    return {
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
            scheme=current_scheme(),
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


@dataclass
class ChainReport:
    """What a walk saw, for the operator: how many events under each scheme."""

    schemes: dict[str, int] = field(default_factory=dict)
    last_legacy_id: int = 0

    def describe(self) -> str:
        return ", ".join(f"{n} {scheme}" for scheme, n in self.schemes.items()) or "no events"


def verify_chain(chunk_size: int = 2000, report: ChainReport | None = None) -> Iterator[int | ChainProblem]:
    """Walk the chain oldest first. Yields each verified id, and a ChainProblem at the first break.

    Once a keyed (HMAC) event has been seen, every later one must be keyed too: an unkeyed row after
    it is a forgery by someone without the key (a downgrade), however well its plain hash checks.

    The head is read before the walk: everything up to the head's event is committed by then and
    must match it exactly, while events appended during the walk (this runs beside live writers)
    lie beyond it and only need to link on correctly.
    """
    head = AuditChainHead.objects.filter(pk=1).first()
    head_reached = head is None or (head.last_event_id == 0 and head.count == 0)
    prev_hash = GENESIS_HASH
    count = 0
    keyed = False
    # Kept outside the database (settings): no event after this id may be unkeyed, so a chain
    # rewritten wholesale as plain SHA-256 by someone without the key does not verify.
    legacy_until: int | None = settings.AUDIT_LEGACY_UNTIL
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
        scheme = event.scheme or LEGACY_SCHEME
        if scheme == LEGACY_SCHEME and (keyed or (legacy_until is not None and event.pk > legacy_until)):
            yield ChainProblem(
                event.pk, "unkeyed event where only keyed ones may be (forged without the key)"
            )
            return
        try:
            expected = event_hash(event, prev_hash)
        except ValueError as exc:
            yield ChainProblem(event.pk, f"cannot be checked: {exc}")
            return
        if not hmac.compare_digest(expected, event.hash):
            yield ChainProblem(event.pk, "content does not match its hash (the row was altered or forged)")
            return
        keyed = keyed or scheme != LEGACY_SCHEME
        if report is not None:
            report.schemes[scheme] = report.schemes.get(scheme, 0) + 1
            if scheme == LEGACY_SCHEME:
                report.last_legacy_id = event.pk
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


# --- Anchors: the head, kept outside the database ---------------------------------------------------


def anchor_line() -> str:
    """The chain head as one JSON line ({at, event_id, count, hash}) to keep outside the database."""
    head = AuditChainHead.objects.filter(pk=1).first()
    body = {
        "at": _as_utc_iso(datetime.now(UTC)),
        "event_id": head.last_event_id if head else 0,
        "count": head.count if head else 0,
        "hash": head.last_hash if head else GENESIS_HASH,
    }
    return json.dumps(body, sort_keys=True)


class AnchorError(ValueError):
    pass


def read_anchors(text: str) -> list[dict[str, Any]]:
    """Parse anchor lines; a malformed line is an error naming it (an anchor file must be exact)."""
    anchors = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            anchor = {
                "event_id": int(item["event_id"]),
                "count": int(item["count"]),
                "hash": str(item["hash"]),
            }
        except (ValueError, KeyError, TypeError):
            raise AnchorError(f"line {number} is not an anchor") from None
        anchors.append(anchor)
    return anchors


def check_anchor(anchor: dict[str, Any]) -> str | None:
    """None when the anchored event is still in the chain with the anchored hash and position; else
    what is wrong. Run after ``verify_chain`` found the chain itself intact."""
    if anchor["event_id"] == 0:
        return None
    event = AuditEvent.objects.filter(pk=anchor["event_id"]).first()
    if event is None:
        return f"event #{anchor['event_id']} is gone (the table was truncated or rows removed)"
    if not hmac.compare_digest(event.hash, anchor["hash"]):
        return f"event #{anchor['event_id']} has another hash now (the chain was rewritten)"
    position = AuditEvent.objects.filter(pk__lte=anchor["event_id"]).count()
    if position != anchor["count"]:
        return f"event #{anchor['event_id']} is number {position} in the chain, anchored as {anchor['count']}"
    return None


def export_anchor(line: str) -> None:
    """Append ``line`` to ``AUDIT_ANCHOR_FILE`` and/or send it to ``AUDIT_ANCHOR_SYSLOG``."""
    import logging
    import logging.handlers

    if settings.AUDIT_ANCHOR_FILE:
        path = Path(settings.AUDIT_ANCHOR_FILE)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
    if settings.AUDIT_ANCHOR_SYSLOG:
        target = settings.AUDIT_ANCHOR_SYSLOG
        if ":" in target and not target.startswith("/"):
            host, port = target.rsplit(":", 1)
            address: Any = (host, int(port))
        else:
            address = target
        handler = logging.handlers.SysLogHandler(address=address)
        try:
            handler.emit(
                logging.LogRecord(
                    "portal.audit.anchor", logging.INFO, "", 0, f"audit-anchor {line}", None, None
                )
            )
        finally:
            handler.close()
