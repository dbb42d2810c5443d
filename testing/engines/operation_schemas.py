"""Request and response JSON schemas of an OpenAPI document's operations, ``$ref``s inlined, bounded
(pure engine: no Django import).

    schemas = operation_schemas(document)          # (METHOD, path) → OperationSchemas

The document was validated when it was uploaded (every ``$ref`` is local and resolves), but it is
still the user's: inlining stops at a ``$ref`` cycle (the cyclic part becomes ``{}``), at
``MAX_REF_DEPTH`` nested references, at ``MAX_DEPTH`` levels, and after ``max_nodes`` values per
schema, so a schema that would expand exponentially costs a bounded amount of work and memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MAX_REF_DEPTH = 16
MAX_DEPTH = 48
MAX_NODES = 5000  # values per inlined schema
MAX_OPERATIONS = 1000


MAX_PARAMETERS = 50


@dataclass(frozen=True)
class OperationSchemas:
    request: Mapping[str, Any] | None = None
    # The operation's parameter objects (path-level ones included, the operation's winning), with
    # their schemas and examples, ``$ref``s inlined.
    parameters: tuple[Mapping[str, Any], ...] = ()
    # status ("200", "4XX", "default") → JSON schema of the body, or None when it documents none.
    responses: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)


class _Budget:
    def __init__(self, nodes: int) -> None:
        self.left = nodes


def _pointer(doc: Mapping[str, Any], ref: str) -> Any:
    if ref == "#":
        return doc
    node: Any = doc
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _deref(doc: Mapping[str, Any], node: Any) -> Any:
    """Follow a chain of ``$ref``s at the top of ``node`` (no inlining below it)."""
    seen: set[str] = set()
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen or len(seen) >= MAX_REF_DEPTH or not (ref == "#" or ref.startswith("#/")):
            return None
        seen.add(ref)
        node = _pointer(doc, ref)
    return node


def inline(doc: Mapping[str, Any], node: Any, *, max_nodes: int = MAX_NODES) -> Any:
    """``node`` with its local ``$ref``s replaced by what they point at, within the bounds above."""
    return _inline(doc, node, (), 0, _Budget(max_nodes))


def _inline(doc: Mapping[str, Any], node: Any, refs: tuple[str, ...], depth: int, budget: _Budget) -> Any:
    budget.left -= 1
    if budget.left < 0 or depth > MAX_DEPTH:
        return {}
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in refs or len(refs) >= MAX_REF_DEPTH or not (ref == "#" or ref.startswith("#/")):
                return {}
            target = _pointer(doc, ref)
            return {} if target is None else _inline(doc, target, (*refs, ref), depth + 1, budget)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if budget.left < 0:
                break
            out[str(key)] = _inline(doc, value, refs, depth + 1, budget)
        return out
    if isinstance(node, list):
        items = []
        for value in node:
            if budget.left < 0:
                break
            items.append(_inline(doc, value, refs, depth + 1, budget))
        return items
    return node


def _json_schema(doc: Mapping[str, Any], holder: Any, max_nodes: int) -> Mapping[str, Any] | None:
    """The JSON body schema of a request body or response object, if it documents one."""
    holder = _deref(doc, holder)
    content = holder.get("content") if isinstance(holder, Mapping) else None
    if not isinstance(content, Mapping):
        return None
    for media, entry in content.items():
        kind = str(media).split(";")[0].strip().lower()
        if (kind == "application/json" or kind.endswith("+json")) and isinstance(entry, Mapping):
            schema = entry.get("schema")
            if schema is None:
                return None
            inlined = inline(doc, schema, max_nodes=max_nodes)
            return inlined if isinstance(inlined, dict) else None
    return None


def _parameters(
    doc: Mapping[str, Any], path_level: Any, op_level: Any, max_nodes: int
) -> tuple[Mapping[str, Any], ...]:
    merged: dict[tuple[str, str], Mapping[str, Any]] = {}
    for source in (path_level, op_level):
        for raw in (source if isinstance(source, list) else [])[:MAX_PARAMETERS]:
            param = inline(doc, raw, max_nodes=max_nodes)
            if isinstance(param, dict) and isinstance(param.get("name"), str):
                merged[(param["name"], str(param.get("in", "")))] = param
    return tuple(merged.values())[:MAX_PARAMETERS]


def operation_schemas(
    document: Mapping[str, Any],
    *,
    only: set[tuple[str, str]] | None = None,
    max_operations: int = MAX_OPERATIONS,
    max_nodes: int = MAX_NODES,
) -> dict[tuple[str, str], OperationSchemas]:
    """The schemas of each operation (``only`` those keys when given), at most ``max_operations``."""
    out: dict[tuple[str, str], OperationSchemas] = {}
    paths = document.get("paths") if isinstance(document, Mapping) else None
    if not isinstance(paths, Mapping):
        return out
    for path, raw_item in paths.items():
        item = _deref(document, raw_item)
        if not isinstance(path, str) or not path.startswith("/") or not isinstance(item, Mapping):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            key = (method.upper(), path)
            if not isinstance(op, Mapping) or (only is not None and key not in only):
                continue
            if len(out) >= max_operations:
                return out
            responses: dict[str, Mapping[str, Any] | None] = {}
            raw_responses = op.get("responses")
            if isinstance(raw_responses, Mapping):
                for code, response in raw_responses.items():
                    code = str(code)
                    if code.startswith("x-"):
                        continue
                    name = "default" if code.lower() == "default" else code.upper()
                    responses[name] = _json_schema(document, response, max_nodes)
            out[key] = OperationSchemas(
                request=_json_schema(document, op.get("requestBody"), max_nodes),
                responses=responses,
                parameters=_parameters(document, item.get("parameters"), op.get("parameters"), max_nodes),
            )
    return out
