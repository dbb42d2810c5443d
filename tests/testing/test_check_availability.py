"""availability: reachable when the windows say up, silent inside downtime, blast radius named."""

from __future__ import annotations

import socket

import testing.engines.checks.availability  # noqa: F401 - registers the check
from testing.engines.checks.base import OperationSpec, Outcome, Severity, Target
from testing.engines.checks.runner import run_checks
from tests.testing.check_api import Api, client_factory, json_answer
from tests.testing.servers import RawServer, reset, respond

OPS = (OperationSpec("GET", "/health", auth_required=False), OperationSpec("POST", "/orders"))


def _target(base_url: str, **kw) -> Target:
    return Target(base_url=base_url, operations=OPS, **kw)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_it_passes_when_any_answer_below_500_comes_back():
    # The base URL is a 404, which still proves the API is up.
    with RawServer(Api()) as server:
        report = run_checks(
            _target(server.url("").rstrip("/")), ["availability"], client_factory=client_factory
        )
    result = report.checks[0]
    assert result.outcome == Outcome.PASSED and result.metrics == {"up": True}
    assert result.requests_sent == 1


def test_it_falls_back_to_the_first_safe_operation():
    api = Api({"/": lambda c, r: respond(c, 503, b"maintenance page"), "/health": json_answer({"ok": True})})
    with RawServer(api) as server:
        report = run_checks(
            _target(server.url("").rstrip("/")), ["availability"], client_factory=client_factory
        )
        paths = [r.path for r in server.requests]
    assert report.checks[0].outcome == Outcome.PASSED
    assert paths == ["/", "/", "/health"]


def test_it_reports_a_down_api_with_its_blast_radius_as_critical():
    target = _target(f"http://127.0.0.1:{_closed_port()}", consumers=("billing", "checkout"))
    report = run_checks(target, ["availability"], client_factory=client_factory)
    result = report.checks[0]
    assert result.outcome == Outcome.FAILED and result.severity == Severity.CRITICAL
    problem = result.problems[0]
    assert problem.detail == "unreachable" and problem.operation == ""
    assert "billing, checkout" in problem.message and "connect_failed" in problem.message
    assert result.requests_sent == 4 == result.request_budget  # two tries each, never more
    assert result.metrics == {"up": False}


def test_it_is_high_without_consumers_and_counts_5xx_and_resets_as_down():
    with RawServer(Api({"/": lambda c, r: respond(c, 502, b"bad gateway"), "/health": reset})) as server:
        report = run_checks(
            _target(server.url("").rstrip("/")), ["availability"], client_factory=client_factory
        )
    result = report.checks[0]
    assert result.outcome == Outcome.FAILED and result.severity == Severity.HIGH
    assert "HTTP 502" in result.problems[0].message and "no consumer" in result.problems[0].message


def test_it_reports_nothing_inside_a_declared_downtime():
    target = _target(f"http://127.0.0.1:{_closed_port()}", expected_up=False, consumers=("billing",))
    report = run_checks(target, ["availability"], client_factory=client_factory)
    result = report.checks[0]
    assert result.outcome == Outcome.SKIPPED
    assert result.skipped_reason == "inside a declared downtime window"
    assert result.requests_sent == 0
