"""latency_slo: p95 over 20 sampled requests against baseline × (1 + tolerance)."""

from __future__ import annotations

import time

import testing.engines.checks.latency_slo  # noqa: F401 - registers the check
from testing.engines.checks._probing import percentile
from testing.engines.checks.base import OperationSpec, Outcome, Target
from testing.engines.checks.runner import run_checks
from tests.testing.check_api import Api, client_factory, json_answer
from tests.testing.servers import RawServer, reset, respond

OPS = (
    OperationSpec("GET", "/a", auth_required=False),
    OperationSpec("GET", "/b", auth_required=False),
    OperationSpec("POST", "/c"),
)


def _slow(seconds: float):
    def answer(conn, request):
        time.sleep(seconds)
        respond(conn, 200, b"{}", [("Content-Type", "application/json")])

    return answer


def _target(server: RawServer, **kw) -> Target:
    return Target(base_url=server.url("").rstrip("/"), operations=OPS, **kw)


def test_it_reports_a_p95_over_the_slo_and_records_it():
    with RawServer(Api(fallback=_slow(0.03))) as server:
        report = run_checks(
            _target(server, latency_p95_ms=10, latency_tolerance=0.5),
            ["latency_slo"],
            client_factory=client_factory,
        )
        paths = {r.path for r in server.requests}
    result = report.checks[0]
    assert result.outcome == Outcome.FAILED
    assert [(p.detail, p.operation) for p in result.problems] == [("p95_over_slo", "")]
    assert result.metrics["p95_ms"] >= 30 and result.metrics["limit_ms"] == 15.0
    assert result.requests_sent == 20 == result.metrics["samples"]
    assert paths == {"/a", "/b"}  # safe operations only


def test_it_passes_within_the_slo():
    with RawServer(Api(fallback=json_answer({}))) as server:
        report = run_checks(
            _target(server, latency_p95_ms=2000), ["latency_slo"], client_factory=client_factory
        )
    result = report.checks[0]
    assert result.outcome == Outcome.PASSED and 0 < result.metrics["p95_ms"] < 2000


def test_it_passes_without_a_baseline_but_records_the_measurement():
    with RawServer(Api(fallback=json_answer({}))) as server:
        report = run_checks(_target(server), ["latency_slo"], client_factory=client_factory)
    result = report.checks[0]
    assert result.outcome == Outcome.PASSED
    assert result.metrics["note"] == "no baseline registered" and result.metrics["p95_ms"] > 0


def test_it_does_not_time_errors_and_skips_when_nothing_answered():
    with RawServer(Api(fallback=reset)) as server:
        reset_report = run_checks(
            _target(server, latency_p95_ms=1), ["latency_slo"], client_factory=client_factory
        )
    with RawServer(Api(fallback=lambda c, r: respond(c, 503, b"down"))) as server:
        error_report = run_checks(
            _target(server, latency_p95_ms=1), ["latency_slo"], client_factory=client_factory
        )
    for report in (reset_report, error_report):
        assert report.checks[0].outcome == Outcome.SKIPPED
        assert "answered below 500" in report.checks[0].skipped_reason


def test_it_uses_the_nearest_rank_percentile():
    assert percentile(list(range(1, 21)), 0.95) == 19
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([3, 1, 2], 0.5) == 2


def test_it_measures_the_api_not_the_clients_rate_limit_wait():
    from testing.engines.safe_http import Limits, SafeClient

    def paced(budget: int) -> SafeClient:  # 50 ms between requests to one host
        return SafeClient(
            allowed_networks=["127.0.0.0/8"], limits=Limits(per_host_rate=20, max_requests=budget)
        )

    with RawServer(Api(fallback=json_answer({}))) as server:
        report = run_checks(_target(server), ["latency_slo"], client_factory=paced)
    assert report.checks[0].metrics["p95_ms"] < 40
