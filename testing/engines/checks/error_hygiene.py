"""``error_hygiene``: malformed input gets a short 4xx that gives nothing away.

What is sent (deterministic, at most 13 requests):

* to each of up to 8 documented GET operations (sorted), the operation with one parameter made
  malformed: the first path parameter, else the first query parameter (typed ones preferred), set to
  ``1'"<[{%`` — not a number, not a UUID, not an enum value, unbalanced quotes and brackets;
* a path that cannot exist under the base URL (the 404 page is where debug modes show themselves);
* with intrusive checks allowed only, up to 4 documented write operations (sorted) with a truncated
  JSON body (``{"``).

What is a finding, per operation:

* ``server_error``: a 5xx (the input reached code that did not expect it);
* ``stack_trace``, ``sql_error``, ``framework_banner``, ``internal_path``: the body (its first 64 KB,
  lower-cased, plain substring tests: nothing here can backtrack) carries one of the markers below;
* ``malformed_input_accepted``: a 2xx although the malformed parameter is typed (integer, number,
  boolean, enum, uuid/date formats) or the body was not JSON at all;
* ``verbose_error_body``: a 4xx body over 16 KB (errors should be short);
* once for the whole API, ``version_header:<name>``: ``Server``, ``X-Powered-By``,
  ``X-AspNet-Version`` or ``X-AspNetMvc-Version`` with a version number in it (a digit, a dot, a
  digit), or any value at all for the two ASP.NET headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from testing.engines.checks._probing import call, excerpt, identity_for, safe_operations
from testing.engines.checks.base import Check, Context, OperationSpec, Owasp, Problem, Severity, register
from testing.engines.safe_http import ScanResponse

MALFORMED = "1'\"<[{%"
MALFORMED_BODY = b'{"'
NO_SUCH_ROUTE = "/__scanner_no_such_route__%27%22%3C"
MAX_SAFE = 8
MAX_WRITES = 4
VERBOSE_BYTES = 16 * 1024
TYPED = frozenset({"integer", "number", "boolean"})
TYPED_FORMATS = frozenset({"uuid", "date", "date-time", "int32", "int64", "email"})

LEAK_MARKERS: dict[str, tuple[str, ...]] = {
    "stack_trace": (
        "traceback (most recent call last)",
        '.py", line ',
        "exception in thread",
        "at java.",
        "at org.springframework",
        "at sun.reflect",
        ".java:",
        "at object.<anonymous>",
        "at module._compile",
        "node:internal/",
        "goroutine 1 [",
        "panic: runtime error",
        "system.nullreferenceexception",
        "   at microsoft.",
        "   at system.",
        "fatal error: uncaught",
        "stack trace:",
        '"stacktrace"',
        '"stack":',
        '"trace":[',
        '"trace": [',
    ),
    "sql_error": (
        "you have an error in your sql syntax",
        "sqlstate[",
        "sqlstate:",
        "ora-00",
        "ora-01",
        "pg::",
        "psycopg2.",
        "psycopg.errors",
        "syntax error at or near",
        "unterminated quoted string",
        "sqlite3.operationalerror",
        "sqlite_error",
        "sqlexception",
        "unclosed quotation mark",
        "quoted string not properly terminated",
        "mysql_fetch",
        "java.sql.",
        "org.hibernate",
        "sequelizedatabaseerror",
        "odbc driver",
    ),
    "framework_banner": (
        "werkzeug debugger",
        "django version:",
        "you're seeing this error because you have <code>debug = true</code>",
        "you're seeing this error because you have debug = true",
        "whitelabel error page",
        "rails.root:",
        "action_dispatch",
        "symfony\\component",
        "server error in '/' application",
        "<address>apache/",
        "phusion passenger",
        "laravel",
    ),
    "internal_path": (
        "/site-packages/",
        "/dist-packages/",
        "/node_modules/",
        "/usr/lib/",
        "/usr/local/lib/",
        "/var/www/",
        "/web-inf/",
        "c:\\users\\",
        "c:\\inetpub\\",
        "c:\\windows\\",
    ),
}
LEAK_WORDS = {
    "stack_trace": "a stack trace",
    "sql_error": "a database error",
    "framework_banner": "a framework's debug page or banner",
    "internal_path": "an internal file path",
}
BANNER_HEADERS = ("server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version")
ALWAYS_BANNER = frozenset({"x-aspnet-version", "x-aspnetmvc-version"})


def leaks(text: str) -> dict[str, str]:
    """Leak kind → the marker found, for a body excerpt (lower-cased inside; substring tests only)."""
    lowered = text.lower()
    found: dict[str, str] = {}
    for kind, markers in LEAK_MARKERS.items():
        hit = next((m for m in markers if m in lowered), None)
        if hit is not None:
            found[kind] = hit
    return found


def has_version(value: str) -> bool:
    """A digit, a dot and a digit somewhere in the (first 200 characters of the) value."""
    value = value[:200]
    return any(
        value[i].isdigit() and value[i + 1] == "." and value[i + 2].isdigit() for i in range(len(value) - 2)
    )


def _typed(param: Mapping[str, Any]) -> bool:
    schema = param.get("schema") or param
    if not isinstance(schema, Mapping):
        return False
    return schema.get("type") in TYPED or schema.get("format") in TYPED_FORMATS or bool(schema.get("enum"))


def _malformed_parameter(op: OperationSpec) -> tuple[str, Mapping[str, Any]] | None:
    """("path" | "query", parameter) to make malformed: path first, typed query next, any query last."""
    path = op.path_parameters()
    if path:
        return "path", sorted(path, key=lambda p: (not _typed(p), str(p.get("name"))))[0]
    query = [p for p in op.parameters if p.get("in") == "query" and p.get("name")]
    if query:
        return "query", sorted(query, key=lambda p: (not _typed(p), str(p.get("name"))))[0]
    return None


@register
class ErrorHygiene(Check):
    key = "error_hygiene"
    title = "Malformed input gets a short 4xx with no internals"
    sends = (
        "one request with a malformed parameter to each of up to 8 safe operations, one to a path that "
        "does not exist; with intrusive checks allowed, a truncated JSON body to up to 4 write operations"
    )
    owasp = Owasp.API8
    severity = Severity.MEDIUM
    intrusive = False
    request_budget = 15

    def run(self, ctx: Context) -> list[Problem]:
        banners: dict[str, ScanResponse] = {}

        def inspect(response: ScanResponse, operation: str, typed: bool, what: str) -> None:
            for name in BANNER_HEADERS:
                value = response.headers.get(name, "")
                if value and name not in banners and (name in ALWAYS_BANNER or has_version(value)):
                    banners[name] = response
            status = response.status
            if status is None:
                return
            if status >= 500:
                ctx.problem(
                    detail="server_error",
                    operation=operation,
                    message=f"Expected a 4xx for {what}; got HTTP {status}.",
                    responses=[response],
                )
            elif 200 <= status < 300 and typed:
                ctx.problem(
                    detail="malformed_input_accepted",
                    operation=operation,
                    severity=Severity.LOW,
                    message=f"Expected a 4xx for {what}; got HTTP {status}.",
                    responses=[response],
                )
            elif 400 <= status < 500 and len(response.body) > VERBOSE_BYTES:
                ctx.problem(
                    detail="verbose_error_body",
                    operation=operation,
                    severity=Severity.LOW,
                    message=f"Expected a short error body for {what}; got {len(response.body)} bytes.",
                    responses=[response],
                )
            for kind, marker in leaks(excerpt(response)).items():
                ctx.problem(
                    detail=kind,
                    operation=operation,
                    message=f"Expected a generic error for {what}; the answer (HTTP {status}) shows "
                    f"{LEAK_WORDS[kind]} ({marker.strip()!r}).",
                    responses=[response],
                )

        for op in safe_operations(ctx.target, MAX_SAFE):
            chosen = _malformed_parameter(op)
            if chosen is None:
                response = call(ctx, op)
                inspect(response, op.key, False, "a request without its parameters")
                continue
            where, param = chosen
            name = str(param.get("name", ""))
            if where == "path":
                response = call(ctx, op, path_values={name: MALFORMED})
            else:
                response = call(ctx, op, query={name: MALFORMED})
            inspect(response, op.key, _typed(param), f"a malformed {where} parameter {name!r}")

        response = ctx.send("GET", NO_SUCH_ROUTE, identity=identity_for(ctx.target))
        inspect(response, "", False, "a path that does not exist")

        if ctx.target.intrusive_allowed:
            writes = sorted(
                (op for op in ctx.target.operations if op.method in ("POST", "PUT", "PATCH")),
                key=lambda op: (op.path, op.method),
            )[:MAX_WRITES]
            for op in writes:
                response = call(ctx, op, content=MALFORMED_BODY, headers={"Content-Type": "application/json"})
                inspect(response, op.key, True, "a truncated JSON body")

        for name, response in sorted(banners.items()):
            value = response.headers.get(name, "")
            ctx.problem(
                detail=f"version_header:{name}",
                severity=Severity.LOW,
                message=f"Expected no version in the {name} header; got {ctx.redactor.text(value)[:100]!r}.",
                responses=[response],
            )
        return ctx.problems
