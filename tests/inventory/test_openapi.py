"""The OpenAPI engine: safe loading of untrusted documents, operations, diffs and path matching. No DB."""

from __future__ import annotations

import copy
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.engines import openapi, openapi_validation
from inventory.engines.openapi import (
    ParsedOperation,
    SpecError,
    diff_operations,
    parse_spec,
)

PETSTORE_30_YAML = b"""\
openapi: 3.0.3
info:
  title: Petstore
  version: "1.0.0"
servers:
  - url: https://api.example.com/v1
security:
  - bearerAuth: []
paths:
  /pets:
    get:
      operationId: listPets
      summary: List all pets
      security: []
      parameters:
        - $ref: '#/components/parameters/Limit'
        - name: tag
          in: query
          schema:
            type: string
      responses:
        '200':
          description: A paged array of pets
          content:
            application/json:
              schema:
                type: array
                items:
                  $ref: '#/components/schemas/Pet'
        default:
          $ref: '#/components/responses/Error'
    post:
      operationId: createPet
      summary: Create a pet
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Pet'
      responses:
        '201':
          description: Created
        4XX:
          $ref: '#/components/responses/Error'
  /pets/{petId}:
    parameters:
      - name: petId
        in: path
        required: true
        schema:
          type: string
      - name: X-Request-Id
        in: header
        schema:
          type: string
    get:
      operationId: showPetById
      responses:
        200:
          description: The pet
        '404':
          $ref: '#/components/responses/NotFound'
    delete:
      operationId: deletePet
      deprecated: true
      security:
        - bearerAuth: []
        - {}
      parameters:
        - name: petId
          in: path
          required: true
          schema:
            type: integer
      responses:
        '204':
          description: Deleted
components:
  securitySchemes:
    bearerAuth:
      type: http
      scheme: bearer
  parameters:
    Limit:
      name: limit
      in: query
      required: false
      schema:
        $ref: '#/components/schemas/Limit'
  responses:
    Error:
      description: Unexpected error
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/Error'
    NotFound:
      description: No such pet
  schemas:
    Limit:
      type: integer
      maximum: 100
    Pet:
      type: object
      required: [id, name]
      properties:
        id: {type: integer, format: int64}
        name: {type: string}
        parent:
          $ref: '#/components/schemas/Pet'
    Error:
      type: object
      properties:
        code: {type: integer}
        message: {type: string}
"""

PETSTORE_31 = {
    "openapi": "3.1.0",
    "info": {"title": "Petstore 3.1", "version": "2.0.0"},
    "security": [{"apiKey": []}],
    "paths": {
        "/pets": {
            "get": {
                "operationId": "listPets",
                "summary": "x" * 800,
                "parameters": [{"name": "cursor", "in": "query", "schema": {"type": ["string", "null"]}}],
                "responses": {"200": {"description": "Pets"}},
            }
        },
        "/health": {"$ref": "#/components/pathItems/Health"},
        "x-internal": {"note": "extensions are not paths"},
    },
    "webhooks": {},
    "components": {
        "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        "pathItems": {
            "Health": {
                "get": {
                    "operationId": "health",
                    "security": [],
                    "responses": {
                        "200": {"$ref": "#/components/responses/Ok", "description": "Healthy (overridden)"}
                    },
                }
            }
        },
        "responses": {"Ok": {"description": "OK"}},
    },
}


def _json(doc: dict) -> bytes:
    return json.dumps(doc).encode()


def _by_key(parsed) -> dict[tuple[str, str], ParsedOperation]:
    return {(o.method, o.path): o for o in parsed.operations}


# --- Happy paths -----------------------------------------------------------------------------------------


