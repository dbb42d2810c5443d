"""``spec_conformance``: the API answers as its OpenAPI document says.

Requests are built from the spec, deterministically: path and required query parameters from their
``example`` / ``enum`` / type (``fill_path``), JSON bodies from the request schema (``build_example``:
example, default, enum, const, then the type with its bounds; required properties only). Per
operation, at most:

* the valid request, to each of up to 12 documented GET operations (sorted), and — with intrusive
  checks allowed only — to up to 4 POST/PUT/PATCH operations (DELETE is never sent);
* for GET operations with a constrained parameter, one request that breaks the first constraint
  (``maximum + 1``, ``minimum - 1``, a value outside the ``enum``, a non-number for a number, one
  character past ``maxLength``, a non-UUID for a UUID).

Each answer is checked against the documented responses (the exact code, then ``4XX``, then
``default``):

* ``undocumented_status:<code>``: the code is not documented (401/403 on an operation that needs
  authentication excepted: its security requirement implies them);
* ``wrong_content_type:<code>``: a JSON body is documented and the answer is not JSON;
* ``schema_mismatch:<code>``: a 2xx/3xx body does not validate against its documented schema;
* ``undocumented_error_shape:<code>``: an error body does not validate against its documented schema,
  or the code documents no body and the answer carries a JSON one;
* ``invalid_input_accepted:<param>``: the constraint-breaking request got a 2xx.

Validation runs on jsonschema-rs with its linear ``regex`` engine (``RegexOptions``): a spec's
``pattern`` cannot backtrack, whatever the body. Remote ``$ref``s are never fetched. Schemas over
256 KB (serialised) or 20,000 nodes, and bodies over 512 KB, are not validated (counted in
``metrics``). OpenAPI 3.0 ``nullable`` and boolean ``exclusiveMinimum``/``exclusiveMaximum`` are
translated to JSON Schema first.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

import jsonschema_rs

from testing.engines.checks._probing import call, is_json, json_body, safe_operations
from testing.engines.checks.base import (
    Check,
    Context,
    OperationSpec,
    Owasp,
    Problem,
    Severity,
    Skip,
    register,
)
from testing.engines.safe_http import ScanResponse

MAX_SAFE = 12
MAX_WRITES = 4
MAX_SCHEMA_CHARS = 256 * 1024
MAX_SCHEMA_NODES = 20_000
MAX_SCHEMA_DEPTH = 64
MAX_BODY_BYTES = 512 * 1024
MAX_ERRORS_SHOWN = 3
REGEX_SIZE_LIMIT = 1024 * 1024  # compiled pattern and DFA cache, bytes
WRITE_METHODS = ("PATCH", "POST", "PUT")


class SchemaTooLarge(ValueError):
    pass


def _refuse_retrieval(uri: str) -> Any:
    raise ValueError("remote references are not fetched")


def to_json_schema(schema: Any) -> Any:
    """An OpenAPI 3.0/3.1 schema as JSON Schema 2020-12 (a bounded copy; ``SchemaTooLarge`` past the
    node or depth limits)."""
    count = 0

    def convert(node: Any, depth: int) -> Any:
        nonlocal count
        count += 1
        if count > MAX_SCHEMA_NODES or depth > MAX_SCHEMA_DEPTH:
            raise SchemaTooLarge("schema too large to validate")
        if isinstance(node, list):
            return [convert(item, depth + 1) for item in node]
        if not isinstance(node, Mapping):
            return node
        out = {str(k): convert(v, depth + 1) for k, v in node.items() if k != "nullable"}
        for bound in ("Minimum", "Maximum"):
            flag = out.get(f"exclusive{bound}")
            if isinstance(flag, bool):
                del out[f"exclusive{bound}"]
                plain = bound.lower()
                if flag and plain in out:
                    out[f"exclusive{bound}"] = out.pop(plain)
        if node.get("nullable") is True:
            return {"anyOf": [out, {"type": "null"}]}
        return out

    return convert(schema, 0)


def make_validator(schema: Any) -> Any:
    """A jsonschema-rs validator on the linear regex engine, or None when the schema is too large or
    not something jsonschema-rs accepts (a lookaround pattern, a dangling ``$ref``...)."""
    if len(json.dumps(schema, default=str)) > MAX_SCHEMA_CHARS:
        raise SchemaTooLarge("schema too large to validate")
    converted = to_json_schema(schema)
    try:
        return jsonschema_rs.validator_for(
            converted,
            validate_formats=False,
            pattern_options=jsonschema_rs.RegexOptions(
                size_limit=REGEX_SIZE_LIMIT, dfa_size_limit=REGEX_SIZE_LIMIT
            ),
            retriever=_refuse_retrieval,
        )
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError, TypeError):
        return None


MESSAGE_WINDOW = 4000


def schema_errors(validator: Any, instance: Any) -> list[str]:
    """The first few validation errors, each as ``/instance/path: message`` (bounded)."""
    errors = []
    for error in itertools.islice(validator.iter_errors(instance), MAX_ERRORS_SHOWN):
        where = "/" + "/".join(str(p) for p in error.instance_path)
        # Cut generously, not to what is shown: the message quotes the target's value, which may
        # echo a secret, and ``ctx.problem`` redacts before it cuts to the shown length (a secret cut
        # in half here would no longer be recognised there).
        errors.append(f"{where}: {str(error.message)[:MESSAGE_WINDOW]}")
    return errors


def build_example(schema: Any, depth: int = 0) -> Any:
    """A small value that satisfies ``schema`` in the common cases (deterministic)."""
    if not isinstance(schema, Mapping) or depth > 8:
        return None
    for key in ("example", "default", "const"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return build_example(schema[key][0], depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {}
        for part in schema["allOf"][:10]:
            value = build_example(part, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        if merged:
            return merged
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        required = schema.get("required")
        required = required if isinstance(required, list) else []
        return {
            str(name): build_example(properties.get(name), depth + 1)
            for name in required[:50]
            if isinstance(name, str)
        }
    if kind == "array":
        count = min(int(schema.get("minItems") or 0), 5)
        return [build_example(schema.get("items"), depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        value = (
            low if isinstance(low, int | float) else (min(1, high) if isinstance(high, int | float) else 1)
        )
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return True
    if kind == "string" or kind is None:
        formats = {
            "email": "scanner@example.com",
            "uuid": "00000000-0000-4000-8000-000000000001",
            "date": "2024-01-01",
            "date-time": "2024-01-01T00:00:00Z",
            "uri": "https://example.com/",
            "ipv4": "192.0.2.1",
        }
        if schema.get("format") in formats:
            return formats[schema["format"]]
        length = schema.get("minLength")
        return "a" * min(int(length), 256) if isinstance(length, int) and length > 0 else "example"
    return None


def violation(param: Mapping[str, Any]) -> tuple[str, str] | None:
    """A value breaking the parameter's first constraint, and which constraint it breaks."""
    schema = param.get("schema") or param
    if not isinstance(schema, Mapping):
        return None
    kind = schema.get("type")
    if isinstance(schema.get("maximum"), int | float) and not isinstance(schema.get("maximum"), bool):
        return str(int(schema["maximum"]) + 1), "maximum"
    if isinstance(schema.get("minimum"), int | float) and not isinstance(schema.get("minimum"), bool):
        return str(int(schema["minimum"]) - 1), "minimum"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return "not-one-of-the-enum-values", "enum"
    if kind in ("integer", "number"):
        return "not-a-number", "type"
    if isinstance(schema.get("maxLength"), int) and 0 <= schema["maxLength"] < 4096:
        return "a" * (schema["maxLength"] + 1), "maxLength"
    if schema.get("format") == "uuid":
        return "not-a-uuid", "format"
    return None


