"""Validation of uploaded OpenAPI documents: uploaders' regular expressions run on RE2, the rules beyond
the meta-schema, and messages that say where. No DB."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from inventory.engines import openapi_validation, user_regex
from inventory.engines.openapi import SpecError, parse_spec

EVIL_PATTERN = "^(a+)+$"
EVIL_INPUT = "a" * 34 + "!"


def _doc(minor: str = "0", *, schema: dict[str, Any] | None = None, **extra: Any) -> bytes:
    """A valid document with one GET whose query parameter ``q`` has ``schema``."""
    parameter = {"name": "q", "in": "query", "schema": schema or {"type": "string"}}
    doc: dict[str, Any] = {
        "openapi": f"3.{minor}.3" if minor == "0" else "3.1.0",
        "info": {"title": "T", "version": "1"},
        "paths": {"/a": {"get": {"parameters": [parameter], "responses": {"200": {"description": "ok"}}}}},
        **extra,
    }
    return json.dumps(doc).encode()


def _timed_parse(data: bytes) -> tuple[float, Any]:
    started = time.process_time()
    try:
        result: Any = parse_spec(data)
    except SpecError as exc:
        result = exc
    return time.process_time() - started, result


# --- The pattern attack ----------------------------------------------------------------------------------


@pytest.mark.parametrize("minor", ["0", "1"])
def test_the_redos_pattern_on_a_default_finishes_in_well_under_a_second(minor):
    schema = {"type": "string", "pattern": EVIL_PATTERN, "default": EVIL_INPUT}
    elapsed, result = _timed_parse(_doc(minor, schema=schema))
    assert elapsed < 1, f"{elapsed:.2f} s"
    # RE2 ran the pattern: the default does not match, and the message says where.
    assert isinstance(result, SpecError)
    assert str(result) == (
        "Invalid OpenAPI document at paths./a.get.parameters[0].schema.default: "
        f"{EVIL_INPUT!r} does not match {EVIL_PATTERN!r}"
    )


def test_the_redos_pattern_in_a_component_property_default_is_fast_too():
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "pattern": EVIL_PATTERN}},
        "default": {"name": EVIL_INPUT},
    }
    data = _doc(components={"schemas": {"Thing": schema}})
    elapsed, result = _timed_parse(data)
    assert elapsed < 1, f"{elapsed:.2f} s"
    assert "does not match" in str(result) and "components.schemas.Thing.default.name" in str(result)


def test_the_redos_pattern_in_pattern_properties_is_fast_and_still_applies():
    schema = {
        "type": "object",
        "patternProperties": {EVIL_PATTERN: {"type": "integer"}},
        "additionalProperties": False,
        "default": {EVIL_INPUT: 1},
    }
    elapsed, result = _timed_parse(_doc("1", schema=schema))
    assert elapsed < 1, f"{elapsed:.2f} s"
    # the key does not match the pattern, so it is an additional property, which is not allowed
    assert "Additional properties are not allowed" in str(result)

    matching = {**schema, "default": {"aaaa": "not an integer"}}
    assert "'not an integer' is not of type 'integer'" in str(_timed_parse(_doc("1", schema=matching))[1])
    assert parse_spec(_doc("1", schema={**schema, "default": {"aaaa": 7}})).title == "T"


def test_a_normal_pattern_still_validates_a_default():
    good = {"type": "string", "pattern": "^[a-z]+$", "default": "abc"}
    assert parse_spec(_doc(schema=good)).title == "T"
    with pytest.raises(SpecError, match=r"schema\.default: 'ABC' does not match '\^\[a-z\]\+\$'"):
        parse_spec(_doc(schema={**good, "default": "ABC"}))


@pytest.mark.parametrize("pattern", [r"^(a)\1$", "^(?=b)a$", "^(?<!x)a$"])
def test_a_pattern_re2_cannot_run_is_skipped_and_the_spec_accepted(pattern):
    schema = {"type": "string", "pattern": pattern, "default": "zzz"}  # would not match if it ran
    assert user_regex.compile(pattern) is None
    assert parse_spec(_doc(schema=schema)).title == "T"


def test_a_malformed_pattern_is_refused():
    with pytest.raises(SpecError, match=r"schema\.pattern: '\(' is not a 'regex'"):
        parse_spec(_doc(schema={"type": "string", "pattern": "("}))


def test_a_regex_format_default_is_checked_without_python_re():
    schema = {"type": "string", "format": "regex", "default": "("}
    with pytest.raises(SpecError, match=r"'\(' is not a 'regex'"):
        parse_spec(_doc(schema=schema))


def test_user_regex_is_linear_and_bounded():
    started = time.process_time()
    assert user_regex.search(EVIL_PATTERN, "a" * 100_000 + "!") is False
    assert user_regex.search("b+", "a" * 100_000 + "b") is True
    assert time.process_time() - started < 1
    assert user_regex.search(r"(a)\1", "aa") is None  # cannot run on RE2: no answer, not a guess
    assert user_regex.compile("a{1000}{1000}{1000}") is None  # over the memory bound
    assert user_regex.is_valid_syntax("(?=a)") and not user_regex.is_valid_syntax("(")


# --- The rules beyond the meta-schema ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {"tags": [{"name": "a"}, {"name": "a", "description": "again"}]},
            "Invalid OpenAPI document at tags[1].name: Duplicate tag name 'a'",
        ),
        (
            {
                "components": {
                    "schemas": {
                        "A": {"allOf": [{"properties": {"x": {}}}], "required": ["x", "y"]},
                    }
                }
            },
            "at components.schemas.A.required: Required list has not defined properties: ['y']",
        ),
        (
            {"components": {"schemas": {"A": {"type": "object", "default": None}}}},
            "at components.schemas.A.default: None for not nullable",
        ),
    ],
)
def test_rules_beyond_the_meta_schema(extra, expected):
    with pytest.raises(SpecError) as info:
        parse_spec(_doc(**extra))
    assert expected in str(info.value)


def test_a_nullable_null_default_is_fine():
    schema = {"type": "object", "nullable": True, "default": None}
    assert parse_spec(_doc(components={"schemas": {"A": schema}})).title == "T"


def test_duplicate_parameter_is_refused_where_it_is():
    doc = json.loads(_doc())
    doc["paths"]["/a"]["get"]["parameters"].append({"name": "q", "in": "query", "schema": {}})
    with pytest.raises(SpecError, match=r"at paths\./a\.get\.parameters\[1\]: Duplicate parameter 'q'"):
        parse_spec(json.dumps(doc).encode())


def test_a_31_schema_must_be_valid_json_schema():
    with pytest.raises(SpecError, match=r"paths\./a\.get\.parameters\[0\]\.schema\.type: 5 is not one of"):
        parse_spec(_doc("1", schema={"type": 5}))
    with pytest.raises(SpecError, match="Unknown JSON Schema dialect: 'urn:nope'"):
        parse_spec(_doc("1", schema={"$schema": "urn:nope", "type": "string"}))


def test_a_31_schema_may_refer_to_components():
    schema = {"$ref": "#/components/schemas/Name"}
    name = {"type": "string", "pattern": "^[a-z]+$"}
    components = {"schemas": {"Name": name, "Holder": {"properties": {"n": schema}, "default": {"n": "ok"}}}}
    assert parse_spec(_doc("1", schema=schema, components=components)).title == "T"
    components["schemas"]["Holder"]["default"] = {"n": "NO"}
    with pytest.raises(SpecError, match=r"components\.schemas\.Holder\.default\.n: 'NO' does not match"):
        parse_spec(_doc("1", schema=schema, components=components))


def test_messages_do_not_depend_on_the_validator_backend(monkeypatch):
    """openapi-spec-validator words errors differently when it picks jsonschema-rs; ours come from
    jsonschema with the same meta-schema either way."""
    bad = b"openapi: 3.0.3\ninfo: {title: T}\npaths: {}\n"
    expected = "Invalid OpenAPI document at info: 'version' is a required property"
    for backend in ("jsonschema", "jsonschema-rs"):
        monkeypatch.setenv("OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND", backend)
        with pytest.raises(SpecError) as info:
            parse_spec(bad)
        assert str(info.value) == expected


def test_validate_refuses_without_a_specerror_wrapper():
    with pytest.raises(openapi_validation.Invalid) as info:
        openapi_validation.validate({"openapi": "3.0.3", "info": {"title": "T"}, "paths": {}}, minor="0")
    assert info.value.where == ("info",)
