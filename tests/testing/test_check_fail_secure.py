"""The ``fail_secure`` check against real servers on 127.0.0.1 that fail closed, fail open, or fall over."""

from __future__ import annotations

import json

from testing.engines.checks import all_checks
from testing.engines.checks.base import Identity, OperationSpec, Outcome, Severity, Target
from testing.engines.checks.runner import run_checks
from testing.engines.safe_http import Limits, SafeClient
from tests.testing.servers import RawServer, reset, respond

all_checks()
OPS = (
    OperationSpec("GET", "/health", auth_required=False),
    OperationSpec("GET", "/me"),
    OperationSpec("GET", "/orders/{id}", parameters=({"name": "id", "in": "path"},)),
    OperationSpec("POST", "/orders", request_schema={"type": "object"}),
)
GOOD = "Bearer good"


class Api:
    """``fail_open``: a malformed JSON body leaves it letting everyone in; ``lenient``: any
    Authorization header counts; ``fragile``: an oversized header takes it down."""

    def __init__(self, *, fail_open=False, lenient=False, fragile=False) -> None:
        self.fail_open, self.lenient, self.fragile = fail_open, lenient, fragile
        self.broken = False
        self.down = False

    def __call__(self, conn, request):
        if len(request.headers.get("x-scanner-filler", "")) > 8000:
            self.down = self.fragile
            return respond(conn, 431, b"")
        if self.down:
            return respond(conn, 503, b"")
        if request.method == "POST":
            try:
                json.loads(request.body)
            except (ValueError, RecursionError):
                self.broken = self.fail_open
                return respond(conn, 400, b'{"error": "bad json"}')
            return respond(conn, 401, b"")
        if request.path == "/health":
            return respond(conn, 200, b'{"ok": true}')
        auth = request.headers.get("authorization")
        if auth == GOOD or self.broken or (self.lenient and auth):
            return respond(conn, 200, b'{"user": "alice"}')
        respond(conn, 401, b'{"error": "login"}')


def _run(server, operations=OPS):
    def factory(budget: int) -> SafeClient:
        return SafeClient(
            allowed_networks=["127.0.0.0/8"],
            limits=Limits(
                connect_timeout=1, read_timeout=1, total_timeout=2, per_host_rate=0, max_requests=budget
            ),
        )

    identity = Identity("alice", headers={"Authorization": GOOD}, secrets=("good",))
    target = Target(base_url=server.url("").rstrip("/"), operations=operations, identities=(identity,))
    result = run_checks(target, ["fail_secure"], client_factory=factory).checks[0]
    assert result.requests_sent <= 40
    return result


def _problems(result):
    return sorted((p.detail, p.operation) for p in result.problems)


def test_it_passes_an_api_that_fails_closed():
    with RawServer(Api()) as server:
        result = _run(server)
    assert result.outcome == Outcome.PASSED, result.problems
    assert result.metrics["judged"] == ["GET /me", "GET /orders/{id}"]
    assert result.requests_sent == 26  # 1 + 2 before, 8 + 1 + 5 stress, 2 × 4 after, 1 health
    malformed = [r for r in server.requests if r.method == "POST"]
    assert len(malformed) == 5 and all("authorization" not in r.headers for r in malformed)
    assert {r.path for r in malformed} == {"/orders"}


def test_it_catches_access_opened_by_malformed_input():
    with RawServer(Api(fail_open=True)) as server:
        result = _run(server)
    assert _problems(result) == [
        ("fails_open_after_errors", "GET /me"),
        ("fails_open_after_errors", "GET /orders/{id}"),
    ]
    assert result.severity == Severity.HIGH


def test_it_catches_malformed_credentials_let_in():
    with RawServer(Api(lenient=True)) as server:
        result = _run(server)
    assert _problems(result) == [
        ("malformed_credentials_accepted", "GET /me"),
        ("malformed_credentials_accepted", "GET /orders/{id}"),
    ]
    assert "Bearer null" in result.problems[0].message


def test_it_catches_an_api_that_falls_over():
    with RawServer(Api(fragile=True)) as server:
        result = _run(server)
    assert [(p.detail, p.operation, p.severity) for p in result.problems] == [
        ("stops_answering", "GET /health", Severity.MEDIUM)
    ]


def test_it_copes_with_garbage():
    with RawServer(reset) as server:
        result = _run(server)
    assert result.outcome == Outcome.SKIPPED and "nothing to compare" in result.skipped_reason
    with RawServer(lambda c, r: respond(c, 200, b"\x00\xff garbage")) as server:
        result = _run(server)  # nothing refuses: only the health GET is judged, and it keeps answering
    assert result.outcome == Outcome.PASSED and result.metrics["judged"] == []
    with RawServer(Api()) as server:
        assert _run(server, operations=(OperationSpec("POST", "/orders"),)).outcome == Outcome.SKIPPED
