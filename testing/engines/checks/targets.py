"""A ``Target``'s operations from an OpenAPI 3.0/3.1 document (pure engine: no Django import).

    operations = operations_from_openapi(document)     # tuple[OperationSpec, ...]
    target = Target(base_url=..., operations=operations, ...)

For each documented operation: method, path, operationId, ``auth_required`` (the operation's
``security``, else the document's; an empty list, or a ``{}`` requirement among the alternatives,
means anonymous callers are allowed, as in ``inventory.engines.openapi``), the parameters (path-level
merged with operation-level, the operation's winning on the same name and location), the JSON
request body schema and, per documented status, the JSON response schema (or None).

The document comes from users, so it is hostile until proven otherwise, even after the inventory
validated it (this also runs on documents that were never uploaded, such as the demo target's own).
Local ``$ref``s (``#/...`` JSON pointers) are resolved by copying, and the copying is bounded:

* a ``$ref`` met again inside its own expansion (a cycle) becomes ``{}``;
* at most ``MAX_DEPTH`` nested levels of the copy (a deeper part becomes ``{}``);
* at most ``MAX_NODES`` values copied for the whole document (a "ref bomb" where each schema refers
  to the next one twice would be 2^n nodes); a part being copied when it runs out is cut short, and
  every later part is left out (no schema, no parameter) rather than half-read;
* remote and malformed ``$ref``s (``other.yaml#/x``, ``https://...``) and ones that point nowhere
  become ``{}``: nothing is ever fetched.

At most ``MAX_OPERATIONS`` operations are read, ``MAX_PARAMETERS`` parameters and ``MAX_RESPONSES``
responses per operation; anything that is not the expected shape is skipped, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from testing.engines.checks.base import OperationSpec

MAX_DEPTH = 32  # nested levels of one copied value (refs followed included)
MAX_NODES = 50_000  # values copied for the whole document
MAX_OPERATIONS = 2000
MAX_PARAMETERS = 100
MAX_RESPONSES = 50
MAX_REF = 1024  # characters of a $ref worth looking at
MAX_PATH = 2048

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class _Resolver:
    """Copies parts of one document with its local ``$ref``s resolved, within one node budget."""

    def __init__(self, document: Mapping[str, Any], max_nodes: int = MAX_NODES) -> None:
        self.document = document
        self.left = max_nodes

    def target(self, ref: str) -> Any:
        """What the local JSON pointer ``ref`` points at, or None (remote, malformed, dangling)."""
        if len(ref) > MAX_REF or not ref.startswith("#"):
            return None
        pointer = unquote(ref[1:])
        if pointer == "":
            return self.document
        if not pointer.startswith("/"):
            return None
        node: Any = self.document
        for raw in pointer[1:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping):
                if part not in node:
                    return None
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return None
        return node

    def deref(self, node: Any, seen: tuple[str, ...] = ()) -> tuple[Any, tuple[str, ...]]:
        """``node`` with a chain of ``$ref``s followed (not copied), and the refs followed."""
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen or len(seen) >= MAX_DEPTH:
                return {}, seen
            seen = (*seen, ref)
            found = self.target(ref)
            node = {} if found is None else found
        return node, seen

    def copy(self, node: Any, seen: tuple[str, ...] = (), depth: int = 0) -> Any:
        """A resolved copy of ``node``: plain dicts, lists and scalars, bounded as the module says."""
        node, seen = self.deref(node, seen)
        if self.left <= 0:
            return None  # only ever a top-level call: loops below stop before the budget runs out
        self.left -= 1
        if isinstance(node, Mapping | list) and depth >= MAX_DEPTH - 1:
            return {} if isinstance(node, Mapping) else []
        if isinstance(node, Mapping):
            out: dict[str, Any] = {}
            for key, value in node.items():
                if self.left <= 0:
                    break
                out[str(key)] = self.copy(value, seen, depth + 1)
            return out
        if isinstance(node, list):
            items: list[Any] = []
            for value in node:
                if self.left <= 0:
                    break
                items.append(self.copy(value, seen, depth + 1))
            return items
        if node is None or isinstance(node, str | int | float | bool):
            return node
        return str(node)  # a YAML date or other scalar the loader produced


def _auth_required(requirements: Any) -> bool:
    """Whether a caller must authenticate: a non-empty list of non-empty requirements."""
    if not isinstance(requirements, list) or not requirements:
        return False
    return all(isinstance(req, Mapping) and req for req in requirements)


def _json_media(content: Any) -> Any:
    """The media type object of a content map that carries JSON, or None."""
    if not isinstance(content, Mapping):
        return None
    names = [name for name in content if isinstance(name, str)]
    for wanted in (
        lambda n: n.split(";")[0].strip().lower() == "application/json",
        lambda n: n.split(";")[0].strip().lower().endswith("+json"),
        lambda n: "json" in n.lower(),
    ):
        for name in names:
            if wanted(name):
                return content[name]
    return None


def _schema_of(resolver: _Resolver, holder: Any) -> dict[str, Any] | None:
    """The resolved JSON schema of a request body or response object, or None."""
    holder, seen = resolver.deref(holder)
    if not isinstance(holder, Mapping):
        return None
    media, seen = resolver.deref(_json_media(holder.get("content")), seen)
    if not isinstance(media, Mapping) or "schema" not in media:
        return None
    schema = resolver.copy(media["schema"], seen)
    return schema if isinstance(schema, dict) else None


def _parameters(resolver: _Resolver, path_level: Any, op_level: Any) -> tuple[dict[str, Any], ...]:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for source in (path_level, op_level):
        for raw in (source if isinstance(source, list) else [])[:MAX_PARAMETERS]:
            param = resolver.copy(raw)
            if not isinstance(param, dict) or not isinstance(param.get("name"), str):
                continue
            merged[(param["name"], str(param.get("in", "")))] = param
    return tuple(merged.values())[:MAX_PARAMETERS]


def _responses(resolver: _Resolver, responses: Any) -> dict[str, dict[str, Any] | None]:
    responses, _ = resolver.deref(responses)
    out: dict[str, dict[str, Any] | None] = {}
    if not isinstance(responses, Mapping):
        return out
    for code, raw in list(responses.items())[:MAX_RESPONSES]:
        status = str(code)
        if status.startswith("x-"):
            continue
        out[status.upper() if status.lower() != "default" else "default"] = _schema_of(resolver, raw)
    return out


def operations_from_openapi(
    document: Mapping[str, Any], *, max_nodes: int = MAX_NODES
) -> tuple[OperationSpec, ...]:
    """Every documented operation of ``document``, in document order; see the module docstring."""
    if not isinstance(document, Mapping):
        return ()
    resolver = _Resolver(document, max_nodes)
    paths, _ = resolver.deref(document.get("paths"))
    if not isinstance(paths, Mapping):
        return ()
    global_security = document.get("security")
    operations: list[OperationSpec] = []
    for path, raw_item in paths.items():
        if not isinstance(path, str) or not path.startswith("/") or len(path) > MAX_PATH:
            continue  # x- extensions, garbage
        item, _ = resolver.deref(raw_item)
        if not isinstance(item, Mapping):
            continue
        for method, raw_op in item.items():
            if len(operations) >= MAX_OPERATIONS:
                return tuple(operations)
            if method not in HTTP_METHODS or not isinstance(raw_op, Mapping):
                continue
            operation_id = raw_op.get("operationId")
            operations.append(
                OperationSpec(
                    method=method.upper(),
                    path=path,
                    operation_id=operation_id[:200] if isinstance(operation_id, str) else "",
                    auth_required=_auth_required(raw_op.get("security", global_security)),
                    parameters=_parameters(resolver, item.get("parameters"), raw_op.get("parameters")),
                    request_schema=_schema_of(resolver, raw_op.get("requestBody")),
                    responses=_responses(resolver, raw_op.get("responses")),
                )
            )
    return tuple(operations)
