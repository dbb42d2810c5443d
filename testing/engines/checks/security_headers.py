"""``security_headers``: responses say ``nosniff``, and authenticated responses are not cached.

Up to 8 documented GET operations (sorted), each called once, with the first identity when it needs
authentication. Every answer carrying a body must send ``X-Content-Type-Options: nosniff``. Every
authenticated 2xx answer must send ``Cache-Control`` with ``no-store``.

Why ``no-store`` and nothing weaker: ``private`` still lets the browser keep the response on disk,
and ``no-cache`` / ``max-age=0`` only force revalidation — the body is still stored, where the next
user of a shared machine (or malware reading the cache) finds it. OWASP's REST cheat sheet asks for
``no-store`` on sensitive responses; so do we.
"""

from __future__ import annotations

from testing.engines.checks._probing import call, identity_for, safe_operations
from testing.engines.checks.base import Check, Context, Owasp, Problem, Severity, Skip, register

MAX_OPERATIONS = 8


def cache_directives(value: str) -> set[str]:
    return {part.split("=", 1)[0].strip().lower() for part in value.split(",") if part.strip()}


@register
class SecurityHeaders(Check):
    key = "security_headers"
    title = "nosniff everywhere, no-store on authenticated responses"
    sends = "one GET to each of up to 8 documented safe operations"
    owasp = Owasp.API8
    severity = Severity.LOW
    intrusive = False
    request_budget = 10

    def run(self, ctx: Context) -> list[Problem]:
        ops = safe_operations(ctx.target, MAX_OPERATIONS)
        if not ops:
            raise Skip("no documented GET operation to look at")
        answered = 0
        for op in ops:
            who = identity_for(ctx.target, op)
            response = call(ctx, op, identity=who)
            if response.status is None:
                continue
            answered += 1
            nosniff = response.headers.get("x-content-type-options", "").strip().lower()
            if response.body and nosniff != "nosniff":
                ctx.problem(
                    detail="missing_nosniff",
                    operation=op.key,
                    message=(
                        "Expected X-Content-Type-Options: nosniff; got "
                        + (repr(nosniff[:60]) if nosniff else "no such header")
                        + f" (HTTP {response.status})."
                    ),
                    responses=[response],
                )
            if who is not None and 200 <= response.status < 300:
                cache = response.headers.get("cache-control", "")
                if "no-store" not in cache_directives(cache):
                    ctx.problem(
                        detail="authenticated_response_cacheable",
                        operation=op.key,
                        message=(
                            "Expected Cache-Control: no-store on an authenticated response; got "
                            + (repr(cache[:100]) if cache else "no Cache-Control header")
                            + "."
                        ),
                        severity=Severity.MEDIUM,
                        responses=[response],
                    )
        ctx.metrics["answered"] = answered
        return ctx.problems
