"""input_sanitation: injection payloads never produce a 5xx and never come back live."""

from __future__ import annotations

import html
from urllib.parse import unquote

import testing.engines.checks.input_sanitation  # noqa: F401 - registers the check
from testing.engines.checks.base import OperationSpec, Outcome, Target
from testing.engines.checks.input_sanitation import PAYLOADS
from testing.engines.checks.runner import run_checks
from tests.testing.check_api import Api, client_factory, handler, path_of, query
from tests.testing.servers import RawServer, reset

Q = {"name": "q", "in": "query", "schema": {"type": "string", "example": "books"}}
NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "example": "report"}}
OPS = (
    OperationSpec("GET", "/search", auth_required=False, parameters=(Q,)),
    OperationSpec("GET", "/files/{name}", auth_required=False, parameters=(NAME,)),
    OperationSpec("POST", "/orders", auth_required=False, parameters=({"name": "dry", "in": "query"},)),
)
JSON = [("Content-Type", "application/json")]


def _target(server: RawServer, ops=OPS) -> Target:
    return Target(base_url=server.url("").rstrip("/"), operations=ops)


def test_it_finds_a_5xx_an_unescaped_reflection_and_an_evaluated_template():
    def search(request):
        q = query(request).get("q", "")
        if "'" in q:
            return 500, b"internal error", [("Content-Type", "text/plain")]
        rendered = q.replace("{{7*191}}", "1337")  # a template engine fed user input
        return (
            200,
            f"<html><body>Results for {rendered}</body></html>".encode(),
            [("Content-Type", "text/html")],
        )

    def files(request):
        name = unquote(path_of(request).removeprefix("/files/"))
        body = b"root:x:0:0:root:/root:/bin/bash\n" if "etc/passwd" in name else b'{"name":"report"}'
        return 200, body, JSON

    with RawServer(Api({"/search": handler(search)}, fallback=handler(files))) as server:
        report = run_checks(_target(server), ["input_sanitation"], client_factory=client_factory)
        methods = {r.method for r in server.requests}
    result = report.checks[0]
    found = {(p.detail, p.operation) for p in result.problems}
    assert found == {
        ("server_error:q", "GET /search"),
        ("reflected_unescaped:q", "GET /search"),
        ("template_evaluated:q", "GET /search"),
        ("path_traversal:name", "GET /files/{name}"),
    }
    assert methods == {"GET"}  # the POST operation's parameter is never touched
    assert result.severity == "high"


def test_it_passes_escaping_and_json_reflection():
    def search(request):
        q = query(request).get("q", "")
        return 200, f"<p>{html.escape(q)}</p>".encode(), [("Content-Type", "text/html")]

    def files(request):  # echoes the raw value as JSON data: harmless
        import json

        return 200, json.dumps({"name": unquote(path_of(request))}).encode(), JSON

    with RawServer(Api({"/search": handler(search)}, fallback=handler(files))) as server:
        report = run_checks(_target(server), ["input_sanitation"], client_factory=client_factory)
    result = report.checks[0]
    assert result.outcome == Outcome.PASSED, result.problems
    assert result.requests_sent == 2 * (len(PAYLOADS) + 1)
    assert len(PAYLOADS) <= 12


def test_it_finds_a_reflection_a_browser_would_sniff_as_html():
    def search(request):  # no Content-Type: a browser without nosniff guesses HTML
        return 200, f"<div>{query(request).get('q', '')}</div>".encode(), []

    with RawServer(Api({"/search": handler(search)})) as server:
        report = run_checks(_target(server, OPS[:1]), ["input_sanitation"], client_factory=client_factory)
    assert [p.detail for p in report.checks[0].problems] == ["reflected_unescaped:q"]


def test_it_leaves_a_point_that_fails_without_payloads_and_stops_at_429():
    with RawServer(Api(fallback=handler(lambda r: (503, b"down", JSON)))) as server:
        report = run_checks(_target(server), ["input_sanitation"], client_factory=client_factory)
    assert report.checks[0].outcome == Outcome.PASSED and report.checks[0].requests_sent == 2
    with RawServer(Api(fallback=handler(lambda r: (429, b"slow down", JSON)))) as server:
        report = run_checks(_target(server), ["input_sanitation"], client_factory=client_factory)
    assert report.checks[0].requests_sent == 1


def test_it_copes_with_resets_and_stays_in_budget():
    ops = tuple(
        OperationSpec("GET", f"/p{i}", auth_required=False, parameters=(Q, {"name": "page", "in": "query"}))
        for i in range(10)
    )
    with RawServer(Api(fallback=reset)) as server:
        report = run_checks(_target(server, ops), ["input_sanitation"], client_factory=client_factory)
    assert report.checks[0].outcome == Outcome.PASSED and report.checks[0].requests_sent == 5

    def breaks_on_payloads(request):  # the examples work, anything else is a 500
        return (200 if set(query(request).values()) <= {"books", "example"} else 500), b"x", JSON

    with RawServer(Api(fallback=handler(breaks_on_payloads))) as server:
        report = run_checks(_target(server, ops), ["input_sanitation"], client_factory=client_factory)
    result = report.checks[0]
    # Five points, each: the baseline and three payloads before moving on.
    assert result.requests_sent == 5 * 4 <= result.request_budget
    assert {(p.detail, p.operation) for p in result.problems} == {
        ("server_error:page", "GET /p0"),
        ("server_error:q", "GET /p0"),
        ("server_error:page", "GET /p1"),
        ("server_error:q", "GET /p1"),
        ("server_error:page", "GET /p2"),
    }


def test_it_skips_without_parameters():
    with RawServer(Api()) as server:
        report = run_checks(
            _target(server, (OperationSpec("GET", "/health"),)),
            ["input_sanitation"],
            client_factory=client_factory,
        )
    assert report.checks[0].outcome == Outcome.SKIPPED
