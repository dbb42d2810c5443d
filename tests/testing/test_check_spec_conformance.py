"""spec_conformance: documented codes, content types and schemas; linear patterns on hostile bodies."""

from __future__ import annotations

import json
import time

import testing.engines.checks.spec_conformance  # noqa: F401 - registers the check
from testing.engines.checks.base import OperationSpec, Outcome, Target
from testing.engines.checks.runner import run_checks
from testing.engines.checks.spec_conformance import (
    build_example,
    make_validator,
    schema_errors,
    to_json_schema,
)
from tests.testing.check_api import Api, client_factory, handler, json_answer, path_of, text_answer
from tests.testing.servers import RawServer, reset

ITEM = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "note": {"type": "string", "nullable": True},
    },
}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
ITEM_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "maximum": 100, "example": 7},
}
OPS = (
    OperationSpec(
        "GET",
        "/items/{id}",
        auth_required=False,
        parameters=(ITEM_ID,),
        responses={"200": ITEM, "404": ERROR, "4XX": ERROR},
    ),
    OperationSpec("GET", "/ping", auth_required=False, responses={"200": None}),
    OperationSpec("GET", "/status", auth_required=False, responses={"200": {"type": "object"}}),
    OperationSpec(
        "POST",
        "/items",
        auth_required=False,
        request_schema={
            "type": "object",
            "required": ["name", "count"],
            "properties": {
                "name": {"type": "string", "minLength": 3},
                "count": {"type": "integer", "minimum": 2},
            },
        },
        responses={"201": ITEM, "400": ERROR},
    ),
    OperationSpec(
        "DELETE", "/items/{id}", auth_required=False, parameters=(ITEM_ID,), responses={"204": None}
    ),
)
JSON = [("Content-Type", "application/json")]


def _target(server: RawServer, ops=OPS, **kw) -> Target:
    return Target(base_url=server.url("").rstrip("/"), operations=ops, **kw)


def _correct_item(request):
    item_id = path_of(request).rsplit("/", 1)[-1]
    if not item_id.isdigit() or int(item_id) > 100:
        return 400, b'{"error":"id must be an integer up to 100"}', JSON
    return 200, json.dumps({"id": int(item_id), "name": "seven", "note": None}).encode(), JSON


def _correct_api() -> Api:
    def create(request):
        body = json.loads(request.body)
        assert body == {"name": "aaa", "count": 2}
        return 201, b'{"id": 1, "name": "aaa"}', JSON

    return Api(
        {
            "GET /ping": text_answer(b"pong"),
            "GET /status": json_answer({"ok": True}),
            "POST /items": handler(create),
        },
        fallback=handler(_correct_item),
    )


def test_it_passes_an_api_that_matches_its_spec():
    with RawServer(_correct_api()) as server:
        report = run_checks(
            _target(server, intrusive_allowed=True), ["spec_conformance"], client_factory=client_factory
        )
        sent = [(r.method, path_of(r)) for r in server.requests]
    result = report.checks[0]
    assert result.outcome == Outcome.PASSED, result.problems
    assert ("GET", "/items/7") in sent and ("GET", "/items/101") in sent and ("POST", "/items") in sent
    assert all(method != "DELETE" for method, _ in sent)
    assert result.metrics["validated"] == 4  # item, item's 400, status, created item


def test_it_sends_only_safe_operations_without_the_opt_in():
    with RawServer(_correct_api()) as server:
        run_checks(_target(server), ["spec_conformance"], client_factory=client_factory)
        methods = {r.method for r in server.requests}
    assert methods == {"GET"}


def test_it_reports_undocumented_codes_wrong_types_mismatches_and_error_shapes():
    def item(request):
        item_id = path_of(request).rsplit("/", 1)[-1]
        if item_id == "101":
            return 404, b'{"message":"nope"}', JSON  # 404 is documented, this shape is not
        return 200, b'{"id":"7","name":"seven"}', JSON  # id is a string

    api = Api(
        {
            "GET /ping": text_answer(b"teapot", 418),
            "GET /status": text_answer(b"<html>ok</html>", content_type="text/html"),
        },
        fallback=handler(item),
    )
    with RawServer(api) as server:
        report = run_checks(_target(server), ["spec_conformance"], client_factory=client_factory)
    result = report.checks[0]
    found = {(p.detail, p.operation) for p in result.problems}
    assert found == {
        ("schema_mismatch:200", "GET /items/{id}"),
        ("undocumented_error_shape:404", "GET /items/{id}"),
        ("undocumented_status:418", "GET /ping"),
        ("wrong_content_type:200", "GET /status"),
    }
    mismatch = next(p for p in result.problems if p.detail == "schema_mismatch:200")
    assert "/id" in mismatch.message


def test_it_reports_input_that_breaks_a_documented_constraint_accepted():
    api = Api(
        {"GET /ping": text_answer(b"pong"), "GET /status": json_answer({})},
        fallback=json_answer({"id": 1, "name": "x"}),
    )
    with RawServer(api) as server:
        report = run_checks(_target(server), ["spec_conformance"], client_factory=client_factory)
    assert [(p.detail, p.operation) for p in report.checks[0].problems] == [
        ("invalid_input_accepted:id", "GET /items/{id}")
    ]


