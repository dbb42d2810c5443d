"""``latency_trend``: a p95 that climbs run after run (a slow leak), reported before it breaks the SLO.

The series is ``latency_history`` (the p95 of earlier runs, oldest first) plus this run's own p95
over 10 GET requests to up to 5 documented safe operations. The rule (``is_leak``), on the last 5
points of the series:

* every point is at least the one before (monotonic non-decreasing: one dip means noise, not a leak);
* the last is at least 30 % above the first;
* the last is at least 50 ms (a rise from 2 ms to 3 ms is not worth anyone's time).

Fewer than 4 earlier runs: skipped (the rule needs 5 points). The check does not need a baseline;
``latency_slo`` is the one that compares with it.
"""

from __future__ import annotations

from collections.abc import Sequence

from testing.engines.checks._probing import percentile, safe_operations, timed_samples
from testing.engines.checks.base import Check, Context, Owasp, Problem, Severity, Skip, register

SAMPLES = 10
MAX_OPERATIONS = 5
WINDOW = 5
MIN_RISE = 0.30
FLOOR_MS = 50.0


def is_leak(
    series: Sequence[float], *, window: int = WINDOW, min_rise: float = MIN_RISE, floor_ms: float = FLOOR_MS
) -> bool:
    """Whether the last ``window`` points rise steadily (see the module docstring)."""
    points = [float(p) for p in series[-window:]]
    if len(points) < window or points[0] <= 0:
        return False
    steady = all(later >= earlier for earlier, later in zip(points, points[1:], strict=False))
    return steady and points[-1] >= points[0] * (1 + min_rise) and points[-1] >= floor_ms


@register
class LatencyTrend(Check):
    key = "latency_trend"
    title = "p95 latency is not climbing run after run"
    sends = "10 GET requests spread over up to 5 documented safe operations"
    owasp = Owasp.API4
    severity = Severity.LOW
    intrusive = False
    request_budget = SAMPLES

    def run(self, ctx: Context) -> list[Problem]:
        history = [float(p) for p in ctx.target.latency_history if p is not None and float(p) >= 0]
        if len(history) < WINDOW - 1:
            raise Skip(f"needs {WINDOW - 1} earlier runs with a p95; has {len(history)}")
        ops = safe_operations(ctx.target, MAX_OPERATIONS)
        if not ops:
            raise Skip("no documented GET operation to time")
        samples, responses = timed_samples(ctx, ops, SAMPLES)
        if len(samples) < SAMPLES // 2:
            raise Skip(
                f"only {len(samples)} of {SAMPLES} requests were answered below 500: nothing to measure"
            )
        current = round(percentile(samples, 0.95), 1)
        series = [*history[-(WINDOW - 1) :], current]
        ctx.metrics.update({"sample_p95_ms": current, "series_ms": [round(p, 1) for p in series]})
        if is_leak(series):
            ctx.problem(
                detail="p95_rising",
                message=(
                    f"Expected the p95 to hold steady; it rose over the last {WINDOW} runs without a dip, "
                    f"from {series[0]:.0f} ms to {series[-1]:.0f} ms "
                    f"({series[-1] / series[0] - 1:.0%}): " + " → ".join(f"{p:.0f}" for p in series) + " ms."
                ),
                responses=[max(responses, key=lambda r: r.elapsed if r.status is not None else -1.0)],
            )
        return ctx.problems