def documented_schema(op: OperationSpec, status: int) -> tuple[bool, Mapping[str, Any] | None]:
    """(documented?, JSON schema or None) for a status: exact code, then ``NXX``, then ``default``."""
    for key in (str(status), f"{status // 100}XX", f"{status // 100}xx", "default"):
        if key in op.responses:
            return True, op.responses[key]
    return False, None


@register
class SpecConformance(Check):
    key = "spec_conformance"
    title = "Answers match the documented status codes, content types and schemas"
    sends = (
        "a request built from the spec to each of up to 12 safe operations plus one that breaks a "
        "parameter's constraint; with intrusive checks allowed, up to 4 POST/PUT/PATCH with example bodies"
    )
    owasp = Owasp.API9
    severity = Severity.LOW
    intrusive = False
    request_budget = MAX_SAFE * 2 + MAX_WRITES

    def run(self, ctx: Context) -> list[Problem]:
        safe = safe_operations(ctx.target, MAX_SAFE)
        writes: list[OperationSpec] = []
        if ctx.target.intrusive_allowed:
            writes = sorted(
                (op for op in ctx.target.operations if op.method in WRITE_METHODS),
                key=lambda op: (op.path, op.method),
            )[:MAX_WRITES]
        if not safe and not writes:
            raise Skip("no documented operation it may call")
        self.validators: dict[tuple[str, str], Any] = {}
        ctx.metrics.update({"validated": 0, "not_validated": 0})
        for op in safe:
            self._check(ctx, op, call(ctx, op), what="the example request")
            broken = self._broken_parameter(op)
            if broken is not None:
                param, value, constraint = broken
                name = str(param.get("name"))
                if param.get("in") == "path":
                    response = call(ctx, op, path_values={name: value})
                else:
                    response = call(ctx, op, query={name: value})
                if response.status is not None and 200 <= response.status < 300:
                    ctx.problem(
                        detail=f"invalid_input_accepted:{name}",
                        operation=op.key,
                        message=(
                            f"Expected a 4xx for {name}={value[:40]!r}, which breaks its documented "
                            f"{constraint}; got HTTP {response.status}."
                        ),
                        responses=[response],
                    )
                else:
                    self._check(ctx, op, response, what=f"a request breaking {name}'s {constraint}")
        for op in writes:
            body = build_example(op.request_schema) if op.request_schema else None
            response = call(ctx, op, json=body if body is not None else {})
            self._check(ctx, op, response, what="the example request")
        return ctx.problems

    @staticmethod
    def _broken_parameter(op: OperationSpec) -> tuple[Mapping[str, Any], str, str] | None:
        params = sorted(
            (p for p in op.parameters if p.get("in") in ("path", "query") and p.get("name")),
            key=lambda p: (p.get("in") != "path", str(p.get("name"))),
        )
        for param in params:
            broken = violation(param)
            if broken is not None:
                return param, broken[0], broken[1]
        return None

    def _validator(self, ctx: Context, op: OperationSpec, code: str, schema: Mapping[str, Any]) -> Any:
        key = (op.key, code)
        if key not in self.validators:
            try:
                self.validators[key] = make_validator(schema)
            except SchemaTooLarge:
                self.validators[key] = None
        return self.validators[key]

    def _check(self, ctx: Context, op: OperationSpec, response: ScanResponse, *, what: str) -> None:
        status = response.status
        if status is None:
            return
        documented, schema = documented_schema(op, status)
        if not documented and status in (401, 403) and op.auth_required:
            return  # the security requirement implies them; auth_enforced judges authentication
        if not documented:
            codes = ", ".join(sorted(op.responses)) or "none"
            ctx.problem(
                detail=f"undocumented_status:{status}",
                operation=op.key,
                severity=Severity.MEDIUM if status >= 500 else None,
                message=f"Expected one of the documented codes ({codes}) for {what}; got HTTP {status}.",
                responses=[response],
            )
            return
        error = status >= 400
        has_body = bool(response.body.strip())
        if schema is None:
            if error and has_body and is_json(response):
                ctx.problem(
                    detail=f"undocumented_error_shape:{status}",
                    operation=op.key,
                    message=f"Expected no body for HTTP {status} (the spec documents none) for {what}; got a JSON body.",
                    responses=[response],
                )
            return
        if not has_body or status in (204, 304) or response.method == "HEAD":
            return
        if not is_json(response):
            ctx.problem(
                detail=f"wrong_content_type:{status}",
                operation=op.key,
                message=(
                    f"Expected a JSON body for HTTP {status} for {what}; got Content-Type "
                    f"{response.content_type[:80]!r}."
                ),
                responses=[response],
            )
            return
        if len(response.body) > MAX_BODY_BYTES or not response.ok:
            ctx.metrics["not_validated"] += 1
            return
        validator = self._validator(ctx, op, str(status), schema)
        instance = json_body(response)
        if validator is None or (instance is None and response.body.strip() != b"null"):
            ctx.metrics["not_validated"] += 1
            if instance is None:  # declared JSON, is not JSON
                ctx.problem(
                    detail=f"wrong_content_type:{status}",
                    operation=op.key,
                    message=f"Expected a JSON body for HTTP {status} for {what}; the body does not parse.",
                    responses=[response],
                )
            return
        ctx.metrics["validated"] += 1
        errors = schema_errors(validator, instance)
        if errors:
            ctx.problem(
                detail=f"{'undocumented_error_shape' if error else 'schema_mismatch'}:{status}",
                operation=op.key,
                message=(
                    f"Expected the HTTP {status} body for {what} to match its documented schema; "
                    + "; ".join(errors)
                ),
                responses=[response],
            )