def test_it_leaves_401_on_an_authenticated_operation_to_auth_enforced():
    ops = (
        OperationSpec("GET", "/me", responses={"200": ITEM}),
        OperationSpec("GET", "/open", auth_required=False, responses={"200": ITEM}),
    )
    with RawServer(Api(fallback=json_answer({"error": "login"}, status=401))) as server:
        report = run_checks(_target(server, ops), ["spec_conformance"], client_factory=client_factory)
    assert [(p.detail, p.operation) for p in report.checks[0].problems] == [
        ("undocumented_status:401", "GET /open")
    ]


def test_it_calls_an_id_without_example_with_the_identitys_own_object():
    from testing.engines.checks.base import Identity

    bob = Identity(
        "bob", headers={"Authorization": "Bearer tok-bob"}, secrets=("tok-bob",), object_ids=("42",)
    )
    param = {"name": "orderId", "in": "path", "required": True, "schema": {"type": "string"}}
    op = OperationSpec("GET", "/orders/{orderId}", parameters=(param,), responses={"200": {"type": "object"}})
    with RawServer(Api(fallback=json_answer({}))) as server:
        target = Target(base_url=server.url("").rstrip("/"), operations=(op,), identities=(bob,))
        run_checks(target, ["spec_conformance"], client_factory=client_factory)
        assert [r.path for r in server.requests] == ["/orders/42"]


def test_a_catastrophic_pattern_against_a_hostile_body_finishes_fast():
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}}}
    op = OperationSpec("GET", "/codes", auth_required=False, responses={"200": schema})
    hostile = json.dumps({"code": "a" * 200_000 + "!"}).encode()
    with RawServer(Api({"/codes": text_answer(hostile, content_type="application/json")})) as server:
        started = time.monotonic()
        report = run_checks(_target(server, (op,)), ["spec_conformance"], client_factory=client_factory)
        elapsed = time.monotonic() - started
    assert [p.detail for p in report.checks[0].problems] == ["schema_mismatch:200"]
    assert elapsed < 2
    validator = make_validator(schema)
    started = time.monotonic()
    assert schema_errors(validator, {"code": "a" * 1_000_000 + "!"})
    assert time.monotonic() - started < 1


def test_schemas_it_cannot_use_are_not_validated_and_not_a_crash():
    assert make_validator({"type": "string", "pattern": "(?=lookahead)x"}) is None  # not a linear regex
    assert make_validator({"$ref": "http://169.254.169.254/latest/meta-data"}) is None  # never fetched
    assert make_validator({"$ref": "#/components/schemas/Missing"}) is None
    deep: dict = {"type": "object"}
    node = deep
    for _ in range(100):
        node["properties"] = {"a": {"type": "object"}}
        node = node["properties"]["a"]
    op = OperationSpec("GET", "/deep", auth_required=False, responses={"200": deep})
    with RawServer(Api(fallback=json_answer({"a": 1}))) as server:
        report = run_checks(_target(server, (op,)), ["spec_conformance"], client_factory=client_factory)
    assert report.checks[0].outcome == Outcome.PASSED and report.checks[0].metrics["not_validated"] == 1


def test_it_copes_with_garbage_and_stays_in_budget():
    ops = tuple(
        OperationSpec(
            "GET",
            f"/p{i}/{{id}}",
            auth_required=False,
            parameters=(ITEM_ID,),
            responses={"200": ITEM, "400": ERROR},
        )
        for i in range(20)
    )
    with RawServer(Api(fallback=reset)) as server:
        report = run_checks(_target(server, ops), ["spec_conformance"], client_factory=client_factory)
    assert report.checks[0].outcome == Outcome.PASSED
    assert report.checks[0].requests_sent == 24 <= report.checks[0].request_budget
    with RawServer(
        Api(fallback=text_answer(b'{"id": 1, "name": ', content_type="application/json"))
    ) as server:
        report = run_checks(_target(server, ops[:1]), ["spec_conformance"], client_factory=client_factory)
    assert {p.detail for p in report.checks[0].problems} == {
        "wrong_content_type:200",
        "invalid_input_accepted:id",
    }


def test_it_translates_openapi_30_schemas_and_builds_examples():
    converted = to_json_schema({"type": "integer", "minimum": 0, "exclusiveMinimum": True, "nullable": True})
    assert converted == {"anyOf": [{"type": "integer", "exclusiveMinimum": 0}, {"type": "null"}]}
    validator = make_validator({"type": "integer", "minimum": 0, "exclusiveMinimum": True, "nullable": True})
    assert (
        schema_errors(validator, None) == []
        and schema_errors(validator, 0)
        and schema_errors(validator, 1) == []
    )
    assert build_example(
        {
            "type": "object",
            "required": ["email", "tags"],
            "properties": {
                "email": {"type": "string", "format": "email"},
                "tags": {"type": "array", "minItems": 1, "items": {"enum": ["a"]}},
            },
        }
    ) == {
        "email": "scanner@example.com",
        "tags": ["a"],
    }
