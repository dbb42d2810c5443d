"""OpenAPI 3.0/3.1 documents: load untrusted bytes safely, validate, list operations, diff versions.

Pure engine (no Django): stdlib, PyYAML (libyaml) and ``openapi_validation`` (jsonschema-rs, and
openapi-spec-validator's meta-schemas and rules).

Everything that can go wrong with an uploaded file ends in ``SpecError`` with a short message that says
where the problem is (a JSON path such as ``paths./users.get.responses`` or a line number). The loader is
defensive because the bytes come from users:

* size is checked before anything else is done with the data;
* YAML goes through a ``SafeLoader`` subclass that bounds aliases (count *and* how many nodes they
  expand to, so a "billion laughs" document is refused while parsing, with bounded memory) and nesting;
* every ``$ref`` must be a local JSON pointer that resolves inside the document, checked before the
  validator runs, so the validator never fetches a file or URL and never loops on a ``$ref`` cycle.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from inventory.engines import openapi_validation, yaml_safe

logger = logging.getLogger(__name__)

MAX_DEPTH = 64  # nesting levels of mappings/sequences
MAX_REF_HOPS = 32  # a $ref pointing at a $ref pointing at ...
MAX_TEXT = 500  # summaries and response descriptions
MAX_PATH = 500  # a path template is stored whole (it names the operation), so a longer one is refused
MAX_VALIDATION_MESSAGE = 300
MAX_VALUES = 1_000_000  # a 10 MB document with 4,000 operations holds ~500,000 (see yaml_safe.MAX_NODES)

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_VERSION_RE = re.compile(r"^3\.([01])\.\d+(?:-[0-9A-Za-z.-]+)?$")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_LOOKS_LIKE_JSON_RE = re.compile(r'\s*(?:\[|\{\s*(?:"|\}))')
_TEMPLATE_VAR_RE = re.compile(r"\{[^{}/]*\}")


class SpecError(ValueError):
    """The uploaded document cannot be used; the message is meant for the user."""


@dataclass(frozen=True)
class ParsedOperation:
    method: str
    path: str
    operation_id: str
    summary: str
    auth_required: bool
    deprecated: bool
    parameters: list[dict[str, Any]]
    responses: dict[str, str]


@dataclass(frozen=True)
class ParsedSpec:
    format: str
    openapi_version: str
    title: str
    info_version: str
    document: dict[str, Any]
    operations: list[ParsedOperation]


@dataclass(frozen=True)
class SpecDiff:
    added: list[tuple[str, str]]
    removed: list[tuple[str, str]]
    changed: list[dict[str, Any]]

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


# --- Locations ------------------------------------------------------------------------------------------


def _fmt_path(parts: Iterable[Any]) -> str:
    """``["paths", "/users", "get", "parameters", 0]`` → ``paths./users.get.parameters[0]``; a long
    key is shortened, and so is the whole location, so a message stays short whatever the keys."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = _short(part, 80)
            out += f".{text}" if out else text
    return _short(out, 200) or "(document root)"


def _short(value: Any, limit: int) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- Loading --------------------------------------------------------------------------------------------


def _load_yaml(text: str) -> Any:
    try:
        return yaml_safe.load_text(text)
    except yaml_safe.YamlError as exc:
        raise SpecError(str(exc)) from None


def _no_constants(name: str) -> Any:
    raise SpecError(f"Malformed JSON: {name} is not allowed.")


class _UniquePairs:
    """json's object hook: refuses duplicate keys, and stops at MAX_VALUES objects (each costs a
    Python call, so ten megabytes of ``[{},{},…`` must not run to the end)."""

    def __init__(self) -> None:
        self.objects = 0

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        self.objects += 1
        if self.objects > MAX_VALUES:
            raise SpecError(_too_many_values())
        out = dict(pairs)
        if len(out) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise SpecError(f"Malformed JSON: duplicate key {_short(key, 80)!r}.")
                seen.add(key)
        return out


def _too_many_values() -> str:
    return f"The document holds too many values (more than {MAX_VALUES:,}); a 10 MB OpenAPI document holds about 500,000."


