"""``mass_assignment`` (intrusive): a write does not set properties the caller must not set.

For each documented POST/PUT/PATCH with a JSON object request schema (sorted, at most six), as a
normal identity (the first whose name does not contain "admin"), it sends a valid-looking body (the
schema's writable properties from their examples, enums and types) plus:

- every property the schema marks ``readOnly``, with a distinctive value of its type;
- undocumented privileged properties: ``admin``, ``role``, ``is_admin``, ``isAdmin``, ``id``,
  ``owner_id`` (each only when the schema does not document it as writable).

PUT/PATCH go to the identity's own object (configured ``object_ids``, else the first id its list
operation returns). A 2xx whose JSON (or a following GET of the same object: the same path, or the
created object's path under the POST's collection) carries an injected value is a finding:
``privileged_property_accepted`` (high) for the privilege and ownership properties,
``readonly_property_written`` (medium) for ``readOnly`` ones and ``id``. A refusal (4xx) passes; an
operation that cannot be called (no identity, no object) is listed in ``metrics["inconclusive"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from testing.engines.checks._probing import (
    collect_ids,
    example_body,
    id_parameter,
    json_body,
    parent_path,
    success,
)
from testing.engines.checks.base import (
    Check,
    Context,
    Identity,
    OperationSpec,
    Owasp,
    Problem,
    Severity,
    Skip,
    fill_path,
    register,
)
from testing.engines.safe_http import ScanResponse

MAX_OPERATIONS = 6
MARKER_NUMBER = 987654321
PRIVILEGED: dict[str, Any] = {
    "admin": True,
    "role": "admin",
    "is_admin": True,
    "isAdmin": True,
    "owner_id": MARKER_NUMBER + 1,
}
UNDOCUMENTED_ID: dict[str, Any] = {"id": MARKER_NUMBER}
ENVELOPES = ("data", "item", "result", "object")


def _object_schema(schema: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if not isinstance(schema, Mapping):
        return None
    if schema.get("type") == "object" or isinstance(schema.get("properties"), Mapping):
        return schema
    return None


def read_only_value(name: str, schema: Mapping[str, Any]) -> Any:
    """A distinctive value for a ``readOnly`` property, or None when none would be telling."""
    kind = schema.get("type")
    enum = schema.get("enum")
    if isinstance(enum, list) and len(enum) >= 2:
        return next((v for v in reversed(enum) if v != schema.get("default")), None)
    if kind == "integer":
        return MARKER_NUMBER + 2
    if kind == "number":
        return MARKER_NUMBER + 0.5
    if kind == "boolean":  # only when a default says which value the server would pick itself
        default = schema.get("default")
        return (not default) if isinstance(default, bool) else None
    if kind in ("object", "array"):
        return None
    fmt = schema.get("format")
    if fmt == "uuid":
        return "00000000-0000-4000-8000-0000a55ca2e7"
    if fmt == "date-time":
        return "2001-02-03T04:05:06Z"
    if fmt == "email":
        return "asp-scanner@example.invalid"
    return f"asp-scanner-{name}"[:60]


def injected_properties(schema: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(privileged, read-only) properties to inject into a body for ``schema``."""
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    writable = {n for n, p in properties.items() if not (isinstance(p, Mapping) and p.get("readOnly"))}
    read_only: dict[str, Any] = {}
    for name, prop in list(properties.items())[:50]:
        if isinstance(prop, Mapping) and prop.get("readOnly"):
            value = read_only_value(str(name), prop)
            if value is not None:
                read_only[str(name)] = value
    if "id" not in properties:
        read_only.update(UNDOCUMENTED_ID)
    privileged = {n: v for n, v in PRIVILEGED.items() if n not in writable and n not in read_only}
    return privileged, read_only


def reflected(payload: Any, injected: Mapping[str, Any]) -> list[str]:
    """The injected properties whose value the JSON object (or its envelope) carries back."""
    candidates = [payload]
    if isinstance(payload, Mapping):
        candidates += [payload[k] for k in ENVELOPES if isinstance(payload.get(k), Mapping)]
    found: list[str] = []
    for obj in candidates:
        if not isinstance(obj, Mapping):
            continue
        for name, value in injected.items():
            if name in obj and _same(obj[name], value) and name not in found:
                found.append(name)
    return found


def _same(got: Any, sent: Any) -> bool:
    if isinstance(sent, bool) or isinstance(got, bool):
        return isinstance(got, bool) and isinstance(sent, bool) and got == sent
    return str(got).strip().lower() == str(sent).strip().lower()


