"""``rate_limit``: a burst of cheap requests meets a limit (429) or is told about one (headers).

The burst (at most 50 GETs) goes to ``target.cheap_get``, else to the first safe GET without path
parameters (sorted by path), as the first identity when that operation is protected (limits are
usually per client). It stops at the first 429 (pass), at the first answer carrying rate-limit
headers (``RateLimit``, ``RateLimit-*``, ``X-RateLimit-*``, ``Retry-After``: pass, the limit is
announced), and after three failures in a row (5xx, reset, timeout): the scanner never keeps
pushing an API that is struggling. The client's per-host rate is the caller's; this check just sends.

``no_rate_limit`` (medium): the whole burst was answered with no 429 and no header.
``errors_under_burst`` (low): the burst broke the API before any limit showed.
No answer at all to the first requests is a skip (the API is down: not this check's verdict).
"""

from __future__ import annotations

from testing.engines.checks.base import Check, Context, Owasp, Problem, Severity, Skip, register
from testing.engines.safe_http import ScanResponse

BURST = 50
MAX_FAILURES_IN_A_ROW = 3


def limit_headers(response: ScanResponse) -> list[str]:
    """The rate-limit headers an answer carries (lower-cased names)."""
    names = {name.lower() for name in response.headers}
    return sorted(
        n
        for n in names
        if n in ("ratelimit", "retry-after") or n.startswith(("ratelimit-", "x-ratelimit-", "x-rate-limit-"))
    )


@register
class RateLimit(Check):
    key = "rate_limit"
    title = "A burst of requests meets a rate limit"
    sends = "up to 50 GETs to one cheap operation, stopping at the first 429 or rate-limit header"
    owasp = Owasp.API4
    severity = Severity.MEDIUM
    intrusive = False
    request_budget = BURST

    def run(self, ctx: Context) -> list[Problem]:
        target = ctx.target
        op = None
        if target.cheap_get:
            path = target.cheap_get
            op = target.operation(f"GET {path}")
        else:
            op = next(
                (
                    o
                    for o in sorted(target.operations, key=lambda o: (o.path, o.method))
                    if o.method == "GET" and not o.path_parameters()
                ),
                None,
            )
            if op is None:
                raise Skip(
                    "no cheap GET to burst: set the API's cheap path, or document a GET without parameters"
                )
            path = op.path
        identity = target.identities[0] if target.identities and (op is None or op.auth_required) else None
        where = f"GET {op.path if op else path}"
        ctx.metrics["path"] = path
        answered = 0
        failures = 0
        last: ScanResponse | None = None
        for sent in range(1, BURST + 1):
            response = ctx.send("GET", path, identity=identity, operation=op)
            if response.ok and response.status == 429:
                ctx.metrics.update(limited_after=sent, signal="429")
                return ctx.problems
            headers = limit_headers(response) if response.ok else []
            if headers:
                ctx.metrics.update(limited_after=None, signal="headers", headers=headers[:10])
                return ctx.problems
            if response.ok and (response.status or 500) < 500:
                answered += 1
                failures = 0
                last = response
                continue
            failures += 1
            last = response
            if failures >= MAX_FAILURES_IN_A_ROW:
                ctx.metrics.update(sent=sent, answered=answered, stopped="failures in a row")
                if answered == 0:
                    raise Skip(f"no usable answer from {path} ({response.status or response.error_kind})")
                ctx.problem(
                    detail="errors_under_burst",
                    operation=where,
                    severity=Severity.LOW,
                    message=(
                        f"After {answered} answers the API failed {failures} times in a row "
                        f"({response.status or response.error_kind}) with no 429 or rate-limit header: "
                        "it degrades under a small burst instead of limiting it."
                    ),
                    responses=[response],
                )
                return ctx.problems
        ctx.metrics.update(sent=BURST, answered=answered)
        ctx.problem(
            detail="no_rate_limit",
            operation=where,
            message=(
                f"{BURST} requests in a burst were all served: no 429 and no RateLimit, X-RateLimit-* or "
                "Retry-After header."
            ),
            responses=[last] if last is not None else [],
        )
        return ctx.problems
