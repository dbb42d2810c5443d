"""``latency_slo``: the p95 latency of safe operations stays within the registered baseline.

GET requests round-robin over up to 16 documented safe operations (sorted), each with the identity
the operation needs: twenty, or two per operation when that is more (at most 32). Only answers below
500 are timed (a fast error says nothing about the API's speed). The p95 (nearest rank) of all of
them is compared with ``latency_p95_ms × (1 + latency_tolerance)``: ``p95_over_slo``, for the API as
a whole (no operation).

An API-wide p95 hides one slow operation among many fast ones, so each operation is also judged on
its own: when some, not all, of the sampled operations answered slower than the limit every time
(at least twice), each is ``operation_over_slo`` with its operation named. (When all are slow, the
API is slow: ``p95_over_slo`` says it once.)

The measured p95 always goes into ``metrics["p95_ms"]`` (the portal stores it for ``latency_trend``),
with the sample count, baseline and limit. Without a registered baseline the check passes and says so
in ``metrics["note"]`` ("no baseline registered"): the measurement is still worth keeping, and a
missing baseline is an inventory gap, not a latency problem.
"""

from __future__ import annotations

from testing.engines.checks._probing import percentile, safe_operations, timed_samples
from testing.engines.checks.base import (
    Check,
    Context,
    OperationSpec,
    Owasp,
    Problem,
    Severity,
    Skip,
    register,
)
from testing.engines.safe_http import ScanResponse

SAMPLES = 20
SAMPLES_PER_OPERATION = 2
MAX_OPERATIONS = 16
MAX_SAMPLES = SAMPLES_PER_OPERATION * MAX_OPERATIONS
MIN_SAMPLES = 5  # fewer timed answers than this measure nothing


@register
class LatencySlo(Check):
    key = "latency_slo"
    title = "p95 latency within the registered baseline"
    sends = "20 to 32 GET requests spread over up to 16 documented safe operations (two each at least)"
    owasp = Owasp.API4
    severity = Severity.MEDIUM
    intrusive = False
    request_budget = MAX_SAMPLES

    def run(self, ctx: Context) -> list[Problem]:
        target = ctx.target
        ops = safe_operations(target, MAX_OPERATIONS)
        if not ops:
            raise Skip("no documented GET operation to time")
        count = min(MAX_SAMPLES, max(SAMPLES, SAMPLES_PER_OPERATION * len(ops)))
        samples, responses = timed_samples(ctx, ops, count)
        if len(samples) < MIN_SAMPLES:
            raise Skip(f"only {len(samples)} of {count} requests were answered below 500: nothing to measure")
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
        self._slow_operations(ctx, ops, responses, limit)
        return ctx.problems

    def _slow_operations(
        self, ctx: Context, ops: list[OperationSpec], responses: list[ScanResponse], limit: float
    ) -> None:
        # timed_samples goes round-robin: response i was a call to ops[i % len(ops)].
        per_op: dict[str, list[ScanResponse]] = {}
        for index, response in enumerate(responses):
            per_op.setdefault(ops[index % len(ops)].key, []).append(response)
        slow: list[tuple[str, list[ScanResponse]]] = []
        for key, answers in per_op.items():
            timed = [r for r in answers if r.ok and r.status is not None and r.status < 500]
            if len(timed) >= SAMPLES_PER_OPERATION and min(r.elapsed for r in timed) * 1000 > limit:
                slow.append((key, timed))
        if len(slow) == len(per_op):
            return  # every operation is slow: the API is, and p95_over_slo said so
        for key, timed in slow:
            fastest = min(r.elapsed for r in timed) * 1000
            ctx.problem(
                detail="operation_over_slo",
                operation=key,
                message=(
                    f"Expected each operation to answer within {limit:.0f} ms; all {len(timed)} calls took "
                    f"longer (fastest {fastest:.0f} ms) while other operations did not."
                ),
                responses=timed[:1],
            )