def _load_json(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_no_constants, object_pairs_hook=_UniquePairs())
    except json.JSONDecodeError as exc:
        raise SpecError(f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.") from None
    except RecursionError:
        raise SpecError(f"Document nested deeper than {MAX_DEPTH} levels.") from None


def _bad_chars(text: str) -> bool:
    """A NUL or a lone surrogate (ASCII text, nearly all of it, is checked without a regex scan)."""
    return "\x00" in text or (not text.isascii() and _SURROGATE_RE.search(text) is not None)


class _Normalizer:
    """Copy loaded data into plain JSON types, enforce the depth limit and collect every ``$ref``."""

    def __init__(self) -> None:
        self.refs: list[tuple[str, tuple[Any, ...]]] = []
        self._path: list[Any] = []
        self._count = 0

    def _fail(self, message: str) -> SpecError:
        return SpecError(f"{message} at {_fmt_path(self._path)}.")

    def value(self, obj: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise self._fail(f"Document nested deeper than {MAX_DEPTH} levels")
        self._count += 1
        if self._count > MAX_VALUES:
            raise SpecError(_too_many_values())
        if obj is None or isinstance(obj, bool | int):
            return obj
        if isinstance(obj, str):
            if _bad_chars(obj):
                raise self._fail("Text with a NUL or invalid Unicode character")
            return obj
        if isinstance(obj, float):
            if not math.isfinite(obj):
                raise self._fail("Non-finite number (NaN or infinity)")
            return obj
        if isinstance(obj, dict):
            out: dict[str, Any] = {}
            for key, val in obj.items():
                if isinstance(key, bool) or not isinstance(key, str | int):
                    raise self._fail(f"Unsupported mapping key {_short(repr(key), 60)} (keys must be text)")
                skey = str(key)
                if _bad_chars(skey):
                    raise self._fail("Key with a NUL or invalid Unicode character")
                if skey in out:
                    raise self._fail(f"Duplicate key {_short(skey, 60)!r}")
                self._path.append(skey)
                out[skey] = self.value(val, depth + 1)
                if skey == "$ref" and isinstance(val, str):
                    self.refs.append((val, tuple(self._path[:-1])))
                self._path.pop()
            return out
        if isinstance(obj, list):
            items = []
            for i, val in enumerate(obj):
                self._path.append(i)
                items.append(self.value(val, depth + 1))
                self._path.pop()
            return items
        raise self._fail(
            f"Unsupported value of type {type(obj).__name__} (only plain JSON/YAML data is accepted)"
        )


# --- $ref -----------------------------------------------------------------------------------------------


def _pointer_target(doc: Any, ref: str) -> tuple[bool, Any]:
    """Resolve a local ``#/a/b`` pointer; ``(found, value)``."""
    fragment = unquote(ref[1:])
    if fragment == "":
        return True, doc
    node = doc
    for raw in fragment[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False, None
    return True, node


def _check_refs(doc: dict[str, Any], refs: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Every ``$ref`` must be a local JSON pointer that resolves, without a pure ``$ref`` → ``$ref`` cycle."""
    for ref, where in refs:  # external first: those are the dangerous ones
        if not ref.startswith("#"):
            raise SpecError(
                f"External $ref {_short(ref, 120)!r} at {_fmt_path(where)} refused: "
                "the portal does not fetch files or URLs."
            )
    hops: dict[str, int] = {}  # ref → how many resolutions reach something that is not a $ref
    for ref, where in refs:
        if ref != "#" and not ref.startswith("#/"):
            raise SpecError(
                f'$ref {_short(ref, 120)!r} at {_fmt_path(where)} is not a JSON pointer ("#/...").'
            )
        if ref not in hops:
            _follow(doc, ref, where, hops)


def _follow(doc: dict[str, Any], ref: str, where: tuple[Any, ...], hops: dict[str, int]) -> None:
    """Follow ``ref`` through ``$ref`` → ``$ref`` links until a definition; remember the length of
    every link on the way, so that many references into one long chain cost it once."""
    chain: list[str] = []
    on_chain: set[str] = set()
    current = ref
    rest = 0
    while True:
        if current in hops:
            rest = hops[current]
            break
        if current in on_chain:
            raise SpecError(
                f"$ref cycle at {_fmt_path(where)}: {_short(ref, 120)!r} never reaches a definition."
            )
        found, target = _pointer_target(doc, current)
        if not found:
            raise SpecError(
                f"$ref {_short(current, 120)!r} at {_fmt_path(where)} points to nothing in this document."
            )
        chain.append(current)
        on_chain.add(current)
        nxt = target.get("$ref") if isinstance(target, dict) else None
        if not isinstance(nxt, str):
            rest = 0
            break
        if len(chain) >= MAX_REF_HOPS:
            raise SpecError(f"$ref chain at {_fmt_path(where)} is longer than {MAX_REF_HOPS} hops.")
        current = nxt
    for distance, link in enumerate(reversed(chain), start=1):
        hops[link] = rest + distance
    if hops[ref] > MAX_REF_HOPS:
        raise SpecError(f"$ref chain at {_fmt_path(where)} is longer than {MAX_REF_HOPS} hops.")


def _resolve(doc: dict[str, Any], node: Any) -> Any:
    """Follow local ``$ref`` chains (cycle-safe); unresolvable or cyclic references give ``{}``."""
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen or len(seen) >= MAX_REF_HOPS or not (ref == "#" or ref.startswith("#/")):
            return {}
        seen.add(ref)
        found, node = _pointer_target(doc, ref)
        if not found:
            return {}
    return node


# --- Validation -----------------------------------------------------------------------------------------


def _validate(doc: dict[str, Any], minor: str) -> None:
    try:
        openapi_validation.validate(doc, minor=minor)
    except openapi_validation.Invalid as exc:
        raise SpecError(
            f"Invalid OpenAPI document at {_fmt_path(exc.where)}: {_short(exc.message, MAX_VALIDATION_MESSAGE)}"
        ) from None
    except RecursionError:
        raise SpecError("The document could not be validated: its references nest too deeply.") from None
    except Exception as exc:  # the validators have many failure modes; none may escape as a 500
        logger.info("openapi validator failed", exc_info=True)
        raise SpecError(f"The document could not be validated ({type(exc).__name__}).") from None


# --- Parsing --------------------------------------------------------------------------------------------


def _decode(data: bytes, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise SpecError(f"The file is too large ({len(data):,} bytes; the limit is {max_bytes:,}).")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"The file is not UTF-8 text (invalid byte at offset {exc.start}).") from None
    if not text.strip():
        raise SpecError("The file is empty.")
    return text


def _check_version(doc: dict[str, Any]) -> tuple[str, str]:
    if "swagger" in doc:
        raise SpecError("Swagger 2.0 is not supported; convert it to OpenAPI 3.x.")
    version = doc.get("openapi")
    if version is None:
        raise SpecError("Not an OpenAPI document: the top-level 'openapi' field is missing.")
    if not isinstance(version, str):
        raise SpecError(
            f"The 'openapi' field must be a version string such as \"3.0.3\" (got {_short(repr(version), 40)}; "
            "quote it in YAML)."
        )
    match = _VERSION_RE.match(version)
    if not match:
        raise SpecError(
            f'OpenAPI version {_short(version, 40)!r} is not supported; expected 3.0.x or 3.1.x (such as "3.0.3").'
        )
    return version, match.group(1)


def parse_spec(data: bytes, *, max_bytes: int = 10 * 1024 * 1024) -> ParsedSpec:
    """Load, validate and summarise an OpenAPI 3.0/3.1 document (JSON or YAML). Raises ``SpecError`` only."""
    try:
        return _parse(data, max_bytes)
    except SpecError:
        raise
    except RecursionError:
        raise SpecError(f"Document nested deeper than {MAX_DEPTH} levels.") from None
    except Exception as exc:  # a bug or an input we did not foresee must still read as a bad upload
        logger.exception("unexpected error while parsing an OpenAPI document")
        raise SpecError(f"The document could not be read ({type(exc).__name__}).") from None


def _parse(data: bytes, max_bytes: int) -> ParsedSpec:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SpecError("The document must be bytes.")
    data = bytes(data)
    text = _decode(data, max_bytes)
    if _LOOKS_LIKE_JSON_RE.match(text):  # `{openapi: 3.0.3, ...}` (unquoted key) is YAML flow style
        fmt, loaded = "json", _load_json(text)
    else:
        fmt, loaded = "yaml", _load_yaml(text)
    if loaded is None:
        raise SpecError("The file is empty.")
    if not isinstance(loaded, dict):
        raise SpecError(f"The top level of the document must be a mapping (got {_kind(loaded)}).")
    normalizer = _Normalizer()
    doc = normalizer.value(loaded)
    version, minor = _check_version(doc)
    _check_refs(doc, normalizer.refs)
    _validate(doc, minor)
    info = doc.get("info") or {}
    return ParsedSpec(
        format=fmt,
        openapi_version=version,
        title=str(info.get("title", "")),
        info_version=str(info.get("version", "")),
        document=doc,
        operations=_operations(doc),
    )


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    return "a single value"


def _text(value: Any) -> str:
    return _short(value, MAX_TEXT) if isinstance(value, str) else ""


def _schema_type(doc: dict[str, Any], schema: Any) -> str:
    schema = _resolve(doc, schema)
    if not isinstance(schema, dict):
        return ""
    kind = schema.get("type")
    if isinstance(kind, str):
        return kind
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind)
    return ""


def _parameters(doc: dict[str, Any], path_params: Any, op_params: Any) -> list[dict[str, Any]]:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for source in (path_params, op_params):
        for raw in source if isinstance(source, list) else []:
            param = _resolve(doc, raw)
            if not isinstance(param, dict) or not isinstance(param.get("name"), str):
                continue
            where = str(param.get("in", ""))
            merged[(param["name"], where)] = {
                "name": param["name"],
                "in": where,
                "required": where == "path" or param.get("required") is True,
                "schema_type": _schema_type(doc, param.get("schema")),
            }
    return list(merged.values())


def _responses(doc: dict[str, Any], responses: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for code, raw in (responses or {}).items() if isinstance(responses, dict) else ():
        if code.startswith("x-"):
            continue
        description = raw.get("description") if isinstance(raw, dict) else None  # 3.1 $ref may override
        if not isinstance(description, str):
            target = _resolve(doc, raw)
            description = target.get("description") if isinstance(target, dict) else ""
        out[code.upper() if code.lower() != "default" else "default"] = _text(description)
    return out


def _auth_required(requirements: Any) -> bool:
    if not isinstance(requirements, list) or not requirements:
        return False
    return all(isinstance(req, dict) and req for req in requirements)


def _operations(doc: dict[str, Any]) -> list[ParsedOperation]:
    operations: list[ParsedOperation] = []
    paths = doc.get("paths")
    if not isinstance(paths, dict):
        return operations
    global_security = doc.get("security")
    for path, raw_item in paths.items():
        if not path.startswith("/"):
            continue  # x- extensions
        if len(path) > MAX_PATH:
            raise SpecError(f"The path {_short(path, 60)} is longer than {MAX_PATH} characters.")
        item = _resolve(doc, raw_item)
        if not isinstance(item, dict):
            continue
        for method, raw_op in item.items():
            if method not in HTTP_METHODS or not isinstance(raw_op, dict):
                continue
            security = raw_op.get("security", global_security)
            operation_id = raw_op.get("operationId")
            operations.append(
                ParsedOperation(
                    method=method.upper(),
                    path=path,
                    operation_id=operation_id if isinstance(operation_id, str) else "",
                    summary=_text(raw_op.get("summary")),
                    auth_required=_auth_required(security),
                    deprecated=raw_op.get("deprecated") is True,
                    parameters=_parameters(doc, item.get("parameters"), raw_op.get("parameters")),
                    responses=_responses(doc, raw_op.get("responses")),
                )
            )
    return operations


# --- Diff -----------------------------------------------------------------------------------------------


def _template_key(path: str) -> str:
    return _TEMPLATE_VAR_RE.sub("{}", path)


def _match(
    old: list[ParsedOperation], new: list[ParsedOperation]
) -> list[tuple[ParsedOperation, ParsedOperation]]:
    """Pair operations: same method and path, else same method and path shape when that is unambiguous
    (``/users/{id}`` renamed to ``/users/{userId}`` is a change, not a removal plus an addition)."""
    old_by_key = {(o.method, o.path): o for o in old}
    pairs = []
    unmatched_new = []
    for op in new:
        prev = old_by_key.pop((op.method, op.path), None)
        if prev is None:
            unmatched_new.append(op)
        else:
            pairs.append((prev, op))

    def by_shape(ops: Iterable[ParsedOperation]) -> dict[tuple[str, str], list[ParsedOperation]]:
        groups: dict[tuple[str, str], list[ParsedOperation]] = {}
        for o in ops:
            groups.setdefault((o.method, _template_key(o.path)), []).append(o)
        return groups

    old_shapes = by_shape(old_by_key.values())
    new_shapes = by_shape(unmatched_new)
    for key, news in new_shapes.items():
        olds = old_shapes.get(key, [])
        if len(news) == 1 and len(olds) == 1:
            pairs.append((olds[0], news[0]))
    return pairs


def _param_key(param: dict[str, Any]) -> tuple[str, str]:
    return (str(param.get("name", "")), str(param.get("in", "")))


def _operation_changes(old: ParsedOperation, new: ParsedOperation) -> list[str]:
    changes: list[str] = []
    if old.path != new.path:
        changes.append(f"path parameters renamed (was {old.path})")
    if old.operation_id != new.operation_id:
        changes.append(
            f"operationId changed from {old.operation_id or '(none)'!r} to {new.operation_id or '(none)'!r}"
        )
    if old.deprecated != new.deprecated:
        changes.append("now deprecated" if new.deprecated else "no longer deprecated")
    if old.auth_required != new.auth_required:
        changes.append("auth now required" if new.auth_required else "auth no longer required")
    old_params = {_param_key(p): p for p in old.parameters}
    new_params = {_param_key(p): p for p in new.parameters}
    for key, param in new_params.items():
        label = f"parameter {key[0]} ({key[1]})"
        before = old_params.get(key)
        if before is None:
            changes.append(f"{label} added" + (" (required)" if param.get("required") else ""))
            continue
        if bool(before.get("required")) != bool(param.get("required")):
            changes.append(
                f"{label} now required" if param.get("required") else f"{label} no longer required"
            )
        old_type, new_type = before.get("schema_type") or "", param.get("schema_type") or ""
        if old_type != new_type:
            changes.append(
                f"{label} type changed from {old_type or 'unspecified'} to {new_type or 'unspecified'}"
            )
    for key in old_params.keys() - new_params.keys():
        changes.append(f"parameter {key[0]} ({key[1]}) removed")
    for code in sorted(new.responses.keys() - old.responses.keys()):
        changes.append(f"response {code} added")
    for code in sorted(old.responses.keys() - new.responses.keys()):
        changes.append(f"response {code} removed")
    return changes


def _order(op: tuple[str, str]) -> tuple[str, int, str]:
    method, path = op
    rank = HTTP_METHODS.index(method.lower()) if method.lower() in HTTP_METHODS else len(HTTP_METHODS)
    return (path, rank, method)


def diff_operations(old: list[ParsedOperation], new: list[ParsedOperation]) -> SpecDiff:
    """What changed between two versions of an API's operations."""
    pairs = _match(old, new)
    matched_old = {(o.method, o.path) for o, _ in pairs}
    matched_new = {(n.method, n.path) for _, n in pairs}
    added = sorted({(o.method, o.path) for o in new} - matched_new, key=_order)
    removed = sorted({(o.method, o.path) for o in old} - matched_old, key=_order)
    changed = []
    for before, after in sorted(pairs, key=lambda p: _order((p[1].method, p[1].path))):
        changes = _operation_changes(before, after)
        if changes:
            changed.append({"method": after.method, "path": after.path, "changes": changes})
    return SpecDiff(added=added, removed=removed, changed=changed)