def test_parses_openapi_30_yaml_petstore() -> None:
    parsed = parse_spec(PETSTORE_30_YAML)

    assert (parsed.format, parsed.openapi_version, parsed.title, parsed.info_version) == (
        "yaml",
        "3.0.3",
        "Petstore",
        "1.0.0",
    )
    assert parsed.document["info"]["title"] == "Petstore"
    ops = _by_key(parsed)
    assert list(ops) == [
        ("GET", "/pets"),
        ("POST", "/pets"),
        ("GET", "/pets/{petId}"),
        ("DELETE", "/pets/{petId}"),
    ]

    list_pets = ops["GET", "/pets"]
    assert list_pets.operation_id == "listPets"
    assert list_pets.summary == "List all pets"
    assert list_pets.auth_required is False  # security: [] → public
    assert list_pets.deprecated is False
    assert list_pets.parameters == [
        {"name": "limit", "in": "query", "required": False, "schema_type": "integer"},  # $ref → $ref'd schema
        {"name": "tag", "in": "query", "required": False, "schema_type": "string"},
    ]
    assert list_pets.responses == {"200": "A paged array of pets", "default": "Unexpected error"}

    create = ops["POST", "/pets"]
    assert create.auth_required is True  # global security
    assert create.responses == {"201": "Created", "4XX": "Unexpected error"}

    show = ops["GET", "/pets/{petId}"]
    assert show.auth_required is True
    assert show.responses == {"200": "The pet", "404": "No such pet"}  # unquoted 200 in YAML → "200"
    assert show.parameters == [
        {"name": "petId", "in": "path", "required": True, "schema_type": "string"},
        {"name": "X-Request-Id", "in": "header", "required": False, "schema_type": "string"},
    ]

    delete = ops["DELETE", "/pets/{petId}"]
    assert delete.deprecated is True
    assert delete.auth_required is False  # an empty requirement {} makes auth optional
    assert delete.parameters[0] == {"name": "petId", "in": "path", "required": True, "schema_type": "integer"}
    assert len(delete.parameters) == 2  # op-level petId overrides the path-level one, header kept


def test_parses_openapi_31_json() -> None:
    parsed = parse_spec(_json(PETSTORE_31))

    assert (parsed.format, parsed.openapi_version, parsed.title, parsed.info_version) == (
        "json",
        "3.1.0",
        "Petstore 3.1",
        "2.0.0",
    )
    ops = _by_key(parsed)
    assert list(ops) == [("GET", "/pets"), ("GET", "/health")]
    pets = ops["GET", "/pets"]
    assert pets.auth_required is True
    assert len(pets.summary) == 500
    assert pets.parameters == [
        {"name": "cursor", "in": "query", "required": False, "schema_type": "string|null"}
    ]
    health = ops["GET", "/health"]  # path item $ref resolved
    assert health.auth_required is False
    assert health.responses == {"200": "Healthy (overridden)"}


def test_no_security_anywhere_means_no_auth_and_bom_is_accepted() -> None:
    doc = b"\xef\xbb\xbfopenapi: 3.0.3\ninfo: {title: T, version: 2024-01-01}\npaths:\n  /a:\n    get:\n      responses: {'200': {description: ok}}\n"
    parsed = parse_spec(doc)
    assert parsed.info_version == "2024-01-01"  # timestamps are not turned into dates
    assert parsed.operations[0].auth_required is False
    assert parsed.operations[0].operation_id == ""
    json.dumps(parsed.document)  # plain JSON data, storable as is


def test_small_alias_use_is_fine() -> None:
    doc = b"""openapi: 3.0.3
info: {title: T, version: '1'}
paths:
  /a:
    get:
      responses: &ok {'200': {description: ok}}
  /b:
    get:
      responses: *ok
"""
    assert [o.responses for o in parse_spec(doc).operations] == [{"200": "ok"}, {"200": "ok"}]


def test_long_response_description_truncated() -> None:
    doc = copy.deepcopy(PETSTORE_31)
    doc["paths"]["/pets"]["get"]["responses"]["200"]["description"] = "d" * 2000
    assert len(parse_spec(_json(doc)).operations[0].responses["200"]) == 500


# --- Bad input -------------------------------------------------------------------------------------------

MINIMAL_HEAD = b"openapi: 3.0.3\ninfo: {title: T, version: '1'}\n"


