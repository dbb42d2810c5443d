"""targets.operations_from_openapi: operations, refs, security inheritance, hostile documents."""

from __future__ import annotations

from typing import Any

from testing.engines.checks.targets import MAX_DEPTH, MAX_NODES, MAX_OPERATIONS, operations_from_openapi
from tests.timing import timed

ERROR = {"type": "object", "properties": {"error": {"type": "string"}}}


def _doc(paths: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths, **extra}


def _count(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(_count(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_count(v) for v in value)
    return 1


def _depth(value: Any) -> int:
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return 1 + max((_depth(c) for c in children), default=0)


def test_it_reads_each_operation_with_its_refs_resolved():
    document = _doc(
        {
            "/items/{id}": {
                "parameters": [
                    {"$ref": "#/components/parameters/Id"},
                    {"name": "verbose", "in": "query", "schema": {"type": "boolean"}},
                ],
                "get": {
                    "operationId": "getItem",
                    "parameters": [{"name": "verbose", "in": "query", "schema": {"type": "integer"}}],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Item"}}
                            },
                        },
                        "404": {"$ref": "#/components/responses/NotFound"},
                        "204": {"description": "nothing"},
                        "x-internal": {"description": "an extension, not a status"},
                    },
                },
                "put": {
                    "requestBody": {"$ref": "#/components/requestBodies/ItemBody"},
                    "responses": {
                        "default": {
                            "description": "problem",
                            "content": {
                                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Error"}}
                            },
                        }
                    },
                },
                "summary": "not an operation",
            },
            "x-extension": {"get": {}},
        },
        components={
            "parameters": {
                "Id": {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
            },
            "schemas": {
                "Item": {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "owner": {"$ref": "#/components/schemas/User"}},
                },
                "User": {"type": "object", "properties": {"name": {"type": "string"}}},
                "Error": ERROR,
                "a/b~c": {"type": "string"},
            },
            "responses": {
                "NotFound": {
                    "description": "no",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
            "requestBodies": {
                "ItemBody": {
                    "content": {
                        "text/plain": {"schema": {"type": "string"}},
                        "application/json; charset=utf-8": {
                            "schema": {"$ref": "#/components/schemas/a~1b~0c"}
                        },
                    }
                }
            },
        },
    )
    get, put = operations_from_openapi(document)
    assert (get.key, get.operation_id, put.key) == ("GET /items/{id}", "getItem", "PUT /items/{id}")
    assert [(p["name"], p["in"]) for p in get.parameters] == [("id", "path"), ("verbose", "query")]
    assert get.parameters[1]["schema"] == {"type": "integer"}  # the operation's wins over the path's
    assert put.parameters[1]["schema"] == {"type": "boolean"}  # the path's, inherited
    assert get.responses == {
        "200": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "owner": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
        },
        "404": ERROR,
        "204": None,
    }
    assert get.request_schema is None and put.request_schema == {
        "type": "string"
    }  # JSON media, escaped pointer
    assert put.responses == {"default": ERROR}
    assert get.documents(404) and not get.documents(500)


def test_it_inherits_the_documents_security_unless_the_operation_says_otherwise():
    op = {"responses": {"200": {"description": "ok"}}}
    paths = {
        "/inherited": {"get": op},
        "/public": {"get": {**op, "security": []}},
        "/optional": {"get": {**op, "security": [{"bearer": []}, {}]}},
        "/own": {"get": {**op, "security": [{"apiKey": []}]}},
    }
    secured = {
        op.path: op.auth_required for op in operations_from_openapi(_doc(paths, security=[{"bearer": []}]))
    }
    assert secured == {"/inherited": True, "/public": False, "/optional": False, "/own": True}
    open_api = {op.path: op.auth_required for op in operations_from_openapi(_doc(paths))}
    assert open_api == {"/inherited": False, "/public": False, "/optional": False, "/own": True}


