"""Is a loaded OpenAPI 3.0/3.1 document valid? Fast on big documents, exact about where it is not.

Pure engine (no Django). Called by ``openapi.parse_spec`` after the ``$ref`` check, so every
``$ref`` here is a local JSON pointer that resolves: nothing in this module fetches a file or URL
(jsonschema-rs gets no retriever, the value validator's registry holds only this document, and
the checks below resolve local pointers themselves).

Two passes, both linear in the document:

1. **The meta-schema** (openapi-spec-validator's OpenAPI 3.0/3.1 schema), through jsonschema-rs:
   a yes/no in tens of milliseconds on 10 MB, where jsonschema in Python takes seconds.
2. **The rules the meta-schema cannot say**, the ones openapi-spec-validator 0.9 adds, walked on
   the plain data: unique ``operationId``s, path parameters declared and used, no duplicate
   parameter or tag, ``required`` naming defined properties under ``allOf``, each schema valid
   for its dialect (3.1), regular expressions well formed, and every schema ``default`` valid
   against its schema. Defaults are checked with a jsonschema validator whose ``pattern``,
   ``patternProperties``, ``additionalProperties`` and ``regex`` format run on RE2
   (``user_regex``): an uploader's regular expression never runs on Python's ``re``. Compiling
   them has a budget per document; patterns beyond it are not checked.
   ``unevaluatedProperties`` is not checked on defaults (jsonschema's implementation would run
   ``patternProperties`` on ``re``).

Only when the meta-schema says no does jsonschema (Python) run, with the same meta-schema, to say
where: on the part of the document jsonschema-rs pointed at (one path item or component), so an
invalid 10 MB upload costs what an invalid small one does. Its messages are the same whether or
not openapi-spec-validator would itself pick jsonschema-rs. Nothing is cached between calls except
the meta-schemas and their validators, loaded once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from functools import cache
from typing import Any
from urllib.parse import unquote

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend, validator_for
from jsonschema_specifications import REGISTRY as SPECIFICATIONS
from openapi_schema_validator import OAS31_BASE_DIALECT_ID, oas30_format_checker, oas31_format_checker
from openapi_schema_validator.validators import OAS30Validator, OAS31Validator
from openapi_spec_validator.schemas.utils import get_schema_content
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

from inventory.engines import user_regex

OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_BASE_URI = "urn:portal:uploaded-openapi-document"
_URL_PARAM_RE = re.compile(r"\{([^{}]*)\}")
_DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

Where = tuple[Any, ...]


class Invalid(ValueError):
    """The document is not valid OpenAPI: ``where`` (a path into it) and a short ``message``."""

    def __init__(self, where: Iterable[Any], message: str) -> None:
        super().__init__(message)
        self.where = tuple(where)
        self.message = message


def validate(doc: dict[str, Any], *, minor: str) -> None:
    """Raise ``Invalid`` unless ``doc`` is a valid OpenAPI 3.``minor`` document."""
    fast, slow = _meta_validators(minor)
    if not fast.is_valid(doc):
        raise _meta_error(doc, fast, slow)
    with user_regex.budget():
        _Rules(doc, minor).check()


# --- The meta-schema ------------------------------------------------------------------------------------


@cache
def _meta_validators(minor: str) -> tuple[Any, Validator]:
    """jsonschema-rs and jsonschema validators for the OpenAPI 3.``minor`` schema (loaded once)."""
    schema = dict(get_schema_content("3.1" if minor == "1" else "3.0"))
    # Formats are not checked here (the rules pass checks regular expressions on RE2).
    fast = jsonschema_rs.validator_for(schema, validate_formats=False)
    slow = validator_for(schema)(schema)
    return fast, slow


def _meta_error(doc: dict[str, Any], fast: Any, slow: Validator) -> Invalid:
    first = next(iter(fast.iter_errors(doc)), None)
    part = _part(doc, list(first.instance_path) if first is not None else [])
    error = next(iter(slow.iter_errors(part)), None) if part is not doc else None
    if error is None:  # the part alone is valid: the cause is elsewhere, so look at the whole
        error = next(iter(slow.iter_errors(doc)), None)
    if error is None:  # the two validators disagree: report what jsonschema-rs said
        where = first.instance_path if first is not None else ()
        return Invalid(where, first.message if first is not None else "invalid document")
    try:
        where, message = describe(error)
    except Exception:  # never let error reporting itself fail
        where, message = (), str(getattr(error, "message", error))
    return Invalid(where, message)


def _part(doc: dict[str, Any], where: list[Any]) -> dict[str, Any]:
    """``doc`` with only the path item, webhook or component at ``where`` kept in its section, so
    describing an error in a big document costs what it does in a small one."""
    keep = {"paths": 2, "webhooks": 2, "components": 3}.get(where[0] if where else "", 0)
    if keep == 0 or len(where) < keep:
        return doc
    part = dict(doc)
    node: Any = part
    for depth, key in enumerate(where[: keep - 1]):
        source = node[key]
        if not isinstance(source, dict):
            return doc
        child = where[depth + 1]
        node[key] = {child: source[child]} if depth == keep - 2 else dict(source)
        node = node[key]
    return part


def describe(error: Any) -> tuple[Iterable[Any], str]:
    """Location and message of the most specific cause of a jsonschema validation error.

    ``oneOf``/``anyOf`` failures print the whole instance; descend into their alternatives instead,
    ignoring the "or it could have been a $ref" branch, and summarise alternatives that only differ in
    which property is missing.
    """
    while getattr(error, "context", None):
        alternatives = [
            c for c in error.context if not (c.validator == "required" and c.message.startswith("'$ref'"))
        ]
        alternatives = alternatives or list(error.context)
        depth = max(len(c.absolute_path) for c in alternatives)
        deepest = [c for c in alternatives if len(c.absolute_path) == depth]
        if len(deepest) > 1 and all(c.validator == "required" for c in deepest):
            names = ", ".join(dict.fromkeys(c.message.split(" is a required property")[0] for c in deepest))
            return deepest[0].absolute_path, f"one of {names} is required"
        error = deepest[0]
    return getattr(error, "absolute_path", ()) or (), str(getattr(error, "message", error))


# --- Values checked against uploaded schemas, with RE2 -------------------------------------------------


def _re2_pattern(validator: Any, pattern: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    if user_regex.search(pattern, instance) is False:  # None: RE2 cannot run it, the check is skipped
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _matching(patterns: Iterable[str], key: str) -> bool:
    return any(user_regex.search(p, key) for p in patterns)


def _re2_pattern_properties(
    validator: Any, patterns: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if user_regex.search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _re2_additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [k for k in instance if k not in properties and not _matching(patterns, k)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif additional is False and extras:
        listed = ", ".join(repr(e) for e in sorted(extras)[:5])
        yield ValidationError(f"Additional properties are not allowed ({listed} unexpected)")


def _not_checked(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    return iter(())


# Checking a default is work an uploader chooses: shared ``$ref``s under anyOf/oneOf make it a tree
# walk exponential in the depth of the chain (8 refs × 6 levels is 8⁶ evaluations from 2 KB). Every
# keyword evaluated spends one unit of a per-document budget; when it runs out, the remaining
# defaults are not checked (the document is accepted, as for a pattern RE2 cannot run). A default
# bigger than ``MAX_DEFAULT_VALUES`` is not checked either: ``uniqueItems`` on a mixed list is
# quadratic in jsonschema.
DEFAULT_CHECK_BUDGET = 20_000
MAX_DEFAULT_VALUES = 500


class _OverBudget(Exception):
    pass


_budget: ContextVar[list[int] | None] = ContextVar("openapi_default_budget", default=None)


def _spending(keyword: Callable[..., Any]) -> Callable[..., Any]:
    def spend(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        left = _budget.get()
        if left is not None:
            left[0] -= 1
            if left[0] < 0:
                raise _OverBudget
        return keyword(validator, value, instance, schema)

    return spend


def _budgeted(base: Any, overrides: dict[str, Any]) -> Any:
    keywords = {**base.VALIDATORS, **overrides}
    return extend(base, {name: _spending(fn) for name, fn in keywords.items()})


def _value_count(value: Any, limit: int) -> int:
    """How many JSON values ``value`` holds, counting no further than ``limit``."""
    count, stack = 0, [value]
    while stack and count <= limit:
        node = stack.pop()
        count += 1
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


_RE2_KEYWORDS = {
    "pattern": _re2_pattern,
    "patternProperties": _re2_pattern_properties,
    "additionalProperties": _re2_additional_properties,
}
_RE2_OAS30 = _budgeted(OAS30Validator, _RE2_KEYWORDS)
_RE2_OAS31 = _budgeted(OAS31Validator, {**_RE2_KEYWORDS, "unevaluatedProperties": _not_checked})


def _re2_format_checker(base: Any) -> Any:
    checker = type(base)(formats=())
    checker.checkers = dict(base.checkers)
    checker.checkers["regex"] = (user_regex.is_valid_syntax, ())
    return checker


_FORMATS = {"0": _re2_format_checker(oas30_format_checker), "1": _re2_format_checker(oas31_format_checker)}


# --- The rules beyond the meta-schema -------------------------------------------------------------------


class _Rules:
    """openapi-spec-validator 0.9's keyword checks, on plain data. The first failure raises."""

    def __init__(self, doc: dict[str, Any], minor: str) -> None:
        self.doc = doc
        self.minor = minor
        self.operation_ids: dict[str, Where] = {}
        self.meta_checked: set[int] = set()
        self.visited: set[int] = set()
        self.acyclic: set[int] = set()
        self._resolver: Any = None
        self.default_budget = [DEFAULT_CHECK_BUDGET]  # keyword evaluations left for checking defaults
        dialect = doc.get("jsonSchemaDialect", OAS31_BASE_DIALECT_ID) if minor == "1" else None
        self.dialect = dialect

    # Following $ref ------------------------------------------------------------------------------------

    def deref(self, node: Any, where: Where) -> tuple[Any, Where]:
        """The node a local ``$ref`` chain leads to, and where that is (the refs were checked before)."""
        for _ in range(64):
            ref = node.get("$ref") if isinstance(node, dict) else None
            if not isinstance(ref, str) or not ref.startswith("#"):
                return node, where
            target: Any = self.doc
            parts: list[Any] = []
            token_key: Any
            for raw in unquote(ref[1:]).split("/")[1:]:
                token = raw.replace("~1", "/").replace("~0", "~")
                if isinstance(target, list) and token.isdigit() and int(token) < len(target):
                    target, token_key = target[int(token)], int(token)
                elif isinstance(target, dict) and token in target:
                    target, token_key = target[token], token
                else:
                    return node, where
                parts.append(token_key)
            node, where = target, tuple(parts)
        return node, where

    # The walk ------------------------------------------------------------------------------------------

    def check(self) -> None:
        doc = self.doc
        tags = doc.get("tags")
        if isinstance(tags, list):
            seen: set[Any] = set()
            for i, tag in enumerate(tags):
                name = tag.get("name") if isinstance(tag, dict) else None
                if name in seen:
                    raise Invalid(("tags", i, "name"), f"Duplicate tag name {name!r}")
                seen.add(name)
        paths = doc.get("paths")
        if isinstance(paths, dict):
            for url, raw_item in paths.items():
                if url.startswith("/"):
                    item, where = self.deref(raw_item, ("paths", url))
                    if isinstance(item, dict):
                        self.path_item(url, item, where)
        components = doc.get("components")
        schemas = components.get("schemas") if isinstance(components, dict) else None
        if isinstance(schemas, dict):
            for name, schema in schemas.items():
                self.schema(schema, ("components", "schemas", name))

    def path_item(self, url: str, item: dict[str, Any], where: Where) -> None:
        shared = self.parameters(item.get("parameters"), (*where, "parameters"))
        for method in OPERATIONS:
            operation = item.get(method)
            if isinstance(operation, dict):
                self.operation(url, method, operation, (*where, method), shared)

    def operation(
        self, url: str, method: str, operation: dict[str, Any], where: Where, shared: list[dict[str, Any]]
    ) -> None:
        operation_id = operation.get("operationId")
        if operation_id is not None:
            if operation_id in self.operation_ids:
                raise Invalid(
                    (*where, "operationId"),
                    f"Operation ID {operation_id!r} for {method!r} in {url!r} is not unique",
                )
            self.operation_ids[operation_id] = where
        responses, responses_at = self.deref(operation.get("responses"), (*where, "responses"))
        for code, raw in responses.items() if isinstance(responses, dict) else ():
            response, response_at = self.deref(raw, (*responses_at, code))
            content = response.get("content") if isinstance(response, dict) else None
            content, content_at = self.deref(content, (*response_at, "content"))
            for media_type, raw_media in content.items() if isinstance(content, dict) else ():
                media, media_at = self.deref(raw_media, (*content_at, media_type))
                if isinstance(media, dict) and "schema" in media:
                    self.schema(media["schema"], (*media_at, "schema"))
        own = self.parameters(operation.get("parameters"), (*where, "parameters"))
        declared: set[str] = {
            p["name"] for p in [*own, *shared] if p.get("in") == "path" and isinstance(p.get("name"), str)
        }
        in_url = {name for name in _URL_PARAM_RE.findall(url) if name}
        unresolved = sorted(in_url ^ declared)
        if unresolved:
            raise Invalid(
                where,
                f"Path parameter {unresolved[0]!r} for {method!r} operation in {url!r} was not resolved",
            )

    def parameters(self, raw: Any, where: Where) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        params, where = self.deref(raw, where)
        seen: set[tuple[Any, Any]] = set()
        for i, raw_param in enumerate(params) if isinstance(params, list) else ():
            param, param_at = self.deref(raw_param, (*where, i))
            if not isinstance(param, dict):
                continue
            if "schema" in param:
                self.schema(param["schema"], (*param_at, "schema"))
            key = (param.get("name"), param.get("in"))
            if key in seen:
                raise Invalid(param_at, f"Duplicate parameter {param.get('name')!r}")
            seen.add(key)
            out.append(param)
        return out

    # Schemas -------------------------------------------------------------------------------------------

    def schema(self, node: Any, where: Where) -> None:
        """openapi-spec-validator's SchemaValidator, iterative (a long chain of schemas that
        reference each other must not exhaust the stack)."""
        stack: list[tuple[Any, Where, bool, bool]] = [(node, where, True, False)]
        while stack:
            raw, at, require_properties, meta_checked = stack.pop()
            value, at = self.deref(raw, at)
            if not isinstance(value, dict | bool):
                raise Invalid(at, f"{_short_repr(value)} is not of type 'object', 'boolean'")
            key = id(value)
            if not meta_checked and key not in self.meta_checked:
                self.meta_checked.add(key)
                self.schema_meta(value, at)
            if key in self.visited or isinstance(value, bool):
                continue
            self.visited.add(key)
            self.no_combinator_cycle(value, at)
            children: list[tuple[Any, Where, bool, bool]] = []
            nested: set[Any] = set()
            for keyword in ("allOf", "anyOf", "oneOf"):
                for i, inner in enumerate(value.get(keyword) or ()):
                    children.append((inner, (*at, keyword, i), False, True))
                    if keyword == "allOf":
                        nested |= self.properties_of(inner, (*at, keyword, i))
            for keyword in ("not", "items"):
                if keyword in value:
                    children.append((value[keyword], (*at, keyword), False, True))
            properties = value.get("properties")
            for name, prop in properties.items() if isinstance(properties, dict) else ():
                children.append((prop, (*at, "properties", name), False, True))
            if "allOf" in value and require_properties:
                required = value.get("required") or []
                extra = sorted({str(r) for r in required} - set(properties or ()) - {str(n) for n in nested})
                if extra:
                    raise Invalid((*at, "required"), f"Required list has not defined properties: {extra}")
            if "default" in value:
                default = value["default"]
                if default is not None or value.get("nullable") is not True:
                    self.value(value, default, (*at, "default"))
            stack.extend(reversed(children))

    def no_combinator_cycle(self, value: dict[str, Any], where: Where) -> None:
        """A schema must not contain itself through allOf/anyOf/oneOf/not alone: validating anything
        against it would never end. Depth-first, each schema finished once (``self.acyclic``)."""
        stack: list[tuple[int, Any, Iterator[Any]]] = [(id(value), value, self._combined(value))]
        on_path = {id(value)}
        while stack:
            key, node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                on_path.discard(key)
                self.acyclic.add(key)
                continue
            target, _ = self.deref(child, where)
            if not isinstance(target, dict) or id(target) in self.acyclic:
                continue
            if id(target) in on_path:
                raise Invalid(where, "the schema contains itself through allOf/anyOf/oneOf/not")
            on_path.add(id(target))
            stack.append((id(target), target, self._combined(target)))

    @staticmethod
    def _combined(value: dict[str, Any]) -> Iterator[Any]:
        for keyword in ("allOf", "anyOf", "oneOf"):
            inner = value.get(keyword)
            if isinstance(inner, list):
                yield from inner
        if "not" in value:
            yield value["not"]

    def properties_of(self, node: Any, where: Where) -> set[Any]:
        """Every property name reachable from a schema through allOf/anyOf/oneOf/items/not."""
        names: set[Any] = set()
        seen: set[int] = set()
        stack = [(node, where)]
        while stack:
            raw, at = stack.pop()
            value, at = self.deref(raw, at)
            if not isinstance(value, dict) or id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value.get("properties"), dict):
                names.update(value["properties"])
            for keyword in ("allOf", "anyOf", "oneOf"):
                stack.extend((inner, at) for inner in value.get(keyword) or ())
            for keyword in ("items", "not"):
                if keyword in value:
                    stack.append((value[keyword], at))
        return names

    def schema_meta(self, value: Any, where: Where) -> None:
        """The schema is valid for its dialect (3.1) and its regular expressions are well formed."""
        if self.minor == "1" and isinstance(value, dict):
            self.dialect_meta(value, where)
        self.regex_syntax(value, where)

    def dialect_meta(self, value: dict[str, Any], where: Where) -> None:
        dialect = value.get("$schema", self.dialect)
        if not isinstance(dialect, str):
            raise Invalid(where, f"Unknown JSON Schema dialect: {_short_repr(dialect)}")
        checked = dict(value)
        checked["$schema"] = _DRAFT_2020_12 if dialect == OAS31_BASE_DIALECT_ID else dialect
        try:
            valid = jsonschema_rs.meta.is_valid(checked)
        except jsonschema_rs.ReferencingError:
            raise Invalid(where, f"Unknown JSON Schema dialect: {_short_repr(dialect)}") from None
        if valid:
            return
        cls = validator_for({"$schema": dialect}, default=Draft202012Validator)
        try:
            cls.check_schema(value, format_checker=_FORMATS["1"])
        except SchemaError as exc:
            at, message = describe(exc)
            raise Invalid((*where, *at), message) from None
        raise Invalid(where, "not a valid JSON Schema")

    def regex_syntax(self, value: Any, where: Where) -> None:
        stack = [(value, where)]
        seen: set[int] = set()
        while stack:
            node, at = stack.pop()
            if isinstance(node, list):
                stack.extend((item, (*at, i)) for i, item in enumerate(node))
                continue
            if not isinstance(node, dict) or id(node) in seen:
                continue
            seen.add(id(node))
            pattern = node.get("pattern")
            if isinstance(pattern, str) and not user_regex.is_valid_syntax(pattern):
                raise Invalid((*at, "pattern"), f"{_short_repr(pattern)} is not a 'regex'")
            pattern_properties = node.get("patternProperties")
            for key in pattern_properties if isinstance(pattern_properties, dict) else ():
                if not user_regex.is_valid_syntax(key):
                    raise Invalid((*at, "patternProperties"), f"{_short_repr(key)} is not a 'regex'")
            for key, child in node.items():
                if key not in ("default", "example", "examples", "enum", "const") and isinstance(
                    child, dict | list
                ):
                    stack.append((child, (*at, key)))

    def value(self, schema: dict[str, Any], instance: Any, where: Where) -> None:
        """``instance`` (a default) is valid against ``schema``; patterns run on RE2. Within the
        document's budget only (``DEFAULT_CHECK_BUDGET``): past it, defaults are not checked."""
        if self.default_budget[0] <= 0 or _value_count(instance, MAX_DEFAULT_VALUES) > MAX_DEFAULT_VALUES:
            return
        cls = _RE2_OAS31 if self.minor == "1" else _RE2_OAS30
        validator = cls(schema, _resolver=self.resolver(), format_checker=_FORMATS[self.minor])
        token = _budget.set(self.default_budget)
        try:
            error = next(iter(validator.iter_errors(instance)), None)
        except _OverBudget:
            return
        finally:
            _budget.reset(token)
        if error is not None:
            at, message = describe(error)
            raise Invalid((*where, *at), message)

    def resolver(self) -> Any:
        """References inside a schema resolve in this document, and only there."""
        if self._resolver is None:
            spec = DRAFT202012 if self.minor == "1" else DRAFT4
            resource = Resource.from_contents(self.doc, default_specification=spec)
            registry: Registry[Any] = Registry().with_resource(_BASE_URI, resource)
            if self.minor == "1":  # the dialect meta-schemas, from the packaged copies (never fetched)
                registry = registry.combine(SPECIFICATIONS)
            self._resolver = registry.resolver(base_uri=_BASE_URI)
        return self._resolver


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
