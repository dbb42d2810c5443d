"""``latency_slo``: the p95 latency of safe operations stays within the registered baseline.

Twenty GET requests, round-robin over up to 5 documented safe operations (sorted), each with the
identity the operation needs. Only answers below 500 are timed (a fast error says nothing about the
API's speed). The p95 (nearest rank) is compared with ``latency_p95_ms × (1 + latency_tolerance)``.

The measured p95 always goes into ``metrics["p95_ms"]`` (the portal stores it for ``latency_trend``),
with the sample count, baseline and limit. Without a registered baseline the check passes and says so
in ``metrics["note"]`` ("no baseline registered"): the measurement is still worth keeping, and a
missing baseline is an inventory gap, not a latency problem.
"""

from __future__ import annotations

from testing.engines.checks._probing import percentile, safe_operations, timed_samples
from testing.engines.checks.base import Check, Context, Owasp, Problem, Severity, Skip, register

SAMPLES = 20
MAX_OPERATIONS = 5
MIN_SAMPLES = 5  # fewer timed answers than this measure nothing


@register
class LatencySlo(Check):
    key = "latency_slo"
    title = "p95 latency within the registered baseline"
    sends = "20 GET requests spread over up to 5 documented safe operations"
    owasp = Owasp.API4
    severity = Severity.MEDIUM
    intrusive = False
    request_budget = SAMPLES

    def run(self, ctx: Context) -> list[Problem]:
        target = ctx.target
        ops = safe_operations(target, MAX_OPERATIONS)
        if not ops:
            raise Skip("no documented GET operation to time")
        samples, responses = timed_samples(ctx, ops, SAMPLES)
        if len(samples) < MIN_SAMPLES:
            raise Skip(
                f"only {len(samples)} of {SAMPLES} requests were answered below 500: nothing to measure"
            )
        p95 = round(percentile(samples, 0.95), 1)
        ctx.metrics.update({"p95_ms": p95, "samples": len(samples)})
        if target.latency_p95_ms is None or target.latency_p95_ms <= 0:
            ctx.metrics["note"] = "no baseline registered"
            return ctx.problems
        limit = target.latency_p95_ms * (1 + max(0.0, target.latency_tolerance))
        ctx.metrics.update({"baseline_ms": target.latency_p95_ms, "limit_ms": round(limit, 1)})
        if p95 > limit:
            slowest = max(responses, key=lambda r: r.elapsed if r.status is not None else -1.0)
            ctx.problem(
                detail="p95_over_slo",
                message=(
                    f"Expected a p95 of at most {limit:.0f} ms (baseline {target.latency_p95_ms:.0f} ms + "
                    f"{target.latency_tolerance:.0%}); measured {p95:.0f} ms over {len(samples)} requests."
                ),
                responses=[slowest],
            )
        return ctx.problems
