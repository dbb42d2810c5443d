"""The ``auth_enforced`` check against a real server on 127.0.0.1 whose operations guard themselves
well or badly."""

from __future__ import annotations

from testing.engines.checks import all_checks
from testing.engines.checks.base import Identity, OperationSpec, Outcome, Severity, Target
from testing.engines.checks.runner import run_checks
from testing.engines.safe_http import Limits, SafeClient
from tests.testing.servers import RawServer, Router, reset, respond

all_checks()
GOOD = "Bearer good-token-123"
ALICE = Identity("alice", headers={"Authorization": GOOD}, secrets=("good-token-123",), object_ids=("42",))


def _factory(budget: int) -> SafeClient:
    return SafeClient(
        allowed_networks=["127.0.0.0/8"],
        limits=Limits(
            connect_timeout=1, read_timeout=1, total_timeout=2, per_host_rate=0, max_requests=budget
        ),
    )


def _run(server, operations, identities=(ALICE,), **kw):
    target = Target(
        base_url=server.url("").rstrip("/"), operations=tuple(operations), identities=identities, **kw
    )
    result = run_checks(target, ["auth_enforced"], client_factory=_factory).checks[0]
    assert result.requests_sent <= result.request_budget
    return result


def guarded(body=b'{"items": [1, 2]}'):
    def behaviour(conn, request):
        if request.headers.get("authorization") == GOOD:
            respond(conn, 200, body, [("Content-Type", "application/json")])
        else:
            respond(conn, 401, b'{"error": "unauthorized"}')

    return behaviour


def open_door(conn, request):
    respond(conn, 200, b'{"items": [1, 2]}', [("Content-Type", "application/json")])


def any_bearer(conn, request):
    if request.headers.get("authorization", "").startswith("Bearer "):
        open_door(conn, request)
    else:
        respond(conn, 401, b"no")


def owned_or_404(conn, request):
    if request.headers.get("authorization") == GOOD and request.path.endswith("/42"):
        open_door(conn, request)
    else:
        respond(conn, 404, b'{"error": "not found"}')


def _problems(result):
    return sorted((p.detail, p.operation) for p in result.problems)


def test_it_catches_operations_that_let_anonymous_and_bogus_callers_in():
    routes = {
        "/items": guarded(),
        "/leaky": open_door,
        "/any-bearer": any_bearer,
        "/health": lambda c, r: respond(c, 200, b'{"ok": true}'),
    }
    ops = [
        OperationSpec("GET", "/items"),
        OperationSpec("GET", "/leaky"),
        OperationSpec("GET", "/any-bearer"),
        OperationSpec("GET", "/health", auth_required=False),
    ]
    with RawServer(Router(routes)) as server:
        result = _run(server, ops)
    assert result.outcome == Outcome.FAILED and result.severity == Severity.HIGH
    assert _problems(result) == [
        ("invalid_token_accepted", "GET /any-bearer"),
        ("invalid_token_accepted", "GET /leaky"),
        ("unauthenticated_access", "GET /leaky"),
    ]
    leak = next(p for p in result.problems if p.detail == "unauthenticated_access")
    assert "byte for byte" in leak.message
    assert "good-token-123" not in repr(result.problems)  # the identity's token is redacted
    bogus = [r for r in server.requests if r.path == "/any-bearer" and r.headers.get("authorization") != GOOD]
    assert {r.headers.get("authorization") for r in bogus} == {
        None,
        "Bearer asp-scanner-invalid-credential-0000000000",
    }


