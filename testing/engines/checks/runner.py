"""Run a set of checks against one target and report each result and the scan's own health.

    report = run_checks(target, ["tls", "auth_enforced"], client_factory=make_client)

``client_factory(budget)`` returns a fresh ``SafeClient`` whose ``Limits.max_requests`` is that
budget (the caller decides allowed networks, timeouts and rate from settings). Each check gets its
own client, so one check cannot spend another's budget, and the whole run is bounded by the sum of
the budgets. A check that raises is an ``error`` result with a short reason; a check whose budget
runs out keeps the problems it found and says so. Intrusive checks are skipped unless the target
allows them. ``should_stop()`` is asked between checks (a run cancelled, a worker shutting down).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from testing.engines.checks.base import (
    REGISTRY,
    Check,
    CheckReport,
    Context,
    Outcome,
    Severity,
    Skip,
    Target,
)
from testing.engines.safe_http import BudgetExceeded, SafeClient

log = logging.getLogger(__name__)

ClientFactory = Callable[[int], SafeClient]


@dataclass
class RunReport:
    checks: list[CheckReport] = field(default_factory=list)
    operations_total: int = 0
    cancelled: bool = False

    @property
    def requests_sent(self) -> int:
        return sum(c.requests_sent for c in self.checks)

    @property
    def request_budget(self) -> int:
        # A check skipped before sending anything reports a budget of 0.
        return sum(c.request_budget for c in self.checks)

    @property
    def operations_reached(self) -> frozenset[str]:
        return frozenset().union(*(c.operations_reached for c in self.checks))

    @property
    def authenticated_requests(self) -> int:
        return sum(c.authenticated_requests for c in self.checks)

    @property
    def authenticated_responses(self) -> int:
        return sum(c.authenticated_responses for c in self.checks)

    @property
    def skipped(self) -> dict[str, str]:
        return {c.key: c.skipped_reason for c in self.checks if c.outcome == Outcome.SKIPPED}

    @property
    def unauthenticated(self) -> bool:
        """Identities were used and not one request was answered as authenticated: the scan saw
        only the outside of the API, and must not look green."""
        return self.authenticated_requests > 0 and self.authenticated_responses == 0


def selected(keys: Iterable[str]) -> list[type[Check]]:
    """The registered checks for ``keys``, in registry order; unknown keys raise ``KeyError``."""
    wanted = set(keys)
    unknown = wanted - set(REGISTRY)
    if unknown:
        raise KeyError(f"unknown checks: {', '.join(sorted(unknown))}")
    return [cls for key, cls in REGISTRY.items() if key in wanted]


def _skipped(cls: type[Check], reason: str) -> CheckReport:
    return CheckReport(
        key=cls.key, outcome=Outcome.SKIPPED, severity=cls.severity, skipped_reason=reason, summary=reason
    )


def run_one(cls: type[Check], target: Target, client_factory: ClientFactory) -> CheckReport:
    if cls.intrusive and not target.intrusive_allowed:
        reason = (
            "intrusive, and the owner has not opted in for production"
            if target.production
            else "intrusive, and the plan has not opted in"
        )
        return _skipped(cls, reason)
    started = time.monotonic()
    client = client_factory(cls.request_budget)
    check = cls()
    ctx = Context(target=target, client=client, check=check)
    outcome: Outcome | None = None
    summary = ""
    exhausted = False
    try:
        check.run(ctx)
    except Skip as skip:
        client.close()
        # What it sent before deciding it could not judge still counts, and so do its notes.
        skipped = _skipped(cls, str(skip)[:300])
        skipped.requests_sent = ctx.requests_sent
        skipped.request_budget = cls.request_budget if ctx.requests_sent else 0
        skipped.metrics = ctx.metrics
        skipped.duration_ms = int((time.monotonic() - started) * 1000)
        return skipped
    except BudgetExceeded:
        exhausted = True
        summary = f"stopped at its budget of {cls.request_budget} requests"
    except Exception as exc:  # a broken check is a result, never a crashed run
        log.exception("check %s failed", cls.key)
        outcome, summary = Outcome.ERROR, f"the check failed: {type(exc).__name__}"
    finally:
        client.close()
    problems = ctx.problems
    if outcome is None:
        outcome = Outcome.FAILED if problems else Outcome.PASSED
    severity = max((p.severity or cls.severity for p in problems), key=lambda s: s.rank, default=cls.severity)
    if not summary:
        summary = f"{len(problems)} problem(s)" if problems else "passed"
    if ctx.notes:
        summary = "; ".join([summary, *ctx.notes])
    if ctx.truncated:
        summary += "; only the first problems are kept"
    return CheckReport(
        key=cls.key,
        outcome=outcome,
        severity=Severity(severity),
        problems=problems,
        summary=summary,
        requests_sent=ctx.requests_sent,
        request_budget=cls.request_budget,
        operations_reached=frozenset(ctx.reached),
        authenticated_requests=ctx.authenticated_requests,
        authenticated_responses=ctx.authenticated_responses,
        duration_ms=int((time.monotonic() - started) * 1000),
        metrics=ctx.metrics,
        budget_exhausted=exhausted,
    )


def run_checks(
    target: Target,
    keys: Iterable[str],
    *,
    client_factory: ClientFactory,
    should_stop: Callable[[], bool] = lambda: False,
) -> RunReport:
    report = RunReport(operations_total=len(target.operations))
    for cls in selected(keys):
        if should_stop():
            report.cancelled = True
            break
        report.checks.append(run_one(cls, target, client_factory))
    return report
