"""http_methods: TRACE and undocumented methods are refused; a TRACE echo is worse."""

from __future__ import annotations

import testing.engines.checks.http_methods  # noqa: F401 - registers the check
from testing.engines.checks.base import OperationSpec, Outcome, Target
from testing.engines.checks.runner import run_checks
from tests.testing.check_api import Api, client_factory, handler, text_answer
from tests.testing.servers import RawServer, Request, reset, respond

OPS = (
    OperationSpec(
        "GET",
        "/items/{id}",
        auth_required=False,
        parameters=({"name": "id", "in": "path", "schema": {"type": "integer"}},),
    ),
    OperationSpec("POST", "/orders", auth_required=False),
)


def _target(server: RawServer, ops=OPS, **kw) -> Target:
    return Target(base_url=server.url("").rstrip("/"), operations=ops, **kw)


def _strict(documented: dict[str, set[str]]):
    def answer(request: Request):
        path = request.path.split("?")[0]
        allowed = documented.get(path)
        if allowed is None:
            return 404, b'{"error":"not found"}', [("Content-Type", "application/json")]
        if request.method == "OPTIONS":
            return 204, b"", [("Allow", ", ".join(sorted(allowed | {"OPTIONS"})))]
        if request.method not in allowed:
            return 405, b'{"error":"method not allowed"}', [("Content-Type", "application/json")]
        return 200, b'{"ok":true}', [("Content-Type", "application/json")]

    return handler(answer)


def test_it_passes_an_api_that_refuses_what_it_does_not_document():
    api = Api(fallback=_strict({"/items/1": {"GET", "HEAD"}, "/orders": {"POST"}}))
    with RawServer(api) as server:
        report = run_checks(
            _target(server, intrusive_allowed=True), ["http_methods"], client_factory=client_factory
        )
        sent = sorted((r.method, r.path) for r in server.requests)
    result = report.checks[0]
    assert result.outcome == Outcome.PASSED, result.problems
    # Intrusive allowed: undocumented DELETE and PATCH were tried too, and refused.
    assert ("DELETE", "/items/1") in sent and ("GET", "/orders") in sent and ("DELETE", "/orders") in sent


def test_it_sends_no_write_method_without_the_intrusive_opt_in():
    api = Api(fallback=_strict({"/items/1": {"GET", "HEAD"}, "/orders": {"POST"}}))
    with RawServer(api) as server:
        run_checks(_target(server), ["http_methods"], client_factory=client_factory)
        methods = {r.method for r in server.requests}
    assert methods == {"TRACE", "OPTIONS", "GET"}


def test_it_finds_a_trace_echo_an_advertised_and_a_served_undocumented_method():
    def echo_trace(conn, request: Request):
        if request.method == "TRACE":
            head = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
            respond(
                conn,
                200,
                f"TRACE {request.path} HTTP/1.1\r\n{head}".encode(),
                [("Content-Type", "message/http")],
            )
        elif request.method == "OPTIONS":
            respond(conn, 200, b"", [("Allow", "GET, HEAD, DELETE, OPTIONS")])
        else:
            respond(
                conn,
                200,
                b'{"deleted":true}' if request.method == "DELETE" else b'{"id":1}',
                [("Content-Type", "application/json")],
            )

    with RawServer(Api({"/items/1": echo_trace})) as server:
        report = run_checks(
            _target(server, OPS[:1], intrusive_allowed=True), ["http_methods"], client_factory=client_factory
        )
    result = report.checks[0]
    found = {(p.detail, p.operation) for p in result.problems}
    assert found == {
        ("trace_echo", "TRACE /items/{id}"),
        ("undocumented_method_advertised", "OPTIONS /items/{id}"),
        ("undocumented_method:DELETE", "DELETE /items/{id}"),
        ("undocumented_method:PATCH", "PATCH /items/{id}"),
    }
    assert result.severity == "medium"


def test_it_ignores_a_catch_all_page_and_reports_a_5xx():
    index = b"<!doctype html><html><body><div id=app></div></body></html>"

    def spa(conn, request: Request):
        if request.method == "GET":
            respond(conn, 200, index, [("Content-Type", "text/html")])
        else:
            respond(conn, 500, b"boom", [("Content-Type", "text/plain")])

    with RawServer(Api(fallback=spa)) as server:
        report = run_checks(_target(server, OPS[1:]), ["http_methods"], client_factory=client_factory)
    result = report.checks[0]
    # GET /orders is the SPA's index page, as is any other path: not a served method.
    assert [(p.detail, p.operation) for p in result.problems] == []
    with RawServer(Api(fallback=spa)) as server:
        report = run_checks(
            _target(server, OPS[1:], intrusive_allowed=True), ["http_methods"], client_factory=client_factory
        )
    assert ("method_server_error:DELETE", "DELETE /orders") in {
        (p.detail, p.operation) for p in report.checks[0].problems
    }


def test_it_copes_with_garbage_and_stays_in_budget():
    ops = tuple(OperationSpec("GET", f"/p{i}") for i in range(30))
    with RawServer(Api(fallback=reset)) as server:
        report = run_checks(
            _target(server, ops, intrusive_allowed=True), ["http_methods"], client_factory=client_factory
        )
    result = report.checks[0]
    assert result.outcome == Outcome.PASSED
    assert result.requests_sent == 8 * 4 <= result.request_budget
    with RawServer(
        Api(fallback=text_answer(b"\xff\xfe garbage", status=200, content_type="application/json"))
    ) as server:
        report = run_checks(_target(server, ops), ["http_methods"], client_factory=client_factory)
    assert {p.detail for p in report.checks[0].problems} == {"trace_allowed"}