def test_it_passes_operations_that_refuse_and_hides_nothing_behind_404():
    routes = {"/items": guarded(), "/items/42": owned_or_404, "/things/1": owned_or_404}
    ops = [
        OperationSpec("GET", "/items"),
        OperationSpec("GET", "/items/{id}", parameters=({"name": "id", "in": "path"},)),
    ]
    with RawServer(Router(routes)) as server:
        result = _run(server, ops)
    assert result.outcome == Outcome.PASSED, result.problems
    assert result.metrics["inconclusive"] == {}
    assert result.authenticated_responses == 2
    # Without an object of its own, a 404 tells nothing: inconclusive, not a pass.
    things = [OperationSpec("GET", "/things/{id}", parameters=({"name": "id", "in": "path"},))]
    with RawServer(Router(routes)) as server:
        result = _run(server, things, identities=(Identity("bob", headers={"Authorization": GOOD}),))
    assert result.outcome == Outcome.SKIPPED and "GET /things/{id}" in result.skipped_reason
    assert "404" in result.skipped_reason
    with RawServer(Router(routes)) as server:
        result = _run(server, ops + things, identities=(Identity("bob", headers={"Authorization": GOOD}),))
    assert result.outcome == Outcome.PASSED and result.metrics["judged"] == 1
    assert "404" in result.metrics["inconclusive"]["GET /things/{id}"]


def test_it_compares_with_the_authenticated_answer_and_catch_alls():
    shell = b"<html>app shell</html>"
    differs = {
        "/me": lambda c, r: respond(
            c, 200, b'{"user": "alice"}' if r.headers.get("authorization") == GOOD else b'{"user": null}'
        )
    }
    with RawServer(Router(differs)) as server:
        result = _run(server, [OperationSpec("GET", "/me")])
    assert sorted((p.detail, p.severity) for p in result.problems) == [
        ("invalid_token_2xx", Severity.MEDIUM),
        ("unauthenticated_2xx", Severity.MEDIUM),
    ]
    # A server that answers every path with the same 200 page hides nothing behind it.
    with RawServer(
        lambda c, r: (
            respond(c, 200, shell) if r.headers.get("authorization") != GOOD else respond(c, 200, b"{}")
        )
    ) as server:
        result = _run(server, [OperationSpec("GET", "/admin")])
    assert result.outcome == Outcome.SKIPPED and "catch-all" in result.skipped_reason


def test_it_probes_write_operations_only_when_intrusive_checks_are_allowed():
    routes = {"/items": lambda c, r: respond(c, 201, b'{"id": 7}') if r.method == "POST" else guarded()(c, r)}
    ops = [OperationSpec("GET", "/items"), OperationSpec("POST", "/items", request_schema={"type": "object"})]
    with RawServer(Router(routes)) as server:
        result = _run(server, ops)
        assert not any(r.method == "POST" for r in server.requests)
        assert result.outcome == Outcome.PASSED and result.metrics["writes_skipped"] == 1
        result = _run(server, ops, intrusive_allowed=True)
        posts = [r for r in server.requests if r.method == "POST"]
    assert _problems(result) == [
        ("invalid_token_accepted", "POST /items"),
        ("unauthenticated_access", "POST /items"),
    ]
    assert len(posts) == 2 and all(r.headers.get("authorization") != GOOD for r in posts)  # never as alice


def test_it_copes_with_garbage_and_holds_its_budget():
    routes = {
        "/a-reset": reset,
        "/a-boom": lambda c, r: respond(c, 500, b"\xff\xfe"),
        "/a-teapot": lambda c, r: respond(c, 418, b""),
    }
    routes.update({f"/op{i:02d}": guarded() for i in range(20)})
    ops = [OperationSpec("GET", p) for p in routes]
    with RawServer(Router(routes)) as server:
        result = _run(server, ops)
    assert result.outcome == Outcome.PASSED
    assert result.requests_sent <= 50 and result.metrics["not_tested"] == 8
    inconclusive = result.metrics["inconclusive"]
    assert "no answer" in inconclusive["GET /a-reset"] and "500" in inconclusive["GET /a-boom"]
    assert "418" in inconclusive["GET /a-teapot"]


def test_it_skips_without_protected_operations():
    with RawServer(Router({})) as server:
        result = _run(server, [OperationSpec("GET", "/health", auth_required=False)])
    assert result.outcome == Outcome.SKIPPED and result.requests_sent == 0
