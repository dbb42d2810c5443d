"""The ``mass_assignment`` check against a real user store on 127.0.0.1 that binds bodies carefully
or blindly."""

from __future__ import annotations

import json

from testing.engines.checks import all_checks
from testing.engines.checks.base import Identity, OperationSpec, Outcome, Severity, Target
from testing.engines.checks.mass_assignment import injected_properties
from testing.engines.checks.runner import run_checks
from testing.engines.safe_http import Limits, SafeClient
from tests.testing.servers import RawServer, reset, respond

all_checks()
USER = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "id": {"type": "integer", "readOnly": True},
        "name": {"type": "string", "example": "Ann"},
        "email": {"type": "string", "format": "email"},
        "created_at": {"type": "string", "format": "date-time", "readOnly": True},
    },
}
ID = ({"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}},)
OPS = (
    OperationSpec("POST", "/users", request_schema=USER),
    OperationSpec("GET", "/users"),
    OperationSpec("GET", "/users/{user_id}", parameters=ID),
    OperationSpec("PATCH", "/users/{user_id}", parameters=ID, request_schema=USER),
)
ADMIN = Identity("admin", headers={"Authorization": "Bearer root"}, secrets=("root",))
ANN = Identity("ann", headers={"Authorization": "Bearer ann-tok"}, secrets=("ann-tok",))


class Users:
    def __init__(self, *, blind: bool, echo: bool = True) -> None:
        self.blind, self.echo = blind, echo
        self.rows: dict[int, dict] = {1: {"id": 1, "name": "Ann", "role": "user"}}

    def bind(self, row: dict, body: dict) -> None:
        row.update(body if self.blind else {k: v for k, v in body.items() if k in ("name", "email")})

    def __call__(self, conn, request):
        if request.headers.get("authorization") not in ("Bearer ann-tok", "Bearer root"):
            return respond(conn, 401, b"{}")
        if request.path == "/users" and request.method == "GET":
            return respond(conn, 200, json.dumps(list(self.rows.values())).encode())
        if request.path == "/users" and request.method == "POST":
            row = {"id": len(self.rows) + 1, "role": "user"}
            self.bind(row, json.loads(request.body))
            self.rows[row["id"]] = row
            shown = row if self.echo else {"id": row["id"]}
            return respond(conn, 201, json.dumps(shown).encode(), [("Content-Type", "application/json")])
        last = request.path.rsplit("/", 1)[-1]
        row = self.rows.get(int(last) if last.isdigit() else -1)
        if row is None:
            return respond(conn, 404, b"{}")
        if request.method == "PATCH":
            self.bind(row, json.loads(request.body))
        respond(conn, 200, json.dumps(row).encode(), [("Content-Type", "application/json")])


def _run(server, operations=OPS, intrusive=True, identities=(ADMIN, ANN)):
    def factory(budget: int) -> SafeClient:
        return SafeClient(
            allowed_networks=["127.0.0.0/8"],
            limits=Limits(
                connect_timeout=1, read_timeout=1, total_timeout=2, per_host_rate=0, max_requests=budget
            ),
        )

    target = Target(
        base_url=server.url("").rstrip("/"),
        operations=operations,
        identities=identities,
        intrusive_allowed=intrusive,
    )
    result = run_checks(target, ["mass_assignment"], client_factory=factory).checks[0]
    assert result.requests_sent <= result.request_budget
    return result


def _problems(result):
    return sorted((p.detail, p.operation, p.severity) for p in result.problems)


def test_it_catches_a_blind_binder_as_a_normal_identity():
    with RawServer(Users(blind=True)) as server:
        result = _run(server)
    assert _problems(result) == [
        ("privileged_property_accepted", "PATCH /users/{user_id}", None),
        ("privileged_property_accepted", "POST /users", None),
        ("readonly_property_written", "PATCH /users/{user_id}", Severity.MEDIUM),
        ("readonly_property_written", "POST /users", Severity.MEDIUM),
    ]
    post = next(p for p in result.problems if p.operation == "POST /users" and p.detail.startswith("priv"))
    assert "admin, isAdmin, is_admin, owner_id, role" in post.message
    writes = [r for r in server.requests if r.method in ("POST", "PATCH")]
    assert all(r.headers["authorization"] == "Bearer ann-tok" for r in writes)  # not as the admin
    sent = json.loads(writes[0].body)
    assert sent["name"] == "Ann" and sent["created_at"] == "2001-02-03T04:05:06Z" and sent["role"] == "admin"
    assert next(r for r in writes if r.method == "PATCH").path == "/users/1"  # captured from GET /users


def test_it_reads_the_object_back_when_the_write_does_not_echo_it():
    with RawServer(Users(blind=True, echo=False)) as server:
        result = _run(server, operations=OPS[:3])
    assert ("privileged_property_accepted", "POST /users", None) in _problems(result)
    # The blind binder took the injected id too: the created object lives there, and was read back.
    assert any(r.method == "GET" and r.path == "/users/987654323" for r in server.requests)


def test_it_passes_an_api_that_binds_only_writable_properties():
    with RawServer(Users(blind=False)) as server:
        result = _run(server)
    assert result.outcome == Outcome.PASSED, result.problems
    assert result.metrics["inconclusive"] == {} and result.metrics["identity"] == "ann"


def test_it_is_intrusive_and_skips_without_writes():
    with RawServer(Users(blind=True)) as server:
        result = _run(server, intrusive=False)
        assert result.outcome == Outcome.SKIPPED and not server.requests
        result = _run(server, operations=(OperationSpec("GET", "/users"),))
    assert result.outcome == Outcome.SKIPPED


def test_it_copes_with_garbage():
    with RawServer(reset) as server:
        result = _run(server)
    assert result.outcome == Outcome.PASSED
    assert "no object" in result.metrics["inconclusive"]["PATCH /users/{user_id}"]
    assert "no usable answer" in result.metrics["inconclusive"]["POST /users"]
    with RawServer(lambda c, r: respond(c, 200, b'[1, 2, {"role": ')) as server:
        assert _run(server).outcome == Outcome.PASSED


def test_it_only_injects_what_the_schema_does_not_let_callers_write():
    schema = {
        "type": "object",
        "properties": {"role": {"type": "string"}, "id": {"type": "string", "readOnly": True}},
    }
    privileged, read_only = injected_properties(schema)
    assert "role" not in privileged and set(privileged) == {"admin", "is_admin", "isAdmin", "owner_id"}
    assert read_only == {"id": "asp-scanner-id"}
