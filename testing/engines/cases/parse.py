"""``parse_cases(text)``: owners' YAML into validated ``Case`` values, or a ``CaseError`` with a line.

Everything that can be judged before a request is sent is judged here: the shape (unknown keys are
named and refused), the bounds, methods and statuses, JSONPaths (the safe subset), JSON Schemas
(compiled with jsonschema_rs's linear regex engine and no remote ``$ref``), placeholders, and a
variable used before any earlier step captures it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import jsonschema_rs

from testing.engines.cases import templates
from testing.engines.cases.jsonpath import JsonPath, PathError, compile_path
from testing.engines.cases.loader import CaseError, Marked, MarkedList, load, short
from testing.engines.cases.model import (
    METHODS,
    Capture,
    Case,
    Expect,
    HeaderExpectation,
    Request,
    Step,
    ValueExpectation,
)

MAX_CASES = 50
MAX_STEPS = 30
MAX_NAME = 100
MAX_PATH = 2048
MAX_HEADERS = 50
MAX_HEADER_NAME = 128
MAX_HEADER_VALUE = 8192
MAX_QUERY = 50
MAX_QUERY_VALUE = 4096
MAX_TEXT_BODY = 64 * 1024
MAX_JSON_DEPTH = 20
MAX_CAPTURES_PER_STEP = 20
MAX_VARIABLES = 50  # distinct captured names in one case
MAX_VALUE_EXPECTATIONS = 50
MAX_STATUSES = 20
MAX_LATENCY_MS = 300_000
MAX_SCHEMA_CHARS = 64 * 1024
REGEX_SIZE_LIMIT = 1 << 20  # bytes of a compiled `pattern`; the engine is linear (no backtracking)

CASE_KEYS = ("name", "steps")
STEP_KEYS = ("name", "request", "capture", "expect")
REQUEST_KEYS = ("method", "path", "headers", "query", "json", "text", "identity")
EXPECT_KEYS = ("status", "headers", "schema", "jsonpath", "max_latency_ms")
HEADER_MATCH_KEYS = ("equals", "contains")
CAPTURE_KEYS = ("header",)
# Headers the client computes itself, or that would change where a request goes.
FORBIDDEN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "upgrade"})
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def parse_cases(text: str) -> list[Case]:
    """Every case of a YAML stream. A document is one case (``name`` and ``steps``), a list of cases,
    or a mapping with a ``cases`` list; several documents may be separated by ``---``."""
    if not isinstance(text, str):
        raise CaseError("the cases must be text")
    raw: list[tuple[Any, int]] = []
    for doc in load(text):
        if doc is None:
            continue
        if isinstance(doc, Marked) and "cases" in doc:
            _keys(doc, ("cases",), "the document")
            items = doc["cases"]
            if not isinstance(items, MarkedList):
                raise CaseError("'cases' must be a list of cases", doc.lines["cases"])
            raw += zip(items, items.lines, strict=True)
        elif isinstance(doc, MarkedList):
            raw += zip(doc, doc.lines, strict=True)
        elif isinstance(doc, Marked):
            raw.append((doc, doc.line))
        else:
            raise CaseError("a document must be a case, a list of cases, or a mapping with 'cases'", 1)
    if not raw:
        raise CaseError("the document holds no case")
    if len(raw) > MAX_CASES:
        raise CaseError(f"more than {MAX_CASES} cases", raw[MAX_CASES][1])
    cases: list[Case] = []
    seen: set[str] = set()
    for value, line in raw:
        case = _case(value, line)
        if case.name in seen:
            raise CaseError(f"two cases are named {short(case.name)!r}", case.line)
        seen.add(case.name)
        cases.append(case)
    return cases


# shape helpers ---------------------------------------------------------------------------------------


def _mapping(value: Any, line: int, what: str) -> Marked:
    if not isinstance(value, Marked):
        raise CaseError(f"{what} must be a mapping", line)
    return value


def _list(value: Any, line: int, what: str) -> MarkedList:
    if not isinstance(value, MarkedList):
        raise CaseError(f"{what} must be a list", line)
    return value


def _keys(mapping: Marked, allowed: Iterable[str], what: str, required: Iterable[str] = ()) -> None:
    allowed = tuple(allowed)
    for key in mapping:
        if key not in allowed:
            raise CaseError(
                f"unknown key {short(key, 40)!r} in {what} (allowed: {', '.join(allowed)})",
                mapping.lines[key],
            )
    for key in required:
        if key not in mapping:
            raise CaseError(f"{what} needs '{key}'", mapping.line)


def _text(value: Any, line: int, what: str, limit: int, *, scalars: bool = False) -> str:
    if scalars and isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    elif scalars and isinstance(value, bool):
        value = "true" if value else "false"
    if not isinstance(value, str):
        raise CaseError(f"{what} must be text", line)
    if len(value) > limit:
        raise CaseError(f"{what} is longer than {limit} characters", line)
    return value


def _name(value: Any, line: int, what: str) -> str:
    name = _text(value, line, what, MAX_NAME, scalars=True).strip()
    if not name:
        raise CaseError(f"{what} is empty", line)
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise CaseError(f"{what} contains control characters", line)
    return name


def _jsonpath(value: Any, line: int, what: str) -> JsonPath:
    if not isinstance(value, str):
        raise CaseError(f"{what} must be a JSONPath (text starting with $)", line)
    try:
        return compile_path(value)
    except PathError as exc:
        raise CaseError(f"{what}: {exc}", line) from None


def _placeholders(text: str, line: int, what: str, known: set[str]) -> None:
    """Placeholders are well formed, and variables were captured by an earlier step."""
    try:
        found = templates.names(text)
    except templates.TemplateError as exc:
        raise CaseError(f"{what}: {exc}", line) from None
    for name in found:
        if not name.startswith(templates.SECRETS) and name not in known:
            raise CaseError(f"{what} uses {{{{ {name} }}}} before any earlier step captures it", line)


def _plain(value: Any, line: int, what: str, known: set[str] | None, depth: int = 0) -> Any:
    """A JSON value without marks: text keys, finite numbers, bounded depth; placeholders checked
    in strings when ``known`` is given."""
    if depth > MAX_JSON_DEPTH:
        raise CaseError(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels", line)
    if isinstance(value, Marked):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CaseError(f"{what}: keys must be text, not {short(key, 20)!r}", value.lines[key])
            out[key] = _plain(item, value.lines[key], what, known, depth + 1)
        return out
    if isinstance(value, MarkedList):
        return [_plain(item, at, what, known, depth + 1) for item, at in zip(value, value.lines, strict=True)]
    if isinstance(value, float) and not math.isfinite(value):
        raise CaseError(f"{what}: numbers must be finite", line)
    if isinstance(value, str) and known is not None:
        _placeholders(value, line, what, known)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise CaseError(f"{what}: unsupported value {short(value, 20)!r}", line)  # pragma: no cover


# the parts of a case ---------------------------------------------------------------------------------


def _case(value: Any, line: int) -> Case:
    case = _mapping(value, line, "a case")
    _keys(case, CASE_KEYS, "a case", required=CASE_KEYS)
    name = _name(case["name"], case.lines["name"], "the case name")
    steps_raw = _list(case["steps"], case.lines["steps"], "'steps'")
    if not steps_raw:
        raise CaseError(f"case {short(name)!r} has no steps", case.lines["steps"])
    if len(steps_raw) > MAX_STEPS:
        raise CaseError(f"case {short(name)!r} has more than {MAX_STEPS} steps", steps_raw.lines[MAX_STEPS])
    known: set[str] = set()
    steps = []
    for index, (item, at) in enumerate(zip(steps_raw, steps_raw.lines, strict=True), start=1):
        step = _step(item, at, index, known)
        known.update(c.name for c in step.captures)
        if len(known) > MAX_VARIABLES:
            raise CaseError(f"case {short(name)!r} captures more than {MAX_VARIABLES} variables", at)
        steps.append(step)
    return Case(name=name, line=case.line, steps=tuple(steps))


def _step(value: Any, line: int, index: int, known: set[str]) -> Step:
    step = _mapping(value, line, f"step {index}")
    _keys(step, STEP_KEYS, f"step {index}", required=("request",))
    name = _name(step["name"], step.lines["name"], "the step name") if "name" in step else f"step {index}"
    request = _request(step["request"], step.lines["request"], known)
    captures = _captures(step["capture"], step.lines["capture"]) if "capture" in step else ()
    expect = _expect(step["expect"], step.lines["expect"]) if "expect" in step else Expect()
    return Step(index=index, name=name, line=step.line, request=request, captures=captures, expect=expect)


def _request(value: Any, line: int, known: set[str]) -> Request:
    request = _mapping(value, line, "'request'")
    _keys(request, REQUEST_KEYS, "'request'", required=("method", "path"))
    lines = request.lines
    method = _text(request["method"], lines["method"], "the method", 10).upper()
    if method not in METHODS:
        raise CaseError(f"method {short(method, 10)!r} is not one of {', '.join(METHODS)}", lines["method"])
    path = _text(request["path"], lines["path"], "the path", MAX_PATH)
    if not path.startswith("/") or path.startswith("//") or "://" in path or "\\" in path:
        raise CaseError("the path must be relative to the API's base URL and start with '/'", lines["path"])
    if any(c in path for c in "\r\n\t#"):
        raise CaseError("the path contains a line break, a tab or '#'", lines["path"])
    _placeholders(path, lines["path"], "the path", known)
    headers = _headers(request["headers"], lines["headers"], known) if "headers" in request else ()
    query = _query(request["query"], lines["query"], known) if "query" in request else ()
    if "json" in request and "text" in request:
        raise CaseError("a request has a 'json' body or a 'text' body, not both", lines["text"])
    body = _plain(request["json"], lines["json"], "the json body", known) if "json" in request else None
    text = None
    if "text" in request:
        text = _text(request["text"], lines["text"], "the text body", MAX_TEXT_BODY)
        _placeholders(text, lines["text"], "the text body", known)
    identity = ""
    if "identity" in request:
        identity = _name(request["identity"], lines["identity"], "the identity")
    return Request(
        method=method,
        path=path,
        headers=headers,
        query=query,
        json=body,
        has_json="json" in request,
        text=text,
        identity=identity,
    )


def _header_name(value: Any, line: int) -> str:
    name = _text(value, line, "a header name", MAX_HEADER_NAME)
    if not name or not set(name) <= _TOKEN_CHARS:
        raise CaseError(f"{short(name, 40)!r} is not a valid header name", line)
    return name


def _header_value(value: Any, line: int, what: str) -> str:
    text = _text(value, line, what, MAX_HEADER_VALUE, scalars=True)
    if any(c in text for c in "\r\n\x00"):
        raise CaseError(f"{what} contains a line break", line)
    return text


def _headers(value: Any, line: int, known: set[str]) -> tuple[tuple[str, str], ...]:
    headers = _mapping(value, line, "'headers'")
    if len(headers) > MAX_HEADERS:
        raise CaseError(f"more than {MAX_HEADERS} headers", line)
    out = []
    for key, item in headers.items():
        at = headers.lines[key]
        name = _header_name(key, at)
        if name.lower() in FORBIDDEN_HEADERS:
            raise CaseError(f"the {name} header is set by the scanner, not by a case", at)
        text = _header_value(item, at, f"header {name}")
        _placeholders(text, at, f"header {name}", known)
        out.append((name, text))
    return tuple(out)


def _query(value: Any, line: int, known: set[str]) -> tuple[tuple[str, str], ...]:
    query = _mapping(value, line, "'query'")
    if len(query) > MAX_QUERY:
        raise CaseError(f"more than {MAX_QUERY} query parameters", line)
    out = []
    for key, item in query.items():
        at = query.lines[key]
        name = _text(key, at, "a query parameter name", MAX_HEADER_NAME, scalars=True)
        text = _text(item, at, f"query parameter {short(name, 40)}", MAX_QUERY_VALUE, scalars=True)
        _placeholders(text, at, f"query parameter {short(name, 40)}", known)
        out.append((name, text))
    return tuple(out)


def _captures(value: Any, line: int) -> tuple[Capture, ...]:
    captures = _mapping(value, line, "'capture'")
    if len(captures) > MAX_CAPTURES_PER_STEP:
        raise CaseError(f"more than {MAX_CAPTURES_PER_STEP} captures in one step", line)
    out = []
    for key, item in captures.items():
        at = captures.lines[key]
        if not isinstance(key, str) or not templates.valid_variable(key) or key == "secrets":
            raise CaseError(
                f"{short(key, 40)!r} cannot be a variable name (letters, digits and _; not 'secrets')", at
            )
        if isinstance(item, Marked):
            _keys(item, CAPTURE_KEYS, f"capture {key}", required=CAPTURE_KEYS)
            out.append(Capture(name=key, header=_header_name(item["header"], item.lines["header"])))
        else:
            out.append(Capture(name=key, path=_jsonpath(item, at, f"capture {key}")))
    return tuple(out)


def _expect(value: Any, line: int) -> Expect:
    expect = _mapping(value, line, "'expect'")
    _keys(expect, EXPECT_KEYS, "'expect'")
    lines = expect.lines
    status: tuple[int, ...] = ()
    if "status" in expect:
        status = _statuses(expect["status"], lines["status"])
    headers: tuple[HeaderExpectation, ...] = ()
    if "headers" in expect:
        headers = _header_expectations(expect["headers"], lines["headers"])
    schema, validator = None, None
    if "schema" in expect:
        schema, validator = _schema(expect["schema"], lines["schema"])
    values: tuple[ValueExpectation, ...] = ()
    if "jsonpath" in expect:
        values = _value_expectations(expect["jsonpath"], lines["jsonpath"])
    latency = None
    if "max_latency_ms" in expect:
        latency = expect["max_latency_ms"]
        if not isinstance(latency, int) or isinstance(latency, bool) or not 0 < latency <= MAX_LATENCY_MS:
            raise CaseError(
                f"max_latency_ms must be a whole number from 1 to {MAX_LATENCY_MS}", lines["max_latency_ms"]
            )
    return Expect(
        status=status,
        headers=headers,
        schema=schema,
        values=values,
        max_latency_ms=latency,
        validator=validator,
    )


def _statuses(value: Any, line: int) -> tuple[int, ...]:
    items = list(zip(value, value.lines, strict=True)) if isinstance(value, MarkedList) else [(value, line)]
    if not items or len(items) > MAX_STATUSES:
        raise CaseError(f"status is one code or a list of 1 to {MAX_STATUSES} codes", line)
    out = []
    for item, at in items:
        if not isinstance(item, int) or isinstance(item, bool) or not 100 <= item <= 599:
            raise CaseError(f"status {short(item, 20)!r} is not an HTTP status from 100 to 599", at)
        out.append(item)
    return tuple(out)


def _header_expectations(value: Any, line: int) -> tuple[HeaderExpectation, ...]:
    headers = _mapping(value, line, "expect 'headers'")
    if len(headers) > MAX_HEADERS:
        raise CaseError(f"more than {MAX_HEADERS} header expectations", line)
    out = []
    for key, item in headers.items():
        at = headers.lines[key]
        name = _header_name(key, at)
        if isinstance(item, Marked):
            _keys(item, HEADER_MATCH_KEYS, f"expected header {name}")
            if len(item) != 1:
                raise CaseError(f"expected header {name} takes one of 'equals' or 'contains'", at)
            (how,) = item
            expected = _header_value(item[how], item.lines[how], f"expected header {name}")
            out.append(HeaderExpectation(name, expected, contains=how == "contains"))
        else:
            out.append(HeaderExpectation(name, _header_value(item, at, f"expected header {name}")))
    return tuple(out)


def _value_expectations(value: Any, line: int) -> tuple[ValueExpectation, ...]:
    paths = _mapping(value, line, "expect 'jsonpath'")
    if len(paths) > MAX_VALUE_EXPECTATIONS:
        raise CaseError(f"more than {MAX_VALUE_EXPECTATIONS} JSONPath expectations", line)
    out = []
    for key, item in paths.items():
        at = paths.lines[key]
        path = _jsonpath(key, at, "expect jsonpath")
        out.append(ValueExpectation(path, _plain(item, at, f"the value expected at {short(key, 40)}", None)))
    return tuple(out)


def _schema(value: Any, line: int) -> tuple[Any, Any]:
    if not isinstance(value, Marked | bool):
        raise CaseError("expect 'schema' must be a JSON Schema (a mapping)", line)
    schema = _plain(value, line, "the schema", None)
    if len(repr(schema)) > MAX_SCHEMA_CHARS:
        raise CaseError(f"the schema is larger than {MAX_SCHEMA_CHARS} characters", line)
    if _has_reference(schema):
        # References let a small schema make validation exponential (anyOf branches that refer to
        # each other); a case's schema is written out in full instead.
        raise CaseError("a case's schema may not use $ref or $dynamicRef: write it out in full", line)
    try:
        validator = compile_schema(schema)
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CaseError(f"the schema is not a valid JSON Schema: {short(first, 160)}", line) from None
    return schema, validator


def _has_reference(schema: Any) -> bool:
    """Whether any mapping in ``schema`` (already bounded in size) has a reference keyword."""
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if {"$ref", "$dynamicRef", "$recursiveRef"} & node.keys():
                return True
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return False


def compile_schema(schema: Any) -> Any:
    """A validator for ``schema``: drafts detected from ``$schema`` (2020-12 by default), ``pattern``
    and ``patternProperties`` on the linear regex engine (no lookaround, no backreferences, so no
    catastrophic backtracking), no ``$ref`` fetched from the network, formats not asserted."""
    return jsonschema_rs.validator_for(
        schema,
        pattern_options=jsonschema_rs.RegexOptions(
            size_limit=REGEX_SIZE_LIMIT, dfa_size_limit=REGEX_SIZE_LIMIT
        ),
        offline=True,
    )
