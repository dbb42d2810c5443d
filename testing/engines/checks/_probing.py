"""Small helpers shared by the behaviour checks (pure engine: no Django import).

Not a check module (the leading underscore keeps ``all_checks()`` from importing it as one). What
lives here is what several checks need to choose and call operations the same way every run:

* ``safe_operations``: the documented GET operations, sorted and capped, so repeated runs probe the
  same things;
* ``identity_for`` / ``call``: send an operation's request with the first identity that has
  credentials when the operation needs them, the path template filled from examples (or, for an
  id-like parameter without one, the identity's own first object id);
* ``status_of`` / ``json_body`` / ``excerpt``: read a hostile response without trusting it;
* ``percentile``: nearest-rank percentile for latency samples;
* ``looks_alike``: whether two answers are the same catch-all page (an SPA index served for every path).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from collections.abc import Mapping, Sequence
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


def status_of(response: ScanResponse) -> int | None:
    """The HTTP status when the server answered with one (even if the body then failed)."""
    return response.status


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
