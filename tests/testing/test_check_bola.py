"""The ``bola`` check against a real object store on 127.0.0.1 that checks ownership, or forgets to."""

from __future__ import annotations

import json

from testing.engines.checks import all_checks
from testing.engines.checks.base import Identity, OperationSpec, Outcome, Severity, Target
from testing.engines.checks.runner import run_checks
from testing.engines.safe_http import Limits, SafeClient
from tests.testing.servers import RawServer, reset, respond

all_checks()
ID = ({"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}},)
OPS = (
    OperationSpec("GET", "/items"),
    OperationSpec("GET", "/items/{item_id}", parameters=ID),
    OperationSpec("PUT", "/items/{item_id}", parameters=ID, request_schema={"type": "object"}),
    OperationSpec("DELETE", "/items/{item_id}", parameters=ID),
)
ALICE = Identity("A", headers={"Authorization": "Bearer alice-tok"}, secrets=("alice-tok",))
BOB = Identity("B", headers={"Authorization": "Bearer bob-tok"}, secrets=("bob-tok",))


class Store:
    """Items per owner; ``checks_owner`` decides whether the API is sound."""

    def __init__(self, checks_owner: bool) -> None:
        self.checks_owner = checks_owner
        self.items = {"a1": {"id": "a1", "owner": "alice", "note": "A's"}, "b1": {"id": "b1", "owner": "bob"}}

    def __call__(self, conn, request):
        who = {"Bearer alice-tok": "alice", "Bearer bob-tok": "bob"}.get(
            request.headers.get("authorization", "")
        )
        if who is None:
            return respond(conn, 401, b"{}")
        if request.path == "/items":
            mine = [i for i in self.items.values() if i["owner"] == who]
            return respond(
                conn, 200, json.dumps({"items": mine}).encode(), [("Content-Type", "application/json")]
            )
        item = self.items.get(request.path.rsplit("/", 1)[-1])
        if item is None or (self.checks_owner and item["owner"] != who):
            return respond(conn, 404, b'{"error": "not found"}')
        if request.method == "PUT":
            item.update(json.loads(request.body or b"{}"))
        respond(conn, 200, json.dumps(item).encode(), [("Content-Type", "application/json")])


def _run(server, identities=(ALICE, BOB), **kw):
    def factory(budget: int) -> SafeClient:
        return SafeClient(
            allowed_networks=["127.0.0.0/8"],
            limits=Limits(
                connect_timeout=1, read_timeout=1, total_timeout=2, per_host_rate=0, max_requests=budget
            ),
        )

    target = Target(base_url=server.url("").rstrip("/"), operations=OPS, identities=identities, **kw)
    result = run_checks(target, ["bola"], client_factory=factory).checks[0]
    assert result.requests_sent <= result.request_budget
    return result


def test_it_catches_b_reading_a_captured_object_and_only_reads_when_not_intrusive():
    store = Store(checks_owner=False)
    with RawServer(store) as server:
        result = _run(server)
    assert [(p.detail, p.operation) for p in result.problems] == [("bola_read", "GET /items/{item_id}")]
    assert result.severity == Severity.HIGH and result.metrics["ids_from"] == "captured"
    assert "not tried" in result.metrics["writes"]
    assert {r.method for r in server.requests} == {"GET"}
    b_reads = [r for r in server.requests if r.headers["authorization"] == "Bearer bob-tok"]
    assert [r.path for r in b_reads] == ["/items/a1"]
    assert "bob-tok" not in repr(result.problems[0].evidence)


def test_it_catches_b_changing_a_object_when_intrusive_checks_are_allowed():
    store = Store(checks_owner=False)
    with RawServer(store) as server:
        result = _run(server, intrusive_allowed=True)
    assert sorted((p.detail, p.operation, p.severity) for p in result.problems) == [
        ("bola_read", "GET /items/{item_id}", None),
        ("bola_write", "PUT /items/{item_id}", Severity.CRITICAL),
    ]
    put = next(r for r in server.requests if r.method == "PUT")
    assert put.headers["authorization"] == "Bearer bob-tok" and put.path == "/items/a1"
    assert json.loads(put.body) == {"id": "a1", "owner": "alice", "note": "A's"}  # A's own data, unchanged
    assert store.items["a1"]["owner"] == "alice"
    assert not any(r.method == "DELETE" for r in server.requests)


def test_it_passes_an_api_that_checks_ownership():
    with RawServer(Store(checks_owner=True)) as server:
        result = _run(server, intrusive_allowed=True)
    assert result.outcome == Outcome.PASSED, result.problems
    assert result.metrics["pairs_tested"] == 2 and result.metrics["inconclusive"] == {}


def test_it_uses_configured_ids_and_names_a_and_b_whatever_their_order():
    alice = Identity("a", headers=ALICE.headers, object_ids=("zz", "a1"))
    other = Identity("admin", headers={"Authorization": "Bearer admin"})
    with RawServer(Store(checks_owner=False)) as server:
        result = _run(server, identities=(other, Identity("B", headers=BOB.headers), alice))
    assert result.metrics["ids_from"] == "configured" and result.metrics["owner"] == "a"
    assert [p.detail for p in result.problems] == ["bola_read"]
    assert not any(r.path == "/items" for r in server.requests)  # nothing to capture


def test_it_skips_without_two_identities_or_anything_to_compare():
    with RawServer(Store(checks_owner=False)) as server:
        result = _run(server, identities=(ALICE,))
        assert result.outcome == Outcome.SKIPPED and result.requests_sent == 0
    with RawServer(lambda c, r: respond(c, 200, b"<html>not json</html>")) as server:
        result = _run(server)
    assert result.outcome == Outcome.SKIPPED and "no object id" in result.skipped_reason
    with RawServer(reset) as server:
        result = _run(server, identities=(Identity("A", headers=ALICE.headers, object_ids=("a1",)), BOB))
    assert result.outcome == Outcome.SKIPPED and "cannot read" in result.skipped_reason