def test_it_leaves_cycles_remote_and_dangling_refs_as_empty_schemas():
    document = _doc(
        {
            "/tree": {
                "post": {
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}
                    },
                    "responses": {
                        "200": {
                            "description": "a",
                            "content": {"application/json": {"schema": {"$ref": "other.yaml#/X"}}},
                        },
                        "201": {
                            "description": "b",
                            "content": {
                                "application/json": {"schema": {"$ref": "https://evil.example/s.json"}}
                            },
                        },
                        "202": {
                            "description": "c",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Missing"}}
                            },
                        },
                        "203": {
                            "description": "d",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Loop1"}}
                            },
                        },
                    },
                }
            }
        },
        components={
            "schemas": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}
                    },
                },
                "Loop1": {"$ref": "#/components/schemas/Loop2"},
                "Loop2": {"$ref": "#/components/schemas/Loop1"},
            }
        },
    )
    (op,) = operations_from_openapi(document)
    assert op.request_schema == {"type": "object", "properties": {"children": {"type": "array", "items": {}}}}
    assert op.responses == {"200": {}, "201": {}, "202": {}, "203": {}}


def test_it_finishes_fast_and_bounded_on_a_ref_bomb_and_deep_refs():
    levels = 40  # each schema refers to the next one twice: 2^40 nodes if copied naively
    schemas: dict[str, Any] = {
        f"S{i}": {
            "type": "object",
            "properties": {
                "a": {"$ref": f"#/components/schemas/S{i + 1}"},
                "b": {"$ref": f"#/components/schemas/S{i + 1}"},
            },
        }
        for i in range(levels)
    }
    schemas[f"S{levels}"] = {"type": "string"}
    for i in range(2000):  # a chain of 2,000 refs, and a schema nested 2,000 levels through refs
        schemas[f"C{i}"] = {"$ref": f"#/components/schemas/C{i + 1}"}
        schemas[f"N{i}"] = {
            "type": "object",
            "properties": {"next": {"$ref": f"#/components/schemas/N{i + 1}"}},
        }
    schemas["C2000"] = schemas["N2000"] = {"type": "integer"}

    def body(name: str) -> dict[str, Any]:
        return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}

    paths = {
        f"/p{i}": {"post": {"requestBody": body(name), "responses": {}}}
        for i, name in enumerate(["C0", "N0", "S0"] * 20)
    }
    operations = timed(lambda: operations_from_openapi(_doc(paths, components={"schemas": schemas})))
    assert len(operations) == 60
    assert sum(_count(op.request_schema) for op in operations if op.request_schema is not None) <= MAX_NODES
    assert operations[-1].request_schema is None  # the budget was spent: left out, not half-read
    assert all(_depth(op.request_schema) <= MAX_DEPTH for op in operations)
    assert operations[0].request_schema == {}  # a chain longer than the bound resolves to nothing
    assert _depth(operations[1].request_schema) == MAX_DEPTH  # a deep one is cut at the bound
    assert operations[2].request_schema["properties"]["a"]["type"] == "object"  # the bomb's start is kept


def test_it_finishes_fast_on_deep_wide_and_garbage_documents():
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(20_000):
        node["x"] = {}
        node = node["x"]
    wide = {f"p{i}": {"type": "string"} for i in range(200_000)}
    paths: dict[Any, Any] = {
        "/deep": {"get": {"responses": {"200": {"content": {"application/json": {"schema": deep}}}}}},
        "/wide": {
            "get": {"responses": {"200": {"content": {"application/json": {"schema": {"properties": wide}}}}}}
        },
        "/garbage": {"get": {"parameters": "nope", "responses": ["200"], "security": "x"}, "post": "nope"},
        "nope": {"get": {}},
        42: {"get": {}},
    }
    paths.update({f"/many{i}": {"get": {"responses": {}}} for i in range(MAX_OPERATIONS + 500)})
    operations = timed(lambda: operations_from_openapi(_doc(paths)))
    assert len(operations) == MAX_OPERATIONS
    deep_op, wide_op, garbage = operations[:3]
    assert _depth(deep_op.responses["200"]) <= MAX_DEPTH
    assert _count(wide_op.responses["200"]) <= MAX_NODES
    assert (garbage.key, garbage.parameters, garbage.responses, garbage.auth_required) == (
        "GET /garbage",
        (),
        {},
        False,
    )
    assert operations_from_openapi({"paths": "nope"}) == () == operations_from_openapi([])  # type: ignore[arg-type]