def _nested_yaml(levels: int) -> bytes:
    return b"".join(b"  " * i + b"k:\n" for i in range(levels)) + b"  " * levels + b"v\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b"  \n\t\n", "empty"),
        (b"# only a comment\n", "empty"),
        (b"openapi: \xff\xfe\n", "not UTF-8"),
        ("openapi: 3.0.3".encode("utf-16"), "not UTF-8"),
        (b'{"openapi": "3.0.3",\n "info": }', "Malformed JSON at line 2, column 10"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": 1, "a": 2}', "duplicate key"),
        (b"a: [1, 2\nb: 3\n", "Malformed YAML at line 2"),
        (b"a: 1\na: 2\n", "Duplicate key 'a' (line 2)"),
        (b"[1, 2]", "must be a mapping (got a list)"),
        (b"- a\n- b\n", "must be a mapping (got a list)"),
        (b"just some text", "must be a mapping (got text)"),
        (b"42", "must be a mapping"),
        (
            b'swagger: "2.0"\ninfo: {title: T, version: "1"}\npaths: {}\n',
            "Swagger 2.0 is not supported; convert it",
        ),
        (b'{"swagger": "2.0", "paths": {}}', "Swagger 2.0 is not supported"),
        (b"info: {title: T, version: '1'}\npaths: {}\n", "'openapi' field is missing"),
        (b"openapi: 3.0\ninfo: {title: T, version: '1'}\n", "quote it in YAML"),
        (b"openapi: '3.2.0'\ninfo: {title: T, version: '1'}\n", "'3.2.0' is not supported"),
        (b"openapi: '2.0'\ninfo: {title: T, version: '1'}\n", "not supported"),
        (b"a: !!python/object/apply:os.system ['echo hi']\n", "Unsupported YAML tag (line 1)"),
        (b"a: !!python/name:os.system ''\n", "Unsupported YAML tag"),
        (b"a: !custom 1\n", "Unsupported YAML tag"),
        (b"a: !!binary aGVsbG8=\n", "Unsupported value of type bytes"),
        (b"a: 1\n---\nb: 2\n", "several YAML documents"),
        (b"a: &x [*x]\n", "refers to a node containing it"),
        (b"a: *nope\n", "undefined alias"),
        (b"[" * 5000, "nested deeper than 64"),
        (b'{"a":' * 100 + b"1" + b"}" * 100, "nested deeper than 64"),
        (b"a: " + b"[" * 200, "nested deeper than 64"),
        (_nested_yaml(80), "nested deeper than 64"),
        (b'{"a": "nul\\u0000"}', "NUL"),
        (b"1.5: a\n", "Unsupported mapping key 1.5 (keys must be text) at (document root)"),
        (b"{openapi: 3.0.3, info: {title: T, version: '1'}}", "'paths' is a required property"),
        (MINIMAL_HEAD + b"paths: {/a: {get: {responses: {'200': {}}}}}\n", "at paths./a.get.responses.200:"),
        (MINIMAL_HEAD + b"paths: {/a: {get: {}}}\n", "'responses' is a required property"),
        (
            b"openapi: 3.1.0\ninfo: {title: T, version: '1'}\n",
            "one of 'paths', 'components', 'webhooks' is required",
        ),
        (b"openapi: 3.0.3\ninfo: {title: T}\npaths: {}\n", "at info: 'version' is a required property"),
        (
            MINIMAL_HEAD + b"paths: {/a: {get: {operationId: x, responses: {'200': {description: ok}}}},"
            b" /b: {get: {operationId: x, responses: {'200': {description: ok}}}}}\n",
            "Operation ID 'x'",
        ),
        (
            MINIMAL_HEAD + b"paths: {'/a/{id}': {get: {responses: {'200': {description: ok}}}}}\n",
            "Path parameter 'id'",
        ),
        (
            MINIMAL_HEAD
            + b"paths: {/a: {get: {responses: {'200': {$ref: '#/components/responses/Gone'}}}}}\n",
            "'#/components/responses/Gone' at paths./a.get.responses.200 points to nothing",
        ),
        (
            MINIMAL_HEAD + b"paths: {/a: {get: {responses: {'200': {$ref: '#anchor'}}}}}\n",
            "not a JSON pointer",
        ),
    ],
)
def test_bad_input_is_a_short_spec_error(data: bytes, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(data)
    message = str(info.value)
    assert expected in message
    assert len(message) < 500
    assert "Traceback" not in message


def test_too_large_is_checked_before_decoding() -> None:
    with pytest.raises(SpecError, match=r"too large \(11 bytes; the limit is 10\)"):
        parse_spec(b"\xff" * 11, max_bytes=10)
    with pytest.raises(SpecError, match="too large"):
        parse_spec(_json(PETSTORE_31), max_bytes=100)


def test_validation_message_is_truncated() -> None:
    doc = copy.deepcopy(PETSTORE_31)
    doc["paths"]["/pets"]["get"]["parameters"][0]["in"] = "q" * 2000
    with pytest.raises(SpecError) as info:
        parse_spec(_json(doc))
    assert str(info.value).startswith("Invalid OpenAPI document at paths./pets.get.parameters[0]")
    assert len(str(info.value)) < 450


@pytest.mark.parametrize(
    "ref",
    [
        "https://evil.example/x.yaml",
        "other.yaml#/A",
        "file:///etc/passwd",
        "//evil.example/x",
        "../secrets.json",
    ],
)
def test_external_refs_refused_before_validation(ref: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_validator(*args, **kwargs):
        raise AssertionError("the validator must not run")

    monkeypatch.setattr(openapi_validation, "validate", no_validator)
    monkeypatch.setattr(openapi_validation, "_meta_validators", no_validator)
    doc = copy.deepcopy(PETSTORE_31)
    doc["paths"]["/pets"]["get"]["responses"]["200"] = {"$ref": ref}
    with pytest.raises(SpecError) as info:
        parse_spec(_json(doc))
    assert str(info.value) == (
        f"External $ref '{ref}' at paths./pets.get.responses.200 refused: the portal does not fetch files or URLs."
    )


def test_external_ref_inside_literal_data_is_refused_too() -> None:
    # the validator dereferences $ref even inside a schema's `default`, so no place is exempt
    doc = MINIMAL_HEAD + (
        b"paths: {/a: {get: {responses: {'200': {description: ok, content: {application/json:"
        b" {schema: {type: object, default: {$ref: 'http://127.0.0.1:9/x'}}}}}}}}}\n"
    )
    with pytest.raises(SpecError, match=r"External \$ref 'http://127.0.0.1:9/x' at paths\./a\.get"):
        parse_spec(doc)


def test_parameter_ref_cycle_is_refused_not_hung() -> None:
    doc = MINIMAL_HEAD + (
        b"paths: {/a: {get: {parameters: [{$ref: '#/components/parameters/P'}],"
        b" responses: {'200': {description: ok}}}}}\n"
        b"components: {parameters: {P: {$ref: '#/components/parameters/Q'}, Q: {$ref: '#/components/parameters/P'}}}\n"
    )
    with pytest.raises(SpecError, match=r"\$ref cycle at paths\./a\.get\.parameters\[0\]"):
        parse_spec(doc)


def test_resolver_itself_is_cycle_safe() -> None:
    doc = {"a": {"$ref": "#/b"}, "b": {"$ref": "#/a"}, "c": {"$ref": "#/c"}}
    assert openapi._resolve(doc, {"$ref": "#/a"}) == {}
    assert openapi._resolve(doc, {"$ref": "#/c"}) == {}
    assert openapi._resolve({"p": {"name": "x"}}, {"$ref": "#/p"}) == {"name": "x"}
    assert openapi._resolve({"a/b": {"~": 1}}, {"$ref": "#/a~1b/~0"}) == 1


def test_self_referencing_schema_is_a_spec_error() -> None:
    doc = MINIMAL_HEAD + (
        b"paths: {/a: {get: {responses: {'200': {description: ok, content: {application/json:"
        b" {schema: {$ref: '#/components/schemas/A'}}}}}}}}\n"
        b"components: {schemas: {A: {allOf: [{$ref: '#/components/schemas/A'}]}}}\n"
    )
    with pytest.raises(SpecError):
        parse_spec(doc)


def _laughs(levels: int, width: int) -> bytes:
    lines = [b'l0: &l0 "lol"']
    for i in range(1, levels + 1):
        lines.append(b"l%d: &l%d [%s]" % (i, i, b", ".join([b"*l%d" % (i - 1)] * width)))
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_laughs(9, 9), "expand to too much data"),  # 81 aliases, 9**9 nodes once expanded
        (b"a: &a x\nb: [" + b", ".join([b"*a"] * 101) + b"]\n", "Too many YAML aliases"),
    ],
)
def test_yaml_alias_bombs_refused_quickly(data: bytes, expected: str) -> None:
    start = time.monotonic()
    with pytest.raises(SpecError, match=expected):
        parse_spec(data)
    assert time.monotonic() - start < 1


