"""error_hygiene: malformed input gets a short 4xx with no stack trace, SQL error, banner or path."""

from __future__ import annotations

import time

import testing.engines.checks.error_hygiene  # noqa: F401 - registers the check
from testing.engines.checks.base import OperationSpec, Outcome, Target
from testing.engines.checks.error_hygiene import MALFORMED, has_version, leaks
from testing.engines.checks.runner import run_checks
from tests.testing.check_api import Api, client_factory, handler, json_answer, path_of, query, text_answer
from tests.testing.servers import RawServer, reset

INT_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
OPS = (
    OperationSpec("GET", "/items/{id}", auth_required=False, parameters=(INT_ID,)),
    OperationSpec(
        "GET",
        "/search",
        auth_required=False,
        parameters=({"name": "q", "in": "query", "schema": {"type": "string"}},),
    ),
    OperationSpec("POST", "/orders", auth_required=False),
)
TRACEBACK = b'Traceback (most recent call last):\n  File "/srv/app/views.py", line 12, in item\nValueError: invalid literal'
BAD_REQUEST = json_answer({"error": "bad request"}, status=400)


def _target(server: RawServer, ops=OPS, **kw) -> Target:
    return Target(base_url=server.url("").rstrip("/"), operations=ops, **kw)


def test_it_finds_leaks_a_5xx_and_version_banners():
    def search(request):
        assert query(request)["q"] == MALFORMED
        return (
            400,
            b'{"error":"ERROR: unterminated quoted string at or near \\"\'\\""}',
            [("Content-Type", "application/json")],
        )

    debug_404 = b"<html><body>Page not found<p>You're seeing this error because you have <code>DEBUG = True</code></p></body></html>"
    api = Api(
        {
            "/search": handler(search),
            "/__scanner_no_such_route__%27%22%3C": text_answer(debug_404, 404, "text/html"),
            "POST /orders": text_answer(
                b"<pre>/usr/local/lib/python3.11/site-packages/app.py</pre>", 400, "text/html"
            ),
        },
        fallback=lambda c, r: (
            handler(
                lambda req: (500, TRACEBACK, [("Server", "gunicorn/20.1.0"), ("X-Powered-By", "Express")])
            )(c, r)
            if path_of(r).startswith("/items/")
            else BAD_REQUEST(c, r)
        ),
    )
    with RawServer(api) as server:
        report = run_checks(
            _target(server, intrusive_allowed=True), ["error_hygiene"], client_factory=client_factory
        )
        paths = [r.path for r in server.requests]
    result = report.checks[0]
    found = {(p.detail, p.operation) for p in result.problems}
    assert found == {
        ("server_error", "GET /items/{id}"),
        ("stack_trace", "GET /items/{id}"),
        ("sql_error", "GET /search"),
        ("framework_banner", ""),
        ("internal_path", "POST /orders"),
        ("version_header:server", ""),
    }
    assert "/items/1%27%22%3C%5B%7B%25" in paths  # the malformed value, encoded into the path
    assert result.severity == "medium"


def test_it_passes_short_generic_errors():
    api = Api(fallback=BAD_REQUEST)
    with RawServer(api) as server:
        report = run_checks(
            _target(server, intrusive_allowed=True), ["error_hygiene"], client_factory=client_factory
        )
    assert report.checks[0].outcome == Outcome.PASSED, report.checks[0].problems


def test_it_reports_typed_input_accepted_and_a_verbose_error():
    api = Api({"/search": text_answer(b"x" * 20_000, 400)}, fallback=json_answer({"id": 1}))
    with RawServer(api) as server:
        report = run_checks(_target(server, OPS[:2]), ["error_hygiene"], client_factory=client_factory)
    found = {(p.detail, p.operation) for p in report.checks[0].problems}
    # /search's q is a plain string: a 2xx for it would be fine; /items/{id} is an integer.
    assert found == {("malformed_input_accepted", "GET /items/{id}"), ("verbose_error_body", "GET /search")}
    assert report.checks[0].severity == "low"


def test_it_copes_with_garbage_and_stays_in_budget():
    ops = tuple(OperationSpec(m, f"/p{i}", auth_required=False) for i in range(20) for m in ("GET", "POST"))
    with RawServer(Api(fallback=reset)) as server:
        report = run_checks(
            _target(server, ops, intrusive_allowed=True), ["error_hygiene"], client_factory=client_factory
        )
    result = report.checks[0]
    assert result.outcome == Outcome.PASSED and result.requests_sent == 8 + 1 + 4 <= result.request_budget
    with RawServer(Api(fallback=text_answer(b"\x00\xff" * 5000, 400, "application/octet-stream"))) as server:
        report = run_checks(_target(server, ops), ["error_hygiene"], client_factory=client_factory)
    assert report.checks[0].outcome == Outcome.PASSED


def test_its_detectors_are_linear_on_hostile_text():
    hostile = ("1" * 200_000) + ("at " * 100_000)
    started = time.monotonic()
    assert leaks(hostile) == {} and not has_version("9" * 100_000)
    assert time.monotonic() - started < 1
    assert has_version("nginx/1.25.3") and not has_version("nginx") and not has_version("Express")
