"""``input_sanitation``: injection payloads in parameters never break the API or come back live.

Injection points are the documented path and query parameters of documented GET operations, sorted
by (path, location, name), at most 5. Each point first gets its example value (the baseline: a point
that already fails with it is left alone), then the 12 ``PAYLOADS`` below, one at a time, the other
parameters keeping their examples. Findings, once per point and kind:

* ``server_error:<param>``: a 5xx (the payload reached code that chokes on it: an interpreter, a
  query builder, a shell);
* ``reflected_unescaped:<param>``: a payload containing ``<`` comes back raw in an HTML or script
  answer, or one without a Content-Type that starts like HTML (a browser sniffs it); reflected in
  JSON as data it is harmless, and not reported;
* ``template_evaluated:<param>``: ``asp{{7*191}}z`` and friends come back as ``asp1337z``;
* ``command_output:<param>``: ``id``'s output (``uid=`` and ``gid=``) appears, not in the baseline;
* ``path_traversal:<param>``: ``/etc/passwd`` or ``win.ini`` content appears, not in the baseline.

Not intrusive, and why: it only sends GET requests to operations documented as GET, the payloads read
and print (``id``, arithmetic, a quote) and never write, delete, sleep or loop, and the count is
fixed (at most 65 requests). A vulnerable API answers differently; it does not change state. A 429
stops the check (the API asked us to slow down; the rest of the points wait for the next run).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from testing.engines.checks._probing import call, excerpt, is_html, safe_operations
from testing.engines.checks.base import (
    Check,
    Context,
    OperationSpec,
    Owasp,
    Problem,
    Severity,
    Skip,
    example_value,
    register,
)
from testing.engines.safe_http import ScanResponse

MAX_POINTS = 5
MAX_5XX_PER_POINT = 3


@dataclass(frozen=True)
class Payload:
    kind: str
    value: str


PAYLOADS = (
    Payload("sql", "' OR '1'='1"),
    Payload("sql", "1 UNION SELECT NULL--"),
    Payload("nosql", '{"$ne": null}'),
    Payload("nosql", "'; return true; var x='"),
    Payload("path traversal", "../../../../../../etc/passwd"),
    Payload("path traversal", "..\\..\\..\\..\\..\\windows\\win.ini"),
    Payload("template", "asp{{7*191}}z"),
    Payload("template", "asp${7*191}z"),
    Payload("template", "asp<%= 7*191 %>z"),
    Payload("command", ";id"),
    Payload("command", "$(id)"),
    Payload("markup", "<asp-probe x='1'>\"</asp-probe>"),
)
TEMPLATE_RESULT = "asp1337z"
TRAVERSAL_MARKERS = ("root:x:0:0", "root:*:0:0", "; for 16-bit app support", "[mci extensions]")


@dataclass(frozen=True)
class Point:
    op: OperationSpec
    where: str  # "path" | "query"
    name: str
    example: str


def injection_points(ops: list[OperationSpec], limit: int = MAX_POINTS) -> list[Point]:
    points = []
    for op in ops:
        for param in op.parameters:
            where, name = param.get("in"), str(param.get("name", ""))
            if where in ("path", "query") and name:
                schema: Mapping[str, Any] = param.get("schema") or param
                points.append(Point(op, str(where), name, example_value(schema, name)))
    return sorted(points, key=lambda p: (p.op.path, p.op.method, p.where, p.name))[:limit]


def _send(ctx: Context, point: Point, value: str) -> ScanResponse:
    if point.where == "path":
        return call(ctx, point.op, path_values={point.name: value})
    return call(ctx, point.op, query={point.name: value})


def executable_context(response: ScanResponse) -> bool:
    """HTML or script, or no Content-Type at all with a body a browser would sniff as HTML."""
    media = response.content_type.split(";", 1)[0].strip().lower()
    if not media:
        return response.body.lstrip()[:1] == b"<"
    return is_html(response) or media.endswith(("javascript", "ecmascript"))


def _traversal(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in TRAVERSAL_MARKERS)


def _command_output(text: str) -> bool:
    return "uid=" in text and "gid=" in text


SEVERITY = {
    "server_error": Severity.HIGH,
    "reflected_unescaped": Severity.MEDIUM,
    "template_evaluated": Severity.HIGH,
    "command_output": Severity.CRITICAL,
    "path_traversal": Severity.HIGH,
}
EXPECTED = {
    "server_error": "a 4xx or a normal answer",
    "reflected_unescaped": "the value escaped in HTML",
    "template_evaluated": "the value treated as text",
    "command_output": "the value treated as text",
    "path_traversal": "the value treated as text",
}


@register
class InputSanitation(Check):
    key = "input_sanitation"
    title = "Injection payloads in parameters neither break the API nor come back live"
    sends = (
        "12 read-only injection payloads (SQL, NoSQL, path traversal, template, command, markup) in up to 5 "
        "path or query parameters of documented GET operations"
    )
    owasp = Owasp.API8
    severity = Severity.HIGH
    intrusive = False
    request_budget = MAX_POINTS * (len(PAYLOADS) + 1)

    def run(self, ctx: Context) -> list[Problem]:
        points = injection_points(safe_operations(ctx.target, 50))
        if not points:
            raise Skip("no documented path or query parameter on a GET operation")
        for point in points:
            baseline = _send(ctx, point, point.example)
            if baseline.status == 429:
                break
            if baseline.status is None or baseline.status >= 500:
                continue
            base_text = excerpt(baseline)
            hits: dict[str, list[tuple[Payload, ScanResponse]]] = {}
            errors = 0
            limited = False
            for payload in PAYLOADS:
                response = _send(ctx, point, payload.value)
                if response.status == 429:
                    limited = True
                    break
                if response.status is None:
                    continue
                text = excerpt(response)
                found = []
                if response.status >= 500:
                    found.append("server_error")
                    errors += 1
                if "<" in payload.value and executable_context(response) and payload.value in text:
                    found.append("reflected_unescaped")
                if (
                    payload.kind == "template"
                    and TEMPLATE_RESULT in text
                    and TEMPLATE_RESULT not in base_text
                ):
                    found.append("template_evaluated")
                if payload.kind == "command" and _command_output(text) and not _command_output(base_text):
                    found.append("command_output")
                if payload.kind == "path traversal" and _traversal(text) and not _traversal(base_text):
                    found.append("path_traversal")
                for kind in found:
                    hits.setdefault(kind, []).append((payload, response))
                if errors >= MAX_5XX_PER_POINT:
                    break
            for kind, seen in hits.items():
                kinds = ", ".join(dict.fromkeys(p.kind for p, _ in seen))
                got = "; ".join(f"{p.value!r} → HTTP {r.status}" for p, r in seen[:3])
                ctx.problem(
                    detail=f"{kind}:{point.name}",
                    operation=point.op.key,
                    severity=SEVERITY[kind],
                    message=(
                        f"Expected {EXPECTED[kind]} for {kinds} payloads in the {point.where} parameter "
                        f"{point.name!r}; got {kind.replace('_', ' ')}: {got}."
                    ),
                    responses=[r for _, r in seen],
                )
            if limited:
                break
        return ctx.problems
