"""Backstage ``catalog-info.yaml`` documents → plain registrations. Pure (no Django).

Understands ``kind: API`` (``spec.definition`` inline, or ``$text`` pointing at a relative file that
the caller resolves) and ``kind: Component`` (``providesApis``/``consumesApis``). Everything else is
reported, never guessed. Owners are mapped to org-unit slugs by the caller.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from inventory.engines.yaml_safe import YamlError, load_all_safely

# Backstage lifecycle → ours. Unknown values are reported and mapped to "experimental".
LIFECYCLES = {"experimental": "experimental", "production": "production", "deprecated": "deprecated",
              "design": "design", "retired": "retired"}  # fmt: skip
IGNORED_KINDS = {"Location", "System", "Domain", "Resource", "Group", "User", "Template"}


class CatalogError(ValueError):
    """The file as a whole cannot be read (not YAML, too large...)."""


@dataclass
class CatalogApi:
    name: str
    title: str
    description: str
    owner: str  # a unit slug, "" when not given
    lifecycle: str
    spec_type: str
    definition: bytes | None
    document_number: int


@dataclass
class CatalogComponent:
    name: str
    owner: str
    provides: list[str]
    consumes: list[str]
    document_number: int


@dataclass
class CatalogResult:
    apis: list[CatalogApi] = field(default_factory=list)
    components: list[CatalogComponent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def entity_ref_name(ref: str) -> str:
    """``api:default/payments`` / ``group:default/team-a`` / ``payments`` → ``payments``."""
    ref = ref.strip()
    if ":" in ref:
        ref = ref.split(":", 1)[1]
    if "/" in ref:
        ref = ref.rsplit("/", 1)[1]
    return ref.lower()


def safe_relative(path: str) -> str | None:
    """A normalized relative path inside the catalog's folder, or None for anything that escapes it."""
    if not path or "://" in path or path.startswith(("/", "\\")) or "\\" in path:
        return None
    norm = posixpath.normpath(path)
    if norm.startswith("..") or norm.startswith("/"):
        return None
    return norm


MAX_ENTITIES = 500
MAX_REFS = 100  # providesApis / consumesApis of one Component
MAX_LINKS = 5_000  # consumer links one file may ask for (each is a write and an audit event)


def parse_catalog(
    data: bytes,
    *,
    resolve_text: Callable[[str], bytes | None],
    max_bytes: int = 10 * 1024 * 1024,
    max_entities: int = MAX_ENTITIES,
) -> CatalogResult:
    """Read every document; collect entities and per-document problems (never raise for one bad entity).

    Bounded twice: at most ``max_entities`` documents, and definitions (inline or ``$text``, which
    may name the same file many times) adding up to at most ``max_bytes``: a small catalog must not
    turn into gigabytes of specs to parse and store.
    """
    try:
        documents = load_all_safely(data, max_bytes=max_bytes)
    except YamlError as exc:
        raise CatalogError(str(exc)) from exc
    if len(documents) > max_entities:
        raise CatalogError(
            f"The catalog holds {len(documents):,} documents; import at most {max_entities:,} at a time."
        )
    result = CatalogResult()
    for number, doc in enumerate(documents, start=1):
        if doc is None:
            continue
        where = f"document {number}"
        if not isinstance(doc, dict):
            result.problems.append(f"{where}: not a mapping; skipped.")
            continue
        kind = doc.get("kind")
        raw_metadata, raw_spec = doc.get("metadata"), doc.get("spec")
        metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
        spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
        name = str(metadata.get("name") or "").strip()
        if kind in IGNORED_KINDS:
            result.problems.append(f"{where}: kind {kind} is not imported; skipped.")
            continue
        if kind not in ("API", "Component"):
            result.problems.append(f"{where}: unknown kind {kind!r}; skipped.")
            continue
        if not name:
            result.problems.append(f"{where}: {kind} without metadata.name; skipped.")
            continue
        owner = entity_ref_name(str(spec.get("owner") or "")) if spec.get("owner") else ""
        if kind == "API":
            _read_api(result, number, name, metadata, spec, owner, resolve_text)
        else:
            provides = _refs(spec, "providesApis", f"{where} (Component {name})")
            consumes = _refs(spec, "consumesApis", f"{where} (Component {name})")
            result.components.append(CatalogComponent(name.lower(), owner, provides, consumes, number))
    # A component consuming C APIs and providing P links each pair: C×P writes, counted before any.
    links = sum(len(c.consumes) * max(1, len(c.provides)) for c in result.components)
    if links > MAX_LINKS:
        raise CatalogError(
            f"The catalog asks for {links:,} consumer links; import at most {MAX_LINKS:,} at a time."
        )
    total = sum(len(api.definition or b"") for api in result.apis)
    if total > max_bytes:
        raise CatalogError(
            f"The API definitions add up to {total:,} bytes (a $text file counts once per use); the limit is {max_bytes:,}."
        )
    return result


def _refs(spec: dict[str, Any], key: str, where: str) -> list[str]:
    """The API names in a Component's ``providesApis``/``consumesApis``: a list of at most
    :data:`MAX_REFS` entity references (a string is not a list of one-letter references)."""
    value = spec.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise CatalogError(f"{where}: spec.{key} must be a list of API references.")
    if len(value) > MAX_REFS:
        raise CatalogError(f"{where}: spec.{key} lists {len(value):,} APIs; the limit is {MAX_REFS}.")
    return [entity_ref_name(r) for r in value if isinstance(r, str)]


def _read_api(
    result: CatalogResult,
    number: int,
    name: str,
    metadata: dict[str, Any],
    spec: dict[str, Any],
    owner: str,
    resolve_text: Callable[[str], bytes | None],
) -> None:
    where = f"document {number} (API {name})"
    lifecycle_raw = str(spec.get("lifecycle") or "").lower()
    lifecycle = LIFECYCLES.get(lifecycle_raw)
    if lifecycle is None:
        result.problems.append(f"{where}: lifecycle {lifecycle_raw!r} unknown; recorded as experimental.")
        lifecycle = "experimental"
    spec_type = str(spec.get("type") or "").lower()
    definition: Any = spec.get("definition")
    content: bytes | None = None
    if isinstance(definition, dict) and set(definition) == {"$text"}:
        rel = safe_relative(str(definition["$text"]))
        if rel is None:
            result.problems.append(
                f"{where}: $text {definition['$text']!r} must be a relative file next to the catalog; not fetched."
            )
        else:
            content = resolve_text(rel)
            if content is None:
                result.problems.append(f"{where}: definition file {rel!r} not found.")
    elif isinstance(definition, str):
        content = definition.encode()
    elif isinstance(definition, dict):
        content = yaml.safe_dump(definition, sort_keys=False).encode()
    elif definition is not None:
        result.problems.append(f"{where}: definition is neither text nor a $text reference.")
    if content is not None and spec_type and spec_type != "openapi":
        result.problems.append(
            f"{where}: definition of type {spec_type!r} is kept out; only OpenAPI is parsed."
        )
        content = None
    result.apis.append(
        CatalogApi(
            name=name.lower(),
            title=str(metadata.get("title") or name)[:200],
            description=str(metadata.get("description") or ""),
            owner=owner,
            lifecycle=lifecycle,
            spec_type=spec_type,
            definition=content,
            document_number=number,
        )
    )