def test_spec_error_is_a_value_error() -> None:
    assert issubclass(SpecError, ValueError)


# --- Diff ------------------------------------------------------------------------------------------------


def _op(method: str = "GET", path: str = "/a", **kw) -> ParsedOperation:
    fields = {
        "operation_id": "",
        "summary": "",
        "auth_required": True,
        "deprecated": False,
        "parameters": [],
        "responses": {"200": "ok"},
    }
    fields.update(kw)
    return ParsedOperation(method=method, path=path, **fields)


def test_diff_between_two_petstore_versions() -> None:
    v1 = parse_spec(PETSTORE_30_YAML)
    doc = copy.deepcopy(v1.document)
    pets = doc["paths"]["/pets"]
    del pets["post"]  # removed
    del pets["get"]["security"]  # falls back to global → auth now required
    del pets["get"]["responses"]["default"]
    pets["get"]["responses"]["400"] = {"description": "Bad request"}
    pets["get"]["parameters"] = [
        {"$ref": "#/components/parameters/Limit"},
        {"name": "sort", "in": "query", "required": True, "schema": {"type": "string"}},
    ]
    pet = doc["paths"]["/pets/{petId}"]
    pet["get"]["deprecated"] = True
    del pet["get"]["responses"]["404"]
    doc["paths"]["/pets/{petId}/photos"] = {
        "get": {
            "operationId": "listPhotos",
            "parameters": [{"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "Photos"}},
        }
    }
    v2 = parse_spec(_json(doc))

    diff = diff_operations(v1.operations, v2.operations)

    assert not diff.is_empty
    assert diff.added == [("GET", "/pets/{petId}/photos")]
    assert diff.removed == [("POST", "/pets")]
    assert diff.changed == [
        {
            "method": "GET",
            "path": "/pets",
            "changes": [
                "auth now required",
                "parameter sort (query) added (required)",
                "parameter tag (query) removed",
                "response 400 added",
                "response default removed",
            ],
        },
        {"method": "GET", "path": "/pets/{petId}", "changes": ["now deprecated", "response 404 removed"]},
    ]
    assert diff_operations(v1.operations, v1.operations).is_empty


def test_diff_reverse_direction_wording() -> None:
    old = [
        _op(deprecated=True, auth_required=True, parameters=[{"name": "q", "in": "query", "required": True}])
    ]
    new = [
        _op(
            deprecated=False,
            auth_required=False,
            operation_id="getA",
            parameters=[{"name": "q", "in": "query", "required": False, "schema_type": "integer"}],
            responses={"200": "ok", "404": "nope"},
        )
    ]
    assert diff_operations(old, new).changed == [
        {
            "method": "GET",
            "path": "/a",
            "changes": [
                "operationId changed from '(none)' to 'getA'",
                "no longer deprecated",
                "auth no longer required",
                "parameter q (query) no longer required",
                "parameter q (query) type changed from unspecified to integer",
                "response 404 added",
            ],
        }
    ]


def test_diff_renamed_path_parameter_is_a_change_not_add_remove() -> None:
    diff = diff_operations([_op(path="/users/{id}")], [_op(path="/users/{userId}")])
    assert (diff.added, diff.removed) == ([], [])
    assert diff.changed == [
        {"method": "GET", "path": "/users/{userId}", "changes": ["path parameters renamed (was /users/{id})"]}
    ]


def test_diff_same_path_other_method_is_add_and_remove() -> None:
    diff = diff_operations([_op("GET", "/a"), _op("PUT", "/a")], [_op("GET", "/a"), _op("POST", "/a")])
    assert diff.added == [("POST", "/a")]
    assert diff.removed == [("PUT", "/a")]
    assert diff.changed == []


def test_diff_of_empty_lists() -> None:
    assert diff_operations([], []).is_empty
    assert diff_operations([], [_op()]).added == [("GET", "/a")]


# --- Property tests --------------------------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=25,
)

_openapi_like = st.fixed_dictionaries(
    {"openapi": st.sampled_from(["3.0.3", "3.1.0", "3.0.0", "3.2.0", "2.0"])},
    optional={
        "info": st.one_of(_json_values, st.just({"title": "T", "version": "1"})),
        "paths": st.one_of(
            _json_values,
            st.dictionaries(
                st.sampled_from(["/a", "/a/{id}", "x-ext", "b"]),
                st.dictionaries(
                    st.sampled_from(["get", "post", "parameters", "$ref", "summary"]),
                    _json_values | st.just({"responses": {"200": {"description": "ok"}}}),
                    max_size=3,
                ),
                max_size=3,
            ),
        ),
        "security": _json_values,
        "components": _json_values,
        "swagger": st.just("2.0"),
    },
)

_fast = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _only_spec_errors(data: bytes) -> None:
    """Parse; any failure must be a SpecError, and not the catch-all that hides an engine bug."""
    try:
        parse_spec(data)
    except SpecError as exc:
        assert "could not be read" not in str(exc), str(exc)


@_fast
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_spec_error(data: bytes) -> None:
    _only_spec_errors(data)


@_fast
@given(st.text(alphabet=st.sampled_from("{}[]:,-&*!#'\"\n abc01|>?%@`"), max_size=80))
def test_random_yamlish_text_only_raise_spec_error(text: str) -> None:
    _only_spec_errors(text.encode())


@_fast
@given(_json_values)
def test_random_json_only_raises_spec_error(value) -> None:
    _only_spec_errors(json.dumps(value).encode())


@_fast
@given(_openapi_like)
def test_random_openapi_like_documents_only_raise_spec_error(doc: dict) -> None:
    _only_spec_errors(json.dumps(doc).encode())
