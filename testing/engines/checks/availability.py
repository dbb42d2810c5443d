"""``availability``: the API answers when its availability windows say it should be up.

"Reachable" means any HTTP answer below 500, first from the base URL, then from the first safe
operation (sorted by path): connection errors, timeouts and 5xx count as down, and each target is
tried twice before the API is called down. Inside a declared downtime window (``expected_up`` False)
nothing is sent and nothing is reported. A down API's finding names its blast radius, the consumers
the inventory lists, and is critical when anyone depends on it (high otherwise).
"""

from __future__ import annotations

from testing.engines.checks._probing import call, safe_operations
from testing.engines.checks.base import Check, Context, Owasp, Problem, Severity, Skip, register
from testing.engines.safe_http import ScanResponse

MAX_CONSUMERS_NAMED = 10


def _up(response: ScanResponse) -> bool:
    return response.status is not None and response.status < 500


def _describe(response: ScanResponse) -> str:
    if response.status is not None and response.status >= 500:
        return f"HTTP {response.status}"
    return response.error_kind.value if response.error_kind else "no answer"


def blast_radius(consumers: tuple[str, ...]) -> str:
    names = sorted(set(consumers))
    if not names:
        return "no consumer is registered"
    shown = ", ".join(names[:MAX_CONSUMERS_NAMED])
    more = f" and {len(names) - MAX_CONSUMERS_NAMED} more" if len(names) > MAX_CONSUMERS_NAMED else ""
    return f"{len(names)} consumer(s) affected: {shown}{more}"


@register
class Availability(Check):
    key = "availability"
    title = "The API is reachable when it should be up"
    sends = "a GET to the base URL and, if that fails, to the first safe operation (each retried once)"
    owasp = Owasp.API4
    severity = Severity.HIGH
    intrusive = False
    request_budget = 4

    def run(self, ctx: Context) -> list[Problem]:
        target = ctx.target
        if not target.expected_up:
            raise Skip("inside a declared downtime window")
        tried: list[ScanResponse] = []
        for _ in range(2):
            response = ctx.send("GET", target.base_url + "/")
            tried.append(response)
            if _up(response):
                ctx.metrics["up"] = True
                return ctx.problems
        ops = safe_operations(target, 1)
        if ops:
            for _ in range(2):
                response = call(ctx, ops[0])
                tried.append(response)
                if _up(response):
                    ctx.metrics["up"] = True
                    return ctx.problems
        ctx.metrics["up"] = False
        seen = "; ".join(dict.fromkeys(_describe(r) for r in tried))
        ctx.problem(
            detail="unreachable",
            message=(
                f"Expected the API to answer (its windows say it is up); got {seen} from the base URL"
                f"{' and ' + ops[0].key if ops else ''}, twice each. Blast radius: "
                f"{blast_radius(target.consumers)}."
            ),
            severity=Severity.CRITICAL if target.consumers else Severity.HIGH,
            responses=tried[-2:],
        )
        return ctx.problems
