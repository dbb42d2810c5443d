"""A test check for the Celery wiring test: one GET to the target. Pure (no Django import), so the
worker the test starts can register it before Django is set up; nothing registers it on import."""

from __future__ import annotations

from testing.engines.checks.base import Check, Context, Owasp, Problem, Severity

WIRING_PATH = "/wiring-probe"


class WiringCheck(Check):
    key = "t_wiring"
    title = "The scheduled run reached the target"
    sends = f"GET {WIRING_PATH}"
    owasp = Owasp.API8
    severity = Severity.INFO
    intrusive = False
    request_budget = 2

    def run(self, ctx: Context) -> list[Problem]:
        ctx.send("GET", WIRING_PATH)
        return ctx.problems
