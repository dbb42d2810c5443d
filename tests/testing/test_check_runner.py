"""The check runner: budgets per check, errors and skips as results, the scan's own health."""

from __future__ import annotations

import pytest

from testing.engines.checks import base
from testing.engines.checks.base import (
    Check,
    Context,
    Identity,
    OperationSpec,
    Outcome,
    Owasp,
    Severity,
    Skip,
    Target,
)
from testing.engines.checks.runner import run_checks, selected
from testing.engines.safe_http import Limits, SafeClient
from tests.testing.servers import RawServer, Router, respond


def _factory(budget: int) -> SafeClient:
    return SafeClient(
        allowed_networks=["127.0.0.0/8"],
        limits=Limits(
            connect_timeout=2, read_timeout=2, total_timeout=3, per_host_rate=0, max_requests=budget
        ),
    )


class _Base(Check):
    title = "test"
    sends = "test"
    owasp = Owasp.API8
    severity = Severity.MEDIUM
    request_budget = 3


class Greedy(_Base):
    key = "t_greedy"

    def run(self, ctx: Context):
        for _ in range(10):
            r = ctx.send(
                "GET", "/items/1", identity=ctx.target.identities[0], operation=ctx.target.operations[0]
            )
            ctx.problem(detail="seen", message=f"got {r.status}", operation="GET /items/{id}", responses=[r])
        return ctx.problems


class Broken(_Base):
    key = "t_broken"

    def run(self, ctx: Context):
        raise ZeroDivisionError("secret-value in a message")


class Skipper(_Base):
    key = "t_skip"

    def run(self, ctx: Context):
        raise Skip("no JWT to test")


class Intrusive(_Base):
    key = "t_intrusive"
    intrusive = True

    def run(self, ctx: Context):  # pragma: no cover - must not run
        raise AssertionError("an intrusive check ran without opt-in")


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    registry = dict(base.REGISTRY)
    for cls in (Greedy, Broken, Skipper, Intrusive):
        registry[cls.key] = cls
    monkeypatch.setattr(base, "REGISTRY", registry)
    import testing.engines.checks.runner as runner

    monkeypatch.setattr(runner, "REGISTRY", registry)


def _target(server: RawServer, **kw) -> Target:
    return Target(
        base_url=server.url("").rstrip("/"),
        operations=(OperationSpec("GET", "/items/{id}"),),
        identities=(
            Identity("A", headers={"Authorization": "Bearer s3cr3t-token"}, secrets=("s3cr3t-token",)),
        ),
        **kw,
    )


def test_it_keeps_each_check_in_its_budget_and_reports_health():
    with RawServer(Router({"/items/1": lambda c, r: respond(c, 401, b"no")})) as server:
        report = run_checks(
            _target(server), ["t_greedy", "t_broken", "t_skip", "t_intrusive"], client_factory=_factory
        )

    by_key = {c.key: c for c in report.checks}
    greedy = by_key["t_greedy"]
    assert greedy.outcome == Outcome.FAILED
    assert greedy.requests_sent == 3 and len(greedy.problems) == 3
    assert "budget of 3" in greedy.summary
    assert "s3cr3t-token" not in repr(greedy.problems[0].evidence)
    assert by_key["t_broken"].outcome == Outcome.ERROR
    assert "secret-value" not in by_key["t_broken"].summary
    assert by_key["t_skip"].outcome == Outcome.SKIPPED and by_key["t_skip"].skipped_reason == "no JWT to test"
    assert by_key["t_intrusive"].outcome == Outcome.SKIPPED
    assert "opted in" in by_key["t_intrusive"].skipped_reason
    # Identities were sent three times and refused three times: the scan saw only the outside.
    assert report.authenticated_requests == 3 and report.unauthenticated
    assert report.request_budget == 6  # greedy and broken; the skipped checks are not counted
    assert report.operations_reached == {"GET /items/{id}"}


def test_it_counts_authenticated_answers():
    with RawServer(Router({"/items/1": lambda c, r: respond(c, 200, b"{}")})) as server:
        report = run_checks(_target(server), ["t_greedy"], client_factory=_factory)
    assert report.authenticated_responses == 3 and not report.unauthenticated


def test_it_refuses_unknown_keys_and_stops_when_told():
    with pytest.raises(KeyError):
        selected(["nope"])
    with RawServer(Router({})) as server:
        report = run_checks(_target(server), ["t_greedy"], client_factory=_factory, should_stop=lambda: True)
    assert report.cancelled and report.checks == []


class NotesThenSkips(_Base):
    key = "t_notes_then_skips"

    def run(self, ctx: Context):
        ctx.send("GET", "/items/1")
        ctx.metrics["seen"] = 1
        raise Skip("nothing to judge")


class Noting(_Base):
    key = "t_noting"

    def run(self, ctx: Context):
        ctx.note("no baseline registered")
        return ctx.problems


def test_a_skip_keeps_what_was_sent_and_notes_reach_the_summary(monkeypatch):
    from testing.engines.checks import runner

    monkeypatch.setitem(runner.REGISTRY, NotesThenSkips.key, NotesThenSkips)
    monkeypatch.setitem(runner.REGISTRY, Noting.key, Noting)
    with RawServer(Router({"/items/1": lambda c, r: respond(c, 200, b"{}")})) as server:
        report = run_checks(_target(server), [NotesThenSkips.key, Noting.key], client_factory=_factory)
    skipped, noting = report.checks
    assert (
        skipped.outcome == Outcome.SKIPPED and skipped.requests_sent == 1 and skipped.metrics == {"seen": 1}
    )
    assert report.requests_sent == 1 and report.request_budget == 6  # both ran: 3 each
    assert noting.outcome == Outcome.PASSED and noting.summary == "passed; no baseline registered"
