"""The ``functional`` check: owners' cases through the runner, failing steps as stable problems."""

from __future__ import annotations

import json
import socket

from testing.engines.cases import parse_cases
from testing.engines.checks import all_checks
from testing.engines.checks.base import Identity, Outcome, Owasp, Severity, Target
from testing.engines.checks.functional import case_secrets
from testing.engines.checks.runner import run_checks
from testing.engines.identities import BasicAuth, LoginStep, resolve
from testing.engines.safe_http import Limits, SafeClient
from tests.testing.servers import RawServer, Request, respond

PASSWORD = "alice-password-123"
SESSION = "sess-77aa88bb99cc"


def _json(conn: socket.socket, status: int, payload: object) -> None:
    respond(conn, status, json.dumps(payload).encode(), [("Content-Type", "application/json")])


def api(conn: socket.socket, request: Request) -> None:
    signed_in = request.headers.get("x-session") == SESSION
    if request.path == "/login" and request.method == "POST":
        ok = json.loads(request.body) == {"user": "alice", "password": PASSWORD}
        _json(conn, 200 if ok else 401, {"session": SESSION} if ok else {"error": "no"})
    elif request.path == "/me":
        _json(conn, 200 if signed_in else 401, {"name": "alice", "session": request.headers.get("x-session")})
    elif request.path == "/orders":
        _json(conn, 200, {"orders": [], "count": 0})
    else:
        respond(conn, 404, b"")


def _factory(budget: int) -> SafeClient:
    return SafeClient(
        allowed_networks=["127.0.0.0/8"],
        limits=Limits(
            connect_timeout=2, read_timeout=2, total_timeout=3, per_host_rate=0, max_requests=budget
        ),
    )


CASES = """
- name: profile
  steps:
    - name: me as alice
      request: {method: GET, path: /me, identity: alice}
      expect: {status: 200, jsonpath: {"$.name": alice}}
    - name: log in again by hand
      request:
        method: POST
        path: /login
        json: {user: alice, password: "{{ secrets.alice.password }}"}
      capture: {session: $.session}
    - name: me by hand
      request: {method: GET, path: /me, headers: {X-Session: "{{ session }}"}}
      expect: {jsonpath: {"$.name": bob}}
- name: orders
  steps:
    - request: {method: GET, path: /orders}
      expect: {status: 200, jsonpath: {"$.count": 3}, headers: {Cache-Control: no-store}}
    - request: {method: GET, path: /orders}
- name: healthy
  steps:
    - request: {method: GET, path: /orders}
"""


def _alice(server: RawServer):
    spec = LoginStep(
        name="alice",
        path="/login",
        json={"user": "alice", "password": "{{ secrets.password }}"},
        token_path="$.session",
        header="X-Session: {{ token }}",
        secrets={"password": PASSWORD},
    )
    with _factory(5) as client:
        return resolve(spec, client=client, base_url=server.url("").rstrip("/"))


def test_it_is_registered_as_a_non_intrusive_api9_check():
    cls = all_checks()["functional"]
    assert cls.owasp == Owasp.API9 and cls.severity == Severity.MEDIUM and not cls.intrusive
    assert cls.request_budget == 200


def test_it_turns_each_failing_step_into_a_stable_problem():
    with RawServer(api) as server:
        alice = _alice(server)
        target = Target(
            base_url=server.url("").rstrip("/"), identities=(alice,), cases=tuple(parse_cases(CASES))
        )
        report = run_checks(target, ["functional"], client_factory=_factory)
    (check,) = report.checks
    assert check.outcome == Outcome.FAILED and check.severity == Severity.MEDIUM
    problems = {p.detail: p for p in check.problems}
    assert set(problems) == {"case:profile:step:3", "case:orders:step:1"}
    me = problems["case:profile:step:3"]
    assert me.operation == "GET /me"
    assert me.message == 'case \'profile\', step 3 (me by hand): $.name: expected "bob", got "alice"'
    orders = problems["case:orders:step:1"]
    assert "$.count: expected 3, got 0" in orders.message
    assert 'header Cache-Control: expected "no-store", got no such header' in orders.message
    assert orders.evidence and orders.evidence[0]["status"] == 200
    # The session and the password were sent, and appear nowhere in what the check reports.
    assert server.requests[1].headers["x-session"] == SESSION == server.requests[3].headers["x-session"]
    stored = json.dumps([(p.message, p.evidence) for p in check.problems])
    assert SESSION not in stored and PASSWORD not in stored
    assert check.metrics == {"cases": 3, "cases_passed": 1}
    # Step 1 went out as alice: the run's health counts it as authenticated.
    assert check.authenticated_requests == 1 and check.authenticated_responses == 1
    assert check.requests_sent == 5  # three + one (step 2 of orders skipped) + one


def test_it_skips_without_cases():
    with RawServer(api) as server:
        report = run_checks(
            Target(base_url=server.url("").rstrip("/")), ["functional"], client_factory=_factory
        )
    (check,) = report.checks
    assert check.outcome == Outcome.SKIPPED and "no functional cases" in check.skipped_reason


def test_it_stops_at_its_budget_and_keeps_what_it_found():
    with RawServer(api) as server:
        target = Target(base_url=server.url("").rstrip("/"), cases=tuple(parse_cases(CASES))[1:])
        report = run_checks(target, ["functional"], client_factory=lambda budget: _factory(1))
    (check,) = report.checks
    assert [p.detail for p in check.problems] == ["case:orders:step:1"]
    assert "stopped at its budget" in check.summary


def test_it_names_secrets_by_identity():
    basic = BasicAuth("bob", "bob", "bob-secret-pw")
    with _factory(1) as client:
        resolved = resolve(basic, client=client, base_url="")
    plain = Identity("ci", headers={"Authorization": "Bearer t-123"}, secrets=("t-123",), token="t-123")
    assert case_secrets([resolved, plain]) == {
        "bob.username": "bob",
        "bob.password": "bob-secret-pw",
        "ci.token": "t-123",
    }
