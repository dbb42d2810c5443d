"""latency_trend: a steady rise over the last 5 runs is a leak; noise is not."""

from __future__ import annotations

import time

import pytest

import testing.engines.checks.latency_trend  # noqa: F401 - registers the check
from testing.engines.checks.base import OperationSpec, Outcome, Target
from testing.engines.checks.latency_trend import is_leak
from testing.engines.checks.runner import run_checks
from tests.testing.check_api import Api, client_factory, json_answer
from tests.testing.servers import RawServer, reset, respond

OPS = (OperationSpec("GET", "/a", auth_required=False),)


def _target(server: RawServer, history) -> Target:
    return Target(base_url=server.url("").rstrip("/"), operations=OPS, latency_history=tuple(history))


@pytest.mark.parametrize(
    ("series", "leak"),
    [
        ([100, 110, 120, 135, 140], True),  # +40 %, never down
        ([100, 100, 100, 100, 130], True),  # flat then up: non-decreasing is enough
        ([10, 20, 40, 80, 90, 100, 110, 125, 135], True),  # only the last five count
        ([100, 110, 105, 135, 140], False),  # one dip: noise
        ([100, 105, 110, 115, 120], False),  # +20 %: below the rise
        ([10, 12, 15, 20, 30], False),  # +200 % but under the 50 ms floor
        ([100, 140, 150, 160], False),  # four points are not enough
        ([0, 0, 0, 0, 100], False),  # no meaningful start
    ],
)
def test_it_applies_the_leak_rule(series, leak):
    assert is_leak(series) is leak


def test_it_reports_a_slow_leak_from_history_and_this_run():
    def slow(conn, request):
        time.sleep(0.06)
        respond(conn, 200, b"{}", [("Content-Type", "application/json")])

    with RawServer(Api(fallback=slow)) as server:
        report = run_checks(
            _target(server, [20, 25, 30, 40]), ["latency_trend"], client_factory=client_factory
        )
    result = report.checks[0]
    assert result.outcome == Outcome.FAILED
    assert [(p.detail, p.operation) for p in result.problems] == [("p95_rising", "")]
    assert result.metrics["series_ms"][:4] == [20, 25, 30, 40] and result.metrics["sample_p95_ms"] >= 60
    assert result.requests_sent == 10 == result.request_budget


def test_it_passes_noise():
    with RawServer(Api(fallback=json_answer({}))) as server:
        report = run_checks(
            _target(server, [60, 40, 70, 45, 65]), ["latency_trend"], client_factory=client_factory
        )
    result = report.checks[0]
    assert result.outcome == Outcome.PASSED and result.metrics["series_ms"][:4] == [40, 70, 45, 65]


def test_it_skips_without_enough_history_or_answers():
    with RawServer(Api(fallback=reset)) as server:
        short = run_checks(_target(server, [50, 60]), ["latency_trend"], client_factory=client_factory)
        broken = run_checks(
            _target(server, [50, 60, 70, 80]), ["latency_trend"], client_factory=client_factory
        )
    assert short.checks[0].outcome == Outcome.SKIPPED and "has 2" in short.checks[0].skipped_reason
    assert short.checks[0].requests_sent == 0
    assert (
        broken.checks[0].outcome == Outcome.SKIPPED
        and "answered below 500" in broken.checks[0].skipped_reason
    )
