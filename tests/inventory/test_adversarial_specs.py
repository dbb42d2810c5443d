"""Adversarial OpenAPI uploads at the upload size limit: each is answered (accepted or refused with a
short message) in well under the time a worker may take. No DB.

The bound is generous (2 s) next to what these took before: the pattern attack never finished, a
valid 10 MB document took a minute of CPU. It is CPU time, the work the upload costs: on a
shared 2-core machine wall time also measures the neighbours.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from inventory.engines import user_regex, yaml_safe
from inventory.engines.openapi import SpecError, parse_spec

LIMIT = 10 * 1024 * 1024  # settings.PORTAL_UPLOAD_MAX_BYTES
BOUND = 2.0  # seconds of CPU
# YAML at its densest: PyYAML's libyaml binding costs about 2 µs per event (the Event and Mark objects
# it makes, measured on the shared 2-core machine); the loader's bound on values (yaml_safe.MAX_NODES)
# keeps the worst case at 1.5-3 s of CPU there, JSON's under 1 s.
YAML_BOUND = (
    8.0  # seconds of CPU: the densest YAML costs 1.5–4 s on a loaded 2-core machine; it was 30 s+ before
)
HEAD = b"openapi: 3.0.3\ninfo: {title: T, version: '1'}\n"
OK = {"200": {"description": "ok"}}


def _answer(data: bytes) -> tuple[float, Any]:
    """Seconds taken, and the parsed spec or the SpecError."""
    assert len(data) <= LIMIT, f"{len(data):,} bytes is over the upload limit"
    started = time.process_time()
    try:
        result: Any = parse_spec(data, max_bytes=LIMIT)
    except SpecError as exc:
        result = exc
    return time.process_time() - started, result


def _document(paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"openapi": "3.0.3", "info": {"title": "T", "version": "1"}, "paths": paths}
    if schemas is not None:
        doc["components"] = {"schemas": schemas}
    return doc


def _fill(doc: dict[str, Any], size: int = LIMIT - 1024) -> bytes:
    """``doc`` as JSON, padded with an ``x-padding`` extension to about ``size`` bytes."""
    base = json.dumps(doc)
    doc["x-padding"] = "p" * max(0, size - len(base) - 20)
    return json.dumps(doc).encode()


def _assert_refused(data: bytes, expected: str, bound: float = BOUND) -> None:
    elapsed, result = _answer(data)
    assert elapsed < bound, f"{elapsed:.2f} s"
    assert isinstance(result, SpecError), "accepted"
    assert expected in str(result) and len(str(result)) < 500


def _assert_accepted(data: bytes) -> Any:
    elapsed, result = _answer(data)
    assert elapsed < BOUND, f"{elapsed:.2f} s"
    assert not isinstance(result, SpecError), str(result)
    return result


# --- YAML alias bombs -------------------------------------------------------------------------------------


def test_a_billion_laughs_padded_to_the_limit():
    lines = [b'l0: &l0 "lol"']
    lines += [b"l%d: &l%d [%s]" % (i, i, b", ".join([b"*l%d" % (i - 1)] * 9)) for i in range(1, 10)]
    bomb = b"\n".join(lines) + b"\n"
    data = HEAD + b"paths: {}\n" + bomb + b"x-padding: " + b"p" * (LIMIT - len(bomb) - 200) + b"\n"
    _assert_refused(data, "alias bomb")


def test_ten_megabytes_of_aliases():
    data = b"a: &a x\nb: [" + b"*a, " * ((LIMIT - 40) // 4) + b"]\n"
    _assert_refused(data, "Too many YAML aliases")


def test_an_alias_bomb_of_wide_mappings():
    wide = b"{" + b", ".join(b"k%d: *b" % i for i in range(100)) + b"}"
    data = b"b: &b [" + b", ".join([b"x"] * 5000) + b"]\nc: " + wide + b"\n"
    _assert_refused(data, "expand to too much data")


# --- Nesting ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"[" * LIMIT, id="json-sequences"),
        pytest.param(b'{"a":' * (LIMIT // 5), id="json-mappings"),
        pytest.param(b"a: " + b"[" * (LIMIT - 3), id="yaml-flow-sequences"),
        pytest.param(b"a: " + b"{b: " * ((LIMIT - 3) // 4), id="yaml-flow-mappings"),
        pytest.param(
            b"".join(b" " * i + b"k:\n" for i in range(2000)) + b"x" * 100, id="yaml-block-mappings"
        ),
        pytest.param(b"".join(b" " * i + b"- \n" for i in range(2000)), id="yaml-block-sequences"),
    ],
)
def test_deep_nesting_at_the_limit_is_refused(data):
    _assert_refused(data[:LIMIT], "nested deeper than 64")


def test_deep_nesting_inside_a_valid_document_is_refused():
    nested: Any = {"type": "string"}
    for _ in range(70):
        nested = {"type": "object", "properties": {"n": nested}}
    _assert_refused(_fill(_document({}, {"Deep": nested})), "nested deeper than 64")


# --- $ref ---------------------------------------------------------------------------------------------------


def test_a_long_ref_chain_is_refused():
    schemas: dict[str, Any] = {f"S{i}": {"$ref": f"#/components/schemas/S{i + 1}"} for i in range(100_000)}
    schemas["S100000"] = {"type": "string"}
    paths = {"/a": {"get": {"responses": {"200": {"description": "ok", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/S0"}}}}}}}}  # fmt: skip
    _assert_refused(_fill(_document(paths, schemas)), "longer than 32 hops")


def test_a_long_chain_of_schemas_through_properties_is_accepted():
    """Not a $ref → $ref chain: each schema has a property pointing at the next (legitimate, and
    the walk must not recurse once per link)."""
    count = 20_000
    schemas = {
        f"S{i}": {"type": "object", "properties": {"next": {"$ref": f"#/components/schemas/S{i + 1}"}}}
        for i in range(count)
    }
    schemas[f"S{count}"] = {"type": "string", "default": "end"}
    paths = {"/a": {"get": {"responses": {"200": {"description": "ok", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/S0"}}}}}}}}  # fmt: skip
    _assert_accepted(_fill(_document(paths, schemas)))


def test_many_refs_to_one_big_component():
    big = {
        "type": "object",
        "properties": {f"p{i}": {"type": "string", "pattern": f"^v{i}$"} for i in range(5_000)},
        "default": {f"p{i}": f"v{i}" for i in range(5_000)},
    }
    ref = {"$ref": "#/components/schemas/Big"}
    parameter = {"name": "q", "in": "query", "schema": ref}
    operation = {"parameters": [parameter], "responses": {"200": {"description": "ok", "content": {
        "application/json": {"schema": ref}}}}}  # fmt: skip
    paths = {f"/r{i}": {"get": operation, "put": operation} for i in range(2_000)}
    data = json.dumps(_document(paths, {"Big": big})).encode()
    parsed = _assert_accepted(data)
    assert len(parsed.operations) == 4_000


# --- Long keys, strings and patterns ----------------------------------------------------------------------


def test_a_ten_megabyte_string():
    doc = HEAD + b"paths: {}\nx-description: "
    _assert_accepted(doc + b"x" * (LIMIT - len(doc) - 2) + b"\n")


def test_a_ten_megabyte_key():
    doc = _document({})
    doc["components"] = {"schemas": {"k" * (LIMIT - 300): {"type": "string"}}}
    # the meta-schema limits component names to [a-zA-Z0-9._-]+; a long valid one is still answered fast
    _assert_accepted(json.dumps(doc).encode())


def test_a_ten_megabyte_path_with_many_parameters():
    names = [f"p{i}" for i in range(50_000)]
    path = "/" + "".join("{" + n + "}" for n in names) + "x" * (LIMIT - 1_000_000)
    parameters = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names[:10]
    ]
    doc = _document({path: {"get": {"parameters": parameters, "responses": OK}}})
    _assert_refused(json.dumps(doc).encode(), "Path parameter 'p10' for 'get' operation in '/{p0}")


def test_the_pattern_attack_repeated_to_the_limit():
    """Thousands of catastrophic patterns, each with a default it must test."""
    schema = {"type": "string", "pattern": "^(a+)+$", "default": "a" * 34 + "!"}
    schemas = {f"S{i}": {**schema, "pattern": f"^(a+)+{'$' * (1 + i % 3)}"} for i in range(40_000)}
    _assert_refused(_fill(_document({}, schemas)), "does not match")


def test_megabytes_of_distinct_long_patterns_are_bounded_by_the_budget():
    # Patterns RE2 refuses (lookahead) are the slow kind for Python's parser; patterns it accepts
    # cost it linear time; either way compiling stops at user_regex.BUDGET_CHARS per document.
    schemas = {
        f"S{i}": {
            "type": "string",
            "pattern": f"(?=x){i}" + "(a|b)" * 400 if i % 2 else f"{i}" + "(a|b)" * 400,
        }
        for i in range(4_000)
    }
    _assert_accepted(_fill(_document({}, schemas)))


def test_the_regex_budget_resets_for_each_document():
    with user_regex.budget(chars=10):
        assert user_regex.compile("a" * 11) is None
    assert user_regex.compile("a" * 11) is not None


# --- An invalid document at the limit ----------------------------------------------------------------------


def test_an_invalid_ten_megabyte_document_is_described_fast():
    paths = {
        f"/r{i}": {"get": {"summary": "s" * 2_000, "responses": {"200": {"description": "ok"}}}}
        for i in range(4_000)
    }
    paths["/r3999"]["get"]["responses"] = {"200": {}}  # no description: invalid
    _assert_refused(_fill(_document(paths)), "Invalid OpenAPI document at paths./r3999.get.responses.200")


@pytest.mark.parametrize(
    ("data", "bound"),
    [
        pytest.param(b"a: [" + b"1," * ((LIMIT - 10) // 2) + b"1]\n", YAML_BOUND, id="yaml-flow"),
        pytest.param(b"a:\n" + b"- x\n" * ((LIMIT - 10) // 4), YAML_BOUND, id="yaml-block"),
        pytest.param(b'{"a": [' + b"1," * ((LIMIT - 20) // 2) + b"1]}", BOUND, id="json-numbers"),
        pytest.param(b'{"a": [' + b"{}," * ((LIMIT - 20) // 3) + b"{}]}", BOUND, id="json-objects"),
    ],
)
def test_ten_megabytes_of_tiny_values_are_refused(data, bound):
    _assert_refused(data, "too many values", bound)


def test_the_yaml_loader_alone_at_the_limit():
    """The densest YAML the loader accepts: just under its bound on values."""
    line = b"k%d: {a: [1, 2.5, true, null, 'q', x]}\n"
    data = b"".join(line % i for i in range(yaml_safe.MAX_NODES // 10 - 1))
    started = time.process_time()
    loaded = yaml_safe.load_safely(data, max_bytes=LIMIT)
    assert time.process_time() - started < YAML_BOUND
    assert (
        loaded["k0"] == {"a": [1, 2.5, True, None, "q", "x"]} and len(loaded) == yaml_safe.MAX_NODES // 10 - 1
    )


# --- Defaults: checked within a budget -------------------------------------------------------------------


def _fan_out(width: int, depth: int, default: Any) -> dict[str, Any]:
    """S0 … S(depth-1) each anyOf ``width`` refs to the next: a 3 KB DAG a naive check walks as a
    tree of width**depth schemas."""
    schemas: dict[str, Any] = {
        f"S{i}": {"anyOf": [{"$ref": f"#/components/schemas/S{i + 1}"}] * width} for i in range(depth)
    }
    schemas[f"S{depth}"] = {"type": "string"}
    schemas["S0"]["default"] = default
    return _document({}, schemas)


def test_a_default_under_fanned_out_shared_refs_is_bounded():
    """10 refs × 8 levels: 10⁸ evaluations unbounded (20 s from 2 KB at 8 × 6). The check stops at
    the document's budget and the spec is accepted, as for a pattern RE2 cannot run."""
    _assert_accepted(json.dumps(_fan_out(10, 8, 1)).encode())


def test_a_default_is_still_checked_within_the_budget():
    _assert_refused(json.dumps(_fan_out(2, 3, 1)).encode(), "is not of type 'string'")


def test_a_huge_mixed_unique_items_default_is_not_checked_pairwise():
    """jsonschema compares the items of a mixed list pairwise: 8,000 of them took 33 s."""
    schema = {"type": "array", "uniqueItems": True, "default": ["x", *range(8000)]}
    _assert_accepted(json.dumps(_document({}, {"S": schema})).encode())


def test_a_path_longer_than_what_is_stored_is_refused_not_truncated():
    """Two paths sharing their first 500 characters were truncated to one key: a 500 on upload."""
    long = "/" + "a" * 520
    doc = _document({long + "/x": {"get": {"responses": {"200": {"description": "ok"}}}}})
    _assert_refused(json.dumps(doc).encode(), "longer than 500 characters")
    doc = _document({"/" + "a" * 499: {"get": {"responses": {"200": {"description": "ok"}}}}})
    _assert_accepted(json.dumps(doc).encode())
