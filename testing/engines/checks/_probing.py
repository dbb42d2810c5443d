"""Small helpers several checks share (pure engine: no Django import; not a check module).

Everything here treats the target's answers as hostile: bounded walks, no recursion on attacker
data beyond a fixed depth, no exception escaping on garbage.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from testing.engines.checks.base import Context, Identity, OperationSpec, Target, example_value, fill_path
from testing.engines.safe_http import ScanError, ScanResponse

RATE_LIMIT_HEADERS = (
    "ratelimit",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit-policy",
)
ID_KEYS = ("id", "uuid", "_id")
LIST_KEYS = ("items", "data", "results", "records", "objects", "content", "entries")
MAX_WALK = 200  # JSON nodes visited when looking for ids
MAX_SCHEMA_DEPTH = 4  # levels of a request schema an example body fills


def success(response: ScanResponse) -> bool:
    return response.ok and response.status is not None and 200 <= response.status < 300


def refused(response: ScanResponse) -> bool:
    return response.ok and response.status in (401, 403)


def json_or_none(response: ScanResponse) -> Any:
    """The body as JSON, or None when there is no body, it is not JSON, or the request failed."""
    if not response.ok or not response.body:
        return None
    try:
        return response.json()
    except ScanError:
        return None


def same_answer(a: ScanResponse, b: ScanResponse) -> bool:
    """Both answered, with the same status and the same body, byte for byte."""
    return a.ok and b.ok and a.status == b.status and a.body == b.body


def is_loopback_host(host: str) -> bool:
    text = host.strip("[]").rstrip(".").lower()
    if text == "localhost" or text.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def two_identities(target: Target) -> tuple[Identity, Identity] | None:
    """Identities named A and B (any case), else the first two; None with fewer than two."""
    named = {i.name.lower(): i for i in target.identities}
    if "a" in named and "b" in named:
        return named["a"], named["b"]
    if len(target.identities) >= 2:
        return target.identities[0], target.identities[1]
    return None


def id_parameter(op: OperationSpec) -> str | None:
    """The path parameter that names the object (the last one), or None without path parameters."""
    params = [str(p.get("name", "")) for p in op.path_parameters() if p.get("name")]
    return params[-1] if params else None


def parent_path(op: OperationSpec) -> str:
    """The collection path above an object path: ``/items/{id}`` → ``/items``."""
    return op.path.rsplit("/", 1)[0] or "/"


def collect_ids(payload: Any, limit: int = 5) -> list[str]:
    """Object ids in a JSON answer: a list of objects, an envelope such as ``{"items": [...]}``, or
    one object. Bounded: at most ``MAX_WALK`` nodes, two levels deep, ``limit`` ids."""
    found: list[str] = []
    visited = 0

    def take(obj: Any) -> None:
        nonlocal visited
        visited += 1
        if not isinstance(obj, Mapping) or len(found) >= limit:
            return
        for key in ID_KEYS:
            value = obj.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and len(str(value)) <= 200:
                text = str(value)
                if text and text not in found:
                    found.append(text)
                return

    candidates: Iterable[Any] = ()
    if isinstance(payload, list):
        candidates = payload
    elif isinstance(payload, Mapping):
        inner = next((payload[k] for k in LIST_KEYS if isinstance(payload.get(k), list)), None)
        candidates = inner if inner is not None else [payload]
    for item in candidates:
        if visited >= MAX_WALK or len(found) >= limit:
            break
        take(item)
    return found


def example_body(schema: Mapping[str, Any] | None, *, depth: int = 0) -> Any:
    """A plausible JSON value for a request schema: writable properties (not ``readOnly``) with
    their example, enum or type; nested objects and combinators down to ``MAX_SCHEMA_DEPTH``
    levels (a cyclic schema ends there); arrays of one item."""
    schema = schema if isinstance(schema, Mapping) else {}
    if depth > MAX_SCHEMA_DEPTH:  # resolved $refs may nest deeply, or even loop
        return None
    if "example" in schema and not isinstance(schema["example"], Mapping | list):
        return schema["example"]
    for combinator in ("allOf", "oneOf", "anyOf"):
        parts = schema.get(combinator)
        if isinstance(parts, list) and parts and isinstance(parts[0], Mapping):
            if combinator == "allOf":
                merged: dict[str, Any] = {}
                for part in parts[:5]:
                    value = example_body(part, depth=depth + 1)
                    if isinstance(value, dict):
                        merged.update(value)
                return merged
            return example_body(parts[0], depth=depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    properties = schema.get("properties")
    if kind == "object" or isinstance(properties, Mapping):
        body: dict[str, Any] = {}
        if depth >= MAX_SCHEMA_DEPTH or not isinstance(properties, Mapping):
            return body
        for name, prop in list(properties.items())[:30]:
            if isinstance(prop, Mapping) and prop.get("readOnly"):
                continue
            body[str(name)] = example_body(prop, depth=depth + 1)
        return body
    if kind == "array":
        return [] if depth >= MAX_SCHEMA_DEPTH else [example_body(schema.get("items"), depth=depth + 1)]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    if kind == "integer":
        return int(schema.get("minimum", 1)) if isinstance(schema.get("minimum"), int | float) else 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return False
    text = example_value(schema)
    if schema.get("format") == "email":
        return "scanner@example.com"
    if schema.get("format") == "date-time":
        return "2024-01-01T00:00:00Z"
    min_length = schema.get("minLength")
    if isinstance(min_length, int) and len(text) < min_length <= 100:
        text = text + "x" * (min_length - len(text))
    return text


def spend(ctx: Context, host: str, port: int) -> None:
    """Count a probe that is not an HTTP request (a TLS handshake) against the check's budget and
    the per-host rate, as ``ctx.send`` does for requests. Raises ``BudgetExceeded``."""
    ctx.client.budget.take()
    ctx.requests_sent += 1
    ctx.client.rate.wait(f"{host}:{port}")


def skipped_subtest(ctx: Context, name: str, reason: str) -> None:
    """Record a sub-test that could not run, in the metrics shown with the result (never a pass)."""
    ctx.metrics.setdefault("skipped_subtests", {})[name] = reason[:300]


def filled_path(op: OperationSpec, identity: Identity | None) -> str:
    """The operation's path, its object parameter filled with one of the identity's own objects
    when it has some (so the answer is about a real object), the rest from examples."""
    name = id_parameter(op)
    if name and identity is not None and identity.object_ids:
        return fill_path(op, {name: identity.object_ids[0]})
    return fill_path(op)