@register
class MassAssignment(Check):
    key = "mass_assignment"
    title = "Writes do not set read-only or privileged properties"
    sends = (
        "to up to six documented POST/PUT/PATCH operations, as a normal identity, a valid-looking body "
        "plus read-only and privileged properties (admin, role, is_admin, isAdmin, id, owner_id), "
        "then a GET of the written object"
    )
    owasp = Owasp.API3
    severity = Severity.HIGH
    intrusive = True
    request_budget = 20

    def run(self, ctx: Context) -> list[Problem]:
        writes = sorted(
            (
                op
                for op in ctx.target.operations
                if op.method in ("POST", "PUT", "PATCH") and _object_schema(op.request_schema)
            ),
            key=lambda op: (op.path, op.method),
        )[:MAX_OPERATIONS]
        if not writes:
            raise Skip("no documented POST/PUT/PATCH takes a JSON object")
        identity = next(
            (i for i in ctx.target.identities if "admin" not in i.name.lower()),
            ctx.target.identities[0] if ctx.target.identities else None,
        )
        inconclusive: dict[str, str] = {}
        for op in writes:
            if op.auth_required and identity is None:
                inconclusive[op.key] = "needs an identity"
                continue
            path = self._path(ctx, op, identity)
            if path is None:
                inconclusive[op.key] = "no object of the identity's own to write to"
                continue
            schema = _object_schema(op.request_schema) or {}
            privileged, read_only = injected_properties(schema)
            body = example_body(schema)
            body = body if isinstance(body, dict) else {}
            body.update(read_only)
            body.update(privileged)
            response = ctx.send(op.method, path, identity=identity, operation=op, json=body)
            if not success(response):
                if not response.ok or (response.status or 0) >= 500:
                    inconclusive[op.key] = f"no usable answer ({response.status or response.error_kind})"
                continue
            evidence = [response]
            injected = {**privileged, **read_only}
            found = reflected(json_body(response), injected)
            if len(found) < len(injected):
                follow = self._follow_up(ctx, op, path, response, identity)
                if follow is not None:
                    evidence.append(follow)
                    found += [n for n in reflected(json_body(follow), injected) if n not in found]
            self._report(
                ctx, op, [n for n in found if n in privileged], "privileged_property_accepted", None, evidence
            )
            self._report(
                ctx,
                op,
                [n for n in found if n in read_only],
                "readonly_property_written",
                Severity.MEDIUM,
                evidence,
            )
        ctx.metrics.update(
            operations=len(writes), inconclusive=inconclusive, identity=identity.name if identity else None
        )
        return ctx.problems

    def _path(self, ctx: Context, op: OperationSpec, identity: Identity | None) -> str | None:
        name = id_parameter(op)
        if name is None:
            return fill_path(op)
        if identity is not None and identity.object_ids:
            return fill_path(op, {name: identity.object_ids[0]})
        listing = ctx.target.operation(f"GET {parent_path(op)}")
        if listing is None or listing.path_parameters() or identity is None:
            return None
        ids = collect_ids(
            json_body(ctx.send("GET", listing.path, identity=identity, operation=listing)), limit=1
        )
        return fill_path(op, {name: ids[0]}) if ids else None

    def _follow_up(
        self, ctx: Context, op: OperationSpec, path: str, response: ScanResponse, identity: Identity | None
    ) -> ScanResponse | None:
        """A GET of the object just written: the same path, or the created object under a POST's path."""
        if op.method != "POST" or id_parameter(op):
            reader = ctx.target.operation(f"GET {op.path}")
            return ctx.send("GET", path, identity=identity, operation=reader) if reader else None
        created = collect_ids(json_body(response), limit=1)
        reader = next(
            (
                r
                for r in sorted(ctx.target.operations, key=lambda o: o.path)
                if r.method == "GET"
                and parent_path(r) == op.path
                and id_parameter(r)
                and len(r.path_parameters()) == 1
            ),
            None,
        )
        if not created or reader is None:
            return None
        return ctx.send(
            "GET",
            fill_path(reader, {id_parameter(reader) or "": created[0]}),
            identity=identity,
            operation=reader,
        )

    @staticmethod
    def _report(
        ctx: Context,
        op: OperationSpec,
        names: list[str],
        detail: str,
        severity: Severity | None,
        evidence: list[ScanResponse],
    ) -> None:
        if not names:
            return
        kind = "privileged" if detail == "privileged_property_accepted" else "read-only"
        ctx.problem(
            detail=detail,
            operation=op.key,
            severity=severity,
            message=(
                f"Expected the {kind} properties a caller sent to be ignored or refused; the API "
                f"accepted and kept: {', '.join(sorted(names))}."
            ),
            responses=evidence,
        )
