"""The ``rate_limit`` check against real servers on 127.0.0.1 that limit, announce, or do neither."""

from __future__ import annotations

import itertools

from testing.engines.checks import all_checks
from testing.engines.checks.base import Identity, OperationSpec, Outcome, Severity, Target
from testing.engines.checks.runner import run_checks
from testing.engines.safe_http import Limits, SafeClient
from tests.testing.servers import RawServer, reset, respond

all_checks()
OPS = (
    OperationSpec("GET", "/items/{id}", parameters=({"name": "id", "in": "path"},)),
    OperationSpec("GET", "/items"),
    OperationSpec("POST", "/items"),
)
ALICE = Identity("alice", headers={"Authorization": "Bearer t0k"}, secrets=("t0k",))


def _run(server, operations=OPS, **kw):
    def factory(budget: int) -> SafeClient:
        return SafeClient(
            allowed_networks=["127.0.0.0/8"],
            limits=Limits(
                connect_timeout=1, read_timeout=1, total_timeout=2, per_host_rate=0, max_requests=budget
            ),
        )

    target = Target(base_url=server.url("").rstrip("/"), operations=operations, identities=(ALICE,), **kw)
    result = run_checks(target, ["rate_limit"], client_factory=factory).checks[0]
    assert result.requests_sent <= 50
    return result


def _counting(limit_after=None, headers=()):
    counter = itertools.count(1)

    def behaviour(conn, request):
        n = next(counter)
        if limit_after is not None and n > limit_after:
            return respond(conn, 429, b"slow down", [("Retry-After", "1")])
        respond(conn, 200, b"[]", list(headers))

    return behaviour


def test_it_catches_an_api_that_serves_the_whole_burst():
    with RawServer(_counting()) as server:
        result = _run(server)
    assert [(p.detail, p.operation) for p in result.problems] == [("no_rate_limit", "GET /items")]
    assert result.severity == Severity.MEDIUM and result.requests_sent == 50 and len(server.requests) == 50
    assert {r.path for r in server.requests} == {"/items"}  # the GET without path parameters
    assert all(r.headers["authorization"] == "Bearer t0k" for r in server.requests)


def test_it_stops_at_the_first_429():
    with RawServer(_counting(limit_after=10)) as server:
        result = _run(server)
    assert result.outcome == Outcome.PASSED and result.metrics["limited_after"] == 11
    assert len(server.requests) == 11


def test_it_accepts_announced_limits_and_uses_the_cheap_path():
    with RawServer(_counting(headers=[("X-RateLimit-Remaining", "99")])) as server:
        result = _run(server, cheap_get="/health")
    assert result.outcome == Outcome.PASSED and result.metrics["headers"] == ["x-ratelimit-remaining"]
    assert [r.path for r in server.requests] == ["/health"]


def test_it_stops_pushing_a_struggling_api():
    counter = itertools.count(1)
    with RawServer(lambda c, r: respond(c, 200 if next(counter) <= 5 else 503, b"x")) as server:
        result = _run(server)
    assert [(p.detail, p.severity) for p in result.problems] == [("errors_under_burst", Severity.LOW)]
    assert len(server.requests) == 8
    with RawServer(reset) as server:
        result = _run(server)
        assert result.outcome == Outcome.SKIPPED and "no usable answer" in result.skipped_reason
        assert len(server.requests) == 3


def test_it_skips_without_a_cheap_get():
    with RawServer(_counting()) as server:
        result = _run(server, operations=OPS[:1] + OPS[2:])
    assert result.outcome == Outcome.SKIPPED and not server.requests
