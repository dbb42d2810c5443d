"""Small helpers shared by the checks (pure engine: no Django import; not a check module).

The leading underscore keeps ``all_checks()`` from importing it as one. Everything here treats the
target's answers as hostile: bounded walks, no recursion on attacker data beyond a fixed depth, no
exception escaping on garbage.

* ``safe_operations``: the documented GET operations, sorted and capped, so repeated runs probe the
  same things;
* ``identity_for`` / ``call``: send an operation's request with the first identity that has
  credentials when the operation needs them, the path template filled from examples (or, for an
  id-like parameter without one, the identity's own first object id);
* ``json_body`` / ``excerpt``: read a hostile response without trusting it;
* ``percentile``: nearest-rank percentile for latency samples;
* ``looks_alike``: whether two answers are the same catch-all page (an SPA index served for every path);
* ``two_identities`` / ``collect_ids`` / ``example_body``: what the authorization checks need;
* ``spend``: count a non-HTTP probe (a TLS handshake) against the check's budget and rate.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from testing.engines.checks.base import Context, Identity, OperationSpec, Target, example_value, fill_path
from testing.engines.safe_http import ScanError, ScanResponse

EXCERPT_CHARS = 64 * 1024  # how much of a body the text detectors look at
MAX_JSON_BYTES = 1024 * 1024  # bodies larger than this are not parsed


def safe_operations(target: Target, limit: int, *, methods: Sequence[str] = ("GET",)) -> list[OperationSpec]:
    """Documented operations with a safe method, sorted by (path, method), at most ``limit``."""
    ops = [op for op in target.operations if op.method in methods]
    return sorted(ops, key=lambda op: (op.path, op.method))[:limit]


def identity_for(target: Target, op: OperationSpec | None = None) -> Identity | None:
    """The identity to call ``op`` with: the first with credentials, when the operation needs them."""
    if op is not None and not op.auth_required:
        return None
    return next((i for i in target.identities if i.headers), None)


def query_values(op: OperationSpec, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Required query parameters filled from their examples (``overrides`` win, and may add names)."""
    values: dict[str, str] = {}
    for param in op.parameters:
        if param.get("in") == "query" and param.get("required"):
            name = str(param.get("name", ""))
            if name:
                values[name] = example_value(param.get("schema") or param, name)
    values.update(overrides or {})
    return values


def owned_path_values(op: OperationSpec, who: Identity | None) -> dict[str, str]:
    """The identity's first own object id for the operation's last id-like path parameter that has
    no example, so the request reaches an object the caller may see (a 404/403 validates nothing)."""
    if who is None or not who.object_ids:
        return {}
    for param in reversed(op.path_parameters()):
        name = str(param.get("name", ""))
        schema = param.get("schema") or {}
        has_example = "example" in param or (isinstance(schema, Mapping) and "example" in schema)
        if name.lower().endswith("id") and not has_example:
            return {name: str(who.object_ids[0])}
    return {}


def call(
    ctx: Context,
    op: OperationSpec,
    *,
    path_values: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    method: str | None = None,
    identity: Identity | None | bool = True,
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> ScanResponse:
    """Send ``op``'s request: path filled, required query parameters from examples, and (unless
    ``identity`` is False or an explicit one) the operation's identity."""
    who = identity_for(ctx.target, op) if identity is True else (identity or None)
    params = query_values(op, query)
    return ctx.send(
        method or op.method,
        fill_path(op, {**owned_path_values(op, who), **(path_values or {})}),
        identity=who,
        headers=headers,
        operation=op,
        params=params or None,
        **kwargs,
    )


def excerpt(response: ScanResponse, limit: int = EXCERPT_CHARS) -> str:
    """The first ``limit`` characters of the body as text (bounded work for the text detectors)."""
    return response.body[: limit * 4].decode("utf-8", errors="replace")[:limit]


def json_body(response: ScanResponse) -> Any:
    """The parsed body, or None when it is missing, too large or not JSON."""
    if not response.ok or not response.body or len(response.body) > MAX_JSON_BYTES:
        return None
    try:
        return response.json()
    except ScanError:
        return None


def is_json(response: ScanResponse) -> bool:
    media = response.content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def is_html(response: ScanResponse) -> bool:
    media = response.content_type.split(";", 1)[0].strip().lower()
    return media in ("text/html", "application/xhtml+xml")


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in (0, 1]); samples must not be empty."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def fingerprint(response: ScanResponse) -> tuple[int | None, str, str]:
    """Status, media type and body digest: what makes two answers the same page."""
    media = response.content_type.split(";", 1)[0].strip().lower()
    return response.status, media, hashlib.sha256(response.body).hexdigest()


def looks_alike(response: ScanResponse, baseline: ScanResponse | None) -> bool:
    """Whether ``response`` is the page the server gives for a path it does not have: the same
    status and media type, and the same body (or, for HTML, a body within 5 % of its length, since
    catch-all pages often embed a nonce or a request id)."""
    if baseline is None or baseline.status is None or response.status != baseline.status:
        return False
    if fingerprint(response) == fingerprint(baseline):
        return True
    if is_html(response) and is_html(baseline) and baseline.body:
        return abs(len(response.body) - len(baseline.body)) <= 0.05 * len(baseline.body)
    return False


def walk_keys(value: Any, *, max_nodes: int = 5000, max_depth: int = 20) -> list[tuple[str, Any]]:
    """(dotted key path, value) for every object member in a parsed JSON value, bounded in nodes and
    depth (a hostile body cannot make this slow); list items appear as ``[]``."""
    found: list[tuple[str, Any]] = []
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    seen = 0
    while stack and seen < max_nodes:
        prefix, node, depth = stack.pop()
        seen += 1
        if depth > max_depth:
            continue
        if isinstance(node, dict):
            for key, child in itertools.islice(node.items(), max_nodes):
                path = f"{prefix}.{key}" if prefix else str(key)
                found.append((path[:200], child))
                stack.append((path[:200], child, depth + 1))
        elif isinstance(node, list):
            for child in itertools.islice(node, max_nodes):
                stack.append((f"{prefix}[]", child, depth + 1))
    return found


def normalized_name(name: str) -> str:
    """A field name lower-cased with everything but letters and digits dropped (api_key == apiKey)."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def timed_samples(
    ctx: Context, ops: Sequence[OperationSpec], count: int
) -> tuple[list[float], list[ScanResponse]]:
    """Send ``count`` requests round-robin over ``ops`` and return the latencies (ms) of the answers
    below 500, and every response. Requests are paced to the client's per-host rate by the caller's
    own clock, because the client's ``elapsed`` includes any wait for the rate limiter and would
    otherwise measure our pacing, not the API."""
    interval = getattr(getattr(ctx.client, "rate", None), "interval", 0.0) or 0.0
    samples: list[float] = []
    responses: list[ScanResponse] = []
    last = None
    for index in range(count):
        if last is not None and interval:
            wait = last + interval * 1.05 - ctx.clock()
            if wait > 0:
                time.sleep(min(wait, 1.0))
        last = ctx.clock()
        response = call(ctx, ops[index % len(ops)])
        responses.append(response)
        if response.status is not None and response.status < 500 and response.ok:
            samples.append(response.elapsed * 1000)
    return samples, responses


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
