"""Parse SBOMs and lockfiles into a flat, deduplicated list of components. Pure: no Django.

Supported inputs (see :data:`FORMATS`):

* ``cyclonedx-json`` -- CycloneDX JSON, specVersion 1.4 to 1.7.
* ``requirements.txt`` -- pip requirement files.
* ``poetry.lock`` -- Poetry lockfiles (TOML).
* ``package-lock.json`` -- npm lockfiles, lockfileVersion 1, 2 and 3 (``npm-shrinkwrap.json`` too).

Every problem with the *input* raises :class:`SbomError` (a ``ValueError``) with a short message that
names the line or the component where it can; nothing else escapes :func:`parse_sbom`.

Decisions worth knowing:

* CycloneDX is checked field by field for the fields this module reads (bomFormat, specVersion,
  metadata.component, components[*] recursively, dependencies). The full JSON-schema validator of
  cyclonedx-python-lib works offline but is far too slow for uploads: its ``uniqueItems`` check is
  quadratic and the SPDX licence enum is scanned linearly per licence (about 3 s for 1,000 components,
  80 s for 4,000), so it is not used.
* A purl whose type the purl spec does not define (``pkg:foo/bar@1``) is **kept**, never dropped: the
  canonical purl keeps its original type (it is the file's own identifier and the unique key), and the
  component's ``ecosystem`` is ``"generic"``.
* PyPI names are normalised per PEP 503 everywhere (``Zope.Interface`` -> ``zope-interface``), also in
  purls taken from a CycloneDX file, so the same package gets the same purl whatever file it came from.
* A CycloneDX purl without a version gets the component's ``version`` added, so two versions of one
  package stay two components.
* Field lengths are capped to what the inventory stores (name 300, version 100, purl 600 characters);
  longer values are rejected rather than silently truncated.
* At most :data:`MAX_WARNINGS` warnings are kept; the last one says how many were left out.
* Work is bounded by the input size and by caps, each refused with a short error: at most
  :data:`MAX_COMPONENTS` entries per file, purls of :data:`MAX_PURL_TEXT_LENGTH` characters,
  requirement lines of :data:`MAX_REQUIREMENT_LINE` characters, and a poetry.lock of
  :data:`MAX_POETRY_LOCK_BYTES` with at most :data:`MAX_TOML_TOKENS` values. No pattern here
  backtracks on the input: comment stripping is a plain scan, and every regex is linear.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from packageurl import PackageURL
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

__all__ = [
    "FORMATS",
    "ComponentChanges",
    "ParsedComponent",
    "ParsedSbom",
    "SbomError",
    "detect_format",
    "diff_components",
    "parse_sbom",
]

CYCLONEDX_JSON = "cyclonedx-json"
REQUIREMENTS_TXT = "requirements.txt"
POETRY_LOCK = "poetry.lock"
PACKAGE_LOCK_JSON = "package-lock.json"
FORMATS = (CYCLONEDX_JSON, REQUIREMENTS_TXT, POETRY_LOCK, PACKAGE_LOCK_JSON)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_JSON_DEPTH = 128  # legit SBOMs and npm v1 trees stay far below; stops stack-exhaustion tricks
MAX_WARNINGS = 100
MAX_NAME_LENGTH = 300  # the inventory's Component column sizes
MAX_VERSION_LENGTH = 100
MAX_PURL_LENGTH = 600
MAX_PURL_TEXT_LENGTH = 2_400  # a purl as written in the file, before parsing (escapes make it longer)
MAX_COMPONENTS = 20_000  # entries read from one file, duplicates included
MAX_REQUIREMENT_LINE = 4_096  # one physical line of a requirements file
MAX_REQUIREMENT_LINES = 100_000
MAX_POETRY_LOCK_BYTES = 3 * 1024 * 1024  # Python's TOML parser is slow: about 0.5 s a megabyte
MAX_TOML_TOKENS = 150_000  # newlines, commas, "=", "{" and "[": a bound on the parser's work
MAX_JSON_VALUES = 500_000  # commas, "[" and "{": a 10 MB SBOM of fully described components has about 200,000
MAX_TOML_KEY_DOTS = 32  # dotted keys cost the TOML parser O(parts²)
# What str.splitlines() splits on.
_LINE_BREAKS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")

KIND_LIBRARY = "library"
KIND_FRAMEWORK = "framework"
KIND_RUNTIME = "runtime"
KIND_OTHER = "other"


class SbomError(ValueError):
    """The uploaded file cannot be used. The message is safe to show to the uploader."""


@dataclass(frozen=True)
class ParsedComponent:
    ecosystem: str  # purl type (pypi, npm, maven, golang, ...); "generic" for types the purl spec lacks
    name: str  # with namespace: "@angular/core", "org.springframework:spring-web", "github.com/gin-gonic/gin"
    version: str  # "" when unknown
    purl: str  # canonical purl, the unique key
    kind: str  # library | framework | runtime | other
    direct: bool | None  # None when the file does not say


@dataclass(frozen=True)
class ParsedSbom:
    format: str
    components: list[ParsedComponent]
    warnings: list[str]


@dataclass(frozen=True)
class ComponentChanges:
    added: list[str]  # purls
    removed: list[str]  # purls
    upgraded: list[dict[str, str]]  # {"ecosystem", "name", "from", "to"}; also used for downgrades


# --------------------------------------------------------------------------- kinds

_FRAMEWORKS: dict[str, frozenset[str]] = {
    "pypi": frozenset(
        {
            "django",
            "djangorestframework",
            "flask",
            "fastapi",
            "starlette",
            "litestar",
            "tornado",
            "aiohttp",
            "sanic",
            "pyramid",
            "bottle",
            "falcon",
            "quart",
            "connexion",
        }
    ),
    "npm": frozenset(
        {
            "express",
            "koa",
            "fastify",
            "@nestjs/core",
            "next",
            "nuxt",
            "hapi",
            "@hapi/hapi",
            "restify",
            "hono",
            "@remix-run/node",
            "@sveltejs/kit",
            "sails",
            "loopback",
            "@loopback/core",
            "@adonisjs/core",
            "@angular/core",
        }
    ),
    "maven": frozenset(
        {
            "org.springframework.boot:spring-boot",
            "org.springframework.boot:spring-boot-starter-web",
            "org.springframework.boot:spring-boot-starter-webflux",
            "org.springframework:spring-web",
            "org.springframework:spring-webmvc",
            "org.springframework:spring-webflux",
            "io.quarkus:quarkus-core",
            "io.micronaut:micronaut-http-server",
            "io.vertx:vertx-web",
            "io.dropwizard:dropwizard-core",
            "io.javalin:javalin",
            "io.ktor:ktor-server-core",
            "io.ktor:ktor-server-core-jvm",
            "org.glassfish.jersey.core:jersey-server",
            "io.helidon.webserver:helidon-webserver",
        }
    ),
    "gem": frozenset({"rails", "railties", "sinatra", "grape", "hanami", "roda"}),
    "composer": frozenset(
        {
            "laravel/framework",
            "laravel/lumen-framework",
            "symfony/framework-bundle",
            "symfony/http-kernel",
            "slim/slim",
            "cakephp/cakephp",
            "yiisoft/yii2",
            "codeigniter4/framework",
        }
    ),
    "golang": frozenset(
        {
            "github.com/gin-gonic/gin",
            "github.com/labstack/echo",
            "github.com/gofiber/fiber",
            "github.com/go-chi/chi",
            "github.com/gorilla/mux",
            "github.com/beego/beego",
            "github.com/go-kratos/kratos",
            "google.golang.org/grpc",
        }
    ),
    "nuget": frozenset(
        {
            "microsoft.aspnetcore.app",
            "microsoft.aspnetcore.app.ref",
            "microsoft.aspnetcore",
            "microsoft.aspnetcore.mvc",
            "microsoft.aspnetcore.mvc.core",
            "asp.net core",
            "servicestack",
            "nancy",
        }
    ),
    "cargo": frozenset({"actix-web", "axum", "rocket", "warp", "poem", "tide"}),
    "hex": frozenset({"phoenix", "plug"}),
}
# For components without a purl ("generic"): any full name above (maven's "g:a" also as "g/a"), or one of
# these unambiguous bare names.
_GENERIC_FRAMEWORK_NAMES = (
    frozenset(n for names in _FRAMEWORKS.values() for n in names)
    | frozenset(n.replace(":", "/") for n in _FRAMEWORKS["maven"])
    | frozenset(
        {
            "django",
            "flask",
            "fastapi",
            "starlette",
            "litestar",
            "tornado",
            "sanic",
            "express",
            "koa",
            "fastify",
            "nestjs",
            "nuxt",
            "hono",
            "spring-boot",
            "spring-web",
            "spring-webmvc",
            "spring-webflux",
            "quarkus",
            "micronaut",
            "rails",
            "sinatra",
            "laravel",
            "symfony",
            "gin",
            "asp.net core",
            "aspnetcore",
            "actix-web",
            "axum",
            "phoenix",
        }
    )
)

_RUNTIME_NAMES = frozenset(
    {
        "python",
        "python3",
        "cpython",
        "pypy",
        "node",
        "nodejs",
        "node.js",
        "deno",
        "bun",
        "openjdk",
        "jdk",
        "jre",
        "java",
        "temurin",
        "eclipse-temurin",
        "corretto",
        "amazon-corretto",
        "graalvm",
        "go",
        "golang",
        "ruby",
        "jruby",
        "php",
        "dotnet",
        ".net",
        "dotnet-runtime",
        "aspnetcore-runtime",
        "microsoft.netcore.app",
        "erlang",
        "elixir",
        "perl",
        "rust",
    }
)
_RUNTIME_PACKAGES = frozenset({("golang", "stdlib"), ("nuget", "microsoft.netcore.app")})

_CDX_OTHER_TYPES = frozenset(
    {
        "operating-system",
        "container",
        "device",
        "device-driver",
        "firmware",
        "file",
        "data",
        "machine-learning-model",
        "cryptographic-asset",
    }
)

_GO_MAJOR_SUFFIX = re.compile(r"/v\d+$")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _kind(ecosystem: str, name: str, cdx_type: str | None = None) -> str:
    if cdx_type == "framework":
        return KIND_FRAMEWORK
    if cdx_type == "platform":
        return KIND_RUNTIME
    if cdx_type in _CDX_OTHER_TYPES:
        return KIND_OTHER
    lowered = name.lower()
    if ecosystem == "golang":
        lowered = _GO_MAJOR_SUFFIX.sub("", lowered)
    if (ecosystem, lowered) in _RUNTIME_PACKAGES:
        return KIND_RUNTIME
    if ecosystem == "generic":
        bare = lowered.rsplit("/", 1)[-1]
        if bare in _RUNTIME_NAMES or lowered in _RUNTIME_NAMES:
            return KIND_RUNTIME
        if lowered in _GENERIC_FRAMEWORK_NAMES or bare in _GENERIC_FRAMEWORK_NAMES:
            return KIND_FRAMEWORK
        return KIND_LIBRARY
    if lowered in _FRAMEWORKS.get(ecosystem, ()):
        return KIND_FRAMEWORK
    return KIND_LIBRARY


# --------------------------------------------------------------------------- helpers


def _known_purl_types() -> frozenset[str]:
    try:
        from packageurl.validate import DEFINITIONS_BY_TYPE
    except ImportError:  # older packageurl-python: fall back to the purl spec's list
        return frozenset(
            (
                "alpm",
                "apk",
                "bitbucket",
                "bitnami",
                "cargo",
                "cocoapods",
                "composer",
                "conan",
                "conda",
                "cpan",
                "cran",
                "deb",
                "docker",
                "gem",
                "generic",
                "github",
                "golang",
                "hackage",
                "hex",
                "huggingface",
                "luarocks",
                "maven",
                "mlflow",
                "npm",
                "nuget",
                "oci",
                "pub",
                "pypi",
                "qpkg",
                "rpm",
                "swid",
                "swift",
            )
        )
    return frozenset(DEFINITIONS_BY_TYPE)


KNOWN_PURL_TYPES = _known_purl_types()


def _short(value: object, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text.replace("\n", " ").replace("\r", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _repr(value: object, limit: int = 80) -> str:
    """repr() for messages: strings quoted, everything shortened to about ``limit`` characters."""
    return repr(_short(value, limit)) if isinstance(value, str) else _short(repr(value), limit)


class _Warnings:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.dropped = 0

    def add(self, message: str) -> None:
        if len(self.items) < MAX_WARNINGS:
            self.items.append(message)
        else:
            self.dropped += 1

    def result(self) -> list[str]:
        if self.dropped:
            return [*self.items, f"… and {self.dropped} more warnings"]
        return list(self.items)


def _display_name(purl: PackageURL) -> str:
    if not purl.namespace:
        return purl.name
    separator = ":" if purl.type == "maven" else "/"
    return f"{purl.namespace}{separator}{purl.name}"


def _component(
    purl: PackageURL, *, version: str, cdx_type: str | None, direct: bool | None, where: str
) -> ParsedComponent:
    """Build a component from a purl, enforcing the stored field sizes. ``where`` prefixes errors."""
    try:
        canonical = purl.to_string()
    except Exception as exc:  # third-party code on untrusted input
        raise SbomError(f"{where}: cannot build a package URL: {_short(str(exc))}") from None
    ecosystem = purl.type if purl.type in KNOWN_PURL_TYPES else "generic"
    name = _display_name(purl)
    if _CONTROL_CHARACTERS.search(name) or _CONTROL_CHARACTERS.search(version):
        raise SbomError(f"{where}: package name or version contains control characters")
    if len(name) > MAX_NAME_LENGTH:
        raise SbomError(f"{where}: package name is longer than {MAX_NAME_LENGTH} characters")
    if len(version) > MAX_VERSION_LENGTH:
        raise SbomError(f"{where}: version is longer than {MAX_VERSION_LENGTH} characters")
    if len(canonical) > MAX_PURL_LENGTH:
        raise SbomError(f"{where}: package URL is longer than {MAX_PURL_LENGTH} characters")
    return ParsedComponent(
        ecosystem=ecosystem,
        name=name,
        version=version,
        purl=canonical,
        kind=_kind(ecosystem, name, cdx_type),
        direct=direct,
    )


def _new_purl(
    where: str, type_: str, namespace: str | None, name: str, version: str | None, **extra: Any
) -> PackageURL:
    try:
        return PackageURL(
            type=type_, namespace=namespace or None, name=name, version=version or None, **extra
        )
    except Exception as exc:  # packageurl raises assorted errors on odd input
        raise SbomError(f"{where}: cannot build a package URL: {_short(str(exc))}") from None


def _dedupe(components: Iterable[ParsedComponent]) -> list[ParsedComponent]:
    """Keep the first occurrence of each purl; if any occurrence is direct, the kept one is direct."""
    seen: dict[str, ParsedComponent] = {}
    for component in components:
        first = seen.get(component.purl)
        if first is None:
            seen[component.purl] = component
        elif component.direct is True and first.direct is not True:
            seen[component.purl] = dataclasses.replace(first, direct=True)
    return list(seen.values())


class _Collected(list[ParsedComponent]):
    """The components read so far; refuses to grow past :data:`MAX_COMPONENTS`."""

    def add(self, component: ParsedComponent) -> None:
        if len(self) >= MAX_COMPONENTS:
            raise SbomError(
                f"the file lists more than {MAX_COMPONENTS:,} components; the limit is {MAX_COMPONENTS:,}"
            )
        self.append(component)


def _decode(data: bytes) -> str:
    if not data:
        raise SbomError("the file is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SbomError(f"the file is not UTF-8 text (invalid byte at offset {exc.start})") from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise SbomError("the file is empty")
    return text


def _check_depth(value: Any) -> None:
    """Level by level, iteratively; about four times faster than a stack of (node, depth) pairs."""
    level = [value]
    depth = 0
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            raise SbomError(f"the JSON document is nested more than {MAX_JSON_DEPTH} levels deep")
        below: list[Any] = []
        push = below.append
        for node in level:
            for child in node.values() if type(node) is dict else node:
                kind = type(child)
                if kind is dict or kind is list:
                    push(child)
        level = below


def _load_json(text: str) -> Any:
    # Counted before decoding: the decoder allocates every value, so 10 MB of "[]," or tiny objects
    # takes seconds however little of it the parser then reads.
    separators = text.count(",") + text.count("[") + text.count("{")
    if separators > MAX_JSON_VALUES:
        raise SbomError(f"the JSON document holds too many values (more than {MAX_JSON_VALUES:,})")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SbomError(f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise SbomError(f"the JSON document is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError as exc:  # e.g. integers longer than Python's digit limit
        raise SbomError(f"malformed JSON: {_short(str(exc))}") from None
    if isinstance(value, dict | list):
        _check_depth(value)
    return value


# --------------------------------------------------------------------------- detection

# Linear: no two neighbouring parts can match the same text (the second \s* only follows extras).
_REQUIREMENT_START = re.compile(
    r"^(?:-{1,2}[A-Za-z]|[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\]\s*)?(?:===?|~=|!=|<=?|>=?|;|@|\(|$))"
)


def _is_comment(line: str) -> bool:
    """The whole line is a comment (``#`` after optional whitespace)."""
    return line.lstrip().startswith("#")


def _strip_comment(line: str) -> str:
    """pip's ``(^|\\s+)#.*$`` without a regex: cut at the first ``#`` that starts the line or follows
    whitespace, with the whitespace before it. The pattern was O(n²) on a line of spaces (it was
    tried at every position of the run); this is one scan."""
    start = 0
    while (hash_at := line.find("#", start)) != -1:
        if hash_at == 0 or line[hash_at - 1].isspace():
            return line[:hash_at].rstrip()
        start = hash_at + 1
    return line


def _basename(filename: str) -> str:
    return re.split(r"[\\/]", filename or "")[-1].strip().lower()


def _format_from_filename(name: str) -> str | None:
    if name == "poetry.lock":
        return POETRY_LOCK
    if name in ("package-lock.json", "npm-shrinkwrap.json"):
        return PACKAGE_LOCK_JSON
    if "requirements" in name and name.endswith((".txt", ".in")):
        return REQUIREMENTS_TXT
    if name.endswith((".cdx.json", ".bom.json")) or name in ("bom.json", "sbom.json", "cyclonedx.json"):
        return CYCLONEDX_JSON
    return None


def _format_from_json(value: Any) -> str:
    if isinstance(value, dict):
        if "bomFormat" in value:
            return CYCLONEDX_JSON
        if "lockfileVersion" in value:
            return PACKAGE_LOCK_JSON
        if "spdxVersion" in value:
            raise SbomError("SPDX documents are not supported; upload a CycloneDX JSON SBOM instead")
    raise SbomError("the JSON document is neither a CycloneDX SBOM nor an npm package-lock.json")


def _detect(filename: str, text: str) -> tuple[str, Any]:
    """Return the format and, when the content had to be parsed as JSON to tell, the parsed value."""
    name = _basename(filename)
    by_name = _format_from_filename(name)
    if by_name is not None:
        return by_name, None
    stripped = text.lstrip()
    if not name.endswith(".json") and _looks_like_poetry_lock(text):
        return POETRY_LOCK, None
    if name.endswith(".json") or stripped[:1] in ("{", "["):
        value = _load_json(text)
        return _format_from_json(value), value
    if stripped.startswith("<"):
        raise SbomError(
            "XML documents are not supported; upload CycloneDX JSON, requirements.txt, poetry.lock "
            "or package-lock.json"
        )
    for _lineno, line in _logical_lines(text):
        if line:
            if _REQUIREMENT_START.match(line):
                return REQUIREMENTS_TXT, None
            break
    raise SbomError(
        "unrecognised file: expected a CycloneDX JSON SBOM, requirements.txt, poetry.lock or package-lock.json"
    )


def _looks_like_poetry_lock(text: str) -> bool:
    """A ``[[package]]`` line, or a ``[metadata]`` line and a content hash. Checked line by line: the
    MULTILINE pattern ``^\\s*\\[\\[package\\]\\]`` let ``\\s*`` run over every following blank line from
    every line start, O(n²) on a file of blank lines."""
    if "[[package]]" in text and any(line.strip() == "[[package]]" for line in _lines(text)):
        return True
    return (
        "[metadata]" in text
        and "content-hash" in text
        and any(line.strip() == "[metadata]" for line in _lines(text))
    )


def _lines(text: str) -> list[str]:
    """``text.splitlines()``, refused beyond :data:`MAX_REQUIREMENT_LINES` lines before splitting."""
    count = sum(text.count(brk) for brk in _LINE_BREAKS)
    if count > MAX_REQUIREMENT_LINES:
        raise SbomError(f"the file has more than {MAX_REQUIREMENT_LINES:,} lines")
    return text.splitlines()


def detect_format(filename: str, data: bytes) -> str:
    """Tell the format by the file name first, else by sniffing the content. SbomError if unknown."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"detect_format() needs bytes, not {type(data).__name__}")
    return _detect(filename, _decode(bytes(data)))[0]


# --------------------------------------------------------------------------- entry point


def parse_sbom(
    data: bytes, *, filename: str = "", format: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> ParsedSbom:
    """Parse an uploaded SBOM or lockfile. ``format`` (one of :data:`FORMATS`) skips detection."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"parse_sbom() needs bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise SbomError(f"the file is too large ({len(data)} bytes; the limit is {max_bytes})")
    text = _decode(data)
    parsed_json: Any = None
    if format is None:
        format, parsed_json = _detect(filename, text)
    elif format not in FORMATS:
        raise SbomError(f"unknown format {_repr(format)}; expected one of: {', '.join(FORMATS)}")
    warnings = _Warnings()
    if format == REQUIREMENTS_TXT:
        components = _parse_requirements(text, warnings)
    elif format == POETRY_LOCK:
        components = _parse_poetry_lock(text, warnings)
    else:
        value = parsed_json if parsed_json is not None else _load_json(text)
        if format == CYCLONEDX_JSON:
            components = _parse_cyclonedx(value, warnings)
        else:
            components = _parse_package_lock(value, warnings)
    return ParsedSbom(format=format, components=_dedupe(components), warnings=warnings.result())


# --------------------------------------------------------------------------- CycloneDX


CYCLONEDX_SPEC_VERSIONS = ("1.4", "1.5", "1.6", "1.7")  # 1.7 reads the same for the fields used here


def _optional_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SbomError(f"{where}.{key} must be a string")
    return value


def _parse_cyclonedx(doc: Any, warnings: _Warnings) -> list[ParsedComponent]:
    if not isinstance(doc, dict) or doc.get("bomFormat") != "CycloneDX":
        found = doc.get("bomFormat") if isinstance(doc, dict) else None
        raise SbomError(f"not a CycloneDX document (bomFormat is {_repr(found)}, expected 'CycloneDX')")
    spec_version = doc.get("specVersion")
    if spec_version not in CYCLONEDX_SPEC_VERSIONS:
        raise SbomError(
            f"unsupported CycloneDX specVersion {_repr(spec_version)}; "
            f"supported: {', '.join(CYCLONEDX_SPEC_VERSIONS)}"
        )

    root_ref: str | None = None
    metadata = doc.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise SbomError("metadata must be an object")
        root = metadata.get("component")
        if root is not None:
            if not isinstance(root, dict):
                raise SbomError("metadata.component must be an object")
            root_ref = _optional_str(root, "bom-ref", "metadata.component")

    direct_refs = _cyclonedx_direct_refs(doc.get("dependencies"), root_ref, warnings)

    components = doc.get("components")
    if components is None:
        return []
    if not isinstance(components, list):
        raise SbomError("components must be a list")
    result = _Collected()
    # Iterative walk (depth is bounded by MAX_JSON_DEPTH anyway), document order preserved. Position
    # strings are built lazily, one entry at a time.
    stack: list[Iterator[tuple[str, Any]]] = [_positions("components", components)]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        where, raw = item
        if not isinstance(raw, dict):
            raise SbomError(f"{where} must be an object")
        bom_ref = _optional_str(raw, "bom-ref", where)
        if root_ref is None or bom_ref != root_ref:  # the application itself is not one of its components
            direct = None if direct_refs is None else bom_ref in direct_refs
            result.add(_cyclonedx_component(raw, where, direct))
        children = raw.get("components")
        if children is not None:
            if not isinstance(children, list):
                raise SbomError(f"{where}.components must be a list")
            stack.append(_positions(f"{where}.components", children))
    return result


def _positions(prefix: str, items: list[Any]) -> Iterator[tuple[str, Any]]:
    """(position, item) pairs, each position string built only when its item is reached."""
    for i, item in enumerate(items):
        yield f"{prefix}[{i}]", item


def _cyclonedx_direct_refs(dependencies: Any, root_ref: str | None, warnings: _Warnings) -> set[str] | None:
    """The bom-refs the application depends on directly, or None when the file does not say."""
    if dependencies is None:
        return None
    if not isinstance(dependencies, list):
        raise SbomError("dependencies must be a list")
    direct: set[str] | None = None
    for i, entry in enumerate(dependencies):
        where = f"dependencies[{i}]"
        if not isinstance(entry, dict):
            raise SbomError(f"{where} must be an object")
        ref = entry.get("ref")
        if not isinstance(ref, str):
            raise SbomError(f"{where}.ref must be a string")
        depends_on = entry.get("dependsOn", [])
        if depends_on is None:
            depends_on = []
        if not isinstance(depends_on, list) or not all(isinstance(r, str) for r in depends_on):
            raise SbomError(f"{where}.dependsOn must be a list of strings")
        if root_ref is not None and ref == root_ref:
            if direct is None:
                direct = set()
            direct.update(depends_on)  # in place: a union per entry copied the set each time, O(n²)
    if direct is None and dependencies:
        warnings.add("the dependency graph does not start at metadata.component; direct dependencies unknown")
    return direct


def _cyclonedx_component(raw: dict[str, Any], where: str, direct: bool | None) -> ParsedComponent:
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SbomError(f"{where} has no name")
    name = name.strip()
    version = _optional_str(raw, "version", where) or ""
    version = version.strip()
    cdx_type = _optional_str(raw, "type", where)
    group = _optional_str(raw, "group", where)
    purl_text = _optional_str(raw, "purl", where)
    if len(name) > MAX_NAME_LENGTH:
        raise SbomError(f"{where}: package name is longer than {MAX_NAME_LENGTH} characters")
    if purl_text and len(purl_text) > MAX_PURL_TEXT_LENGTH:
        raise SbomError(f"{where}: purl is longer than {MAX_PURL_TEXT_LENGTH:,} characters")
    if purl_text and purl_text.strip():
        try:
            purl = PackageURL.from_string(purl_text.strip())
        except Exception as exc:  # packageurl raises assorted errors on odd input
            raise SbomError(f"{where}: invalid purl {_repr(purl_text)}: {_short(str(exc))}") from None
        changes: dict[str, Any] = {}
        if purl.type == "pypi" and canonicalize_name(purl.name) != purl.name:
            changes["name"] = canonicalize_name(purl.name)
        if not purl.version and version:
            changes["version"] = version
        if changes:
            fields = {**purl.to_dict(), **changes}
            purl = _new_purl(where, fields.pop("type"), **fields)
        return _component(
            purl, version=purl.version or version, cdx_type=cdx_type, direct=direct, where=where
        )
    purl = _new_purl(where, "generic", (group or "").strip() or None, name, version or None)
    return _component(purl, version=version, cdx_type=cdx_type, direct=direct, where=where)


# --------------------------------------------------------------------------- requirements.txt

_URL_OR_PATH = re.compile(
    r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|(?:git|hg|svn|bzr)\+|file:|\.{1,2}(?:[\\/]|$)|[\\/~]|[A-Za-z]:[\\/])"
    r"|[\\/]|\.(?:whl|zip|tar\.gz|tgz|tar\.bz2)$"
)
_FOLLOW_OPTIONS = {"-r": "-r", "--requirement": "-r", "-c": "-c", "--constraint": "-c"}
_EDITABLE_OPTIONS = ("-e", "--editable")
_IGNORED_OPTIONS = frozenset(
    {
        "-i",
        "--index-url",
        "--extra-index-url",
        "--no-index",
        "-f",
        "--find-links",
        "--trusted-host",
        "--pre",
        "--prefer-binary",
        "--require-hashes",
        "--only-binary",
        "--no-binary",
        "--use-feature",
        "--config-settings",
        "--global-option",
    }
)
_TRAILING_OPTION = re.compile(r"\s-{1,2}[A-Za-z]")


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Join backslash continuations and strip comments, like pip. Yields (first line number, line).

    A physical line longer than :data:`MAX_REQUIREMENT_LINE` is refused, naming it."""
    pending: list[str] = []
    first = 0
    for number, line in enumerate(_lines(text), 1):
        if len(line) > MAX_REQUIREMENT_LINE:
            raise SbomError(
                f"line {number} is longer than {MAX_REQUIREMENT_LINE:,} characters ({len(line):,})"
            )
        comment = _is_comment(line)
        if not line.endswith("\\") or comment:
            if comment:
                line = " " + line
            if pending:
                pending.append(line)
                yield first, _strip_comment("".join(pending)).strip()
                pending = []
            else:
                yield number, _strip_comment(line).strip()
        else:
            if not pending:
                first = number
            pending.append(line[:-1])
    if pending:
        yield first, _strip_comment("".join(pending)).strip()


def _parse_requirements(text: str, warnings: _Warnings) -> list[ParsedComponent]:
    result = _Collected()
    for number, line in _logical_lines(text):
        if not line:
            continue
        where = f"line {number}"
        if line.startswith("-"):
            _requirement_option(line, where, warnings)
            continue
        match = _TRAILING_OPTION.search(line)
        requirement_text = line[: match.start()].strip() if match else line
        if len(requirement_text) > MAX_REQUIREMENT_LINE:  # continuation lines add up
            raise SbomError(f"{where}: the requirement is longer than {MAX_REQUIREMENT_LINE:,} characters")
        try:
            requirement = Requirement(requirement_text)
        except InvalidRequirement as exc:
            if _URL_OR_PATH.search(requirement_text.split(";", 1)[0].strip()):
                warnings.add(f"{where}: URL or local path '{_short(requirement_text)}' not followed")
                continue
            reason = str(exc).splitlines()[0] if str(exc) else "invalid requirement"
            raise SbomError(
                f"{where}: cannot parse requirement '{_short(requirement_text)}': {_short(reason)}"
            ) from None
        name = canonicalize_name(requirement.name)
        version = ""
        if requirement.url:
            warnings.add(f"{where}: direct URL reference for '{name}' not followed; version unknown")
        else:
            pins = [
                spec.version
                for spec in requirement.specifier
                if spec.operator in ("==", "===") and not spec.version.endswith(".*")
            ]
            if pins:
                version = pins[0]
            else:
                shown = requirement_text.split(";", 1)[0].strip()
                warnings.add(f"{where}: unpinned requirement '{_short(shown)}'")
        purl = _new_purl(where, "pypi", None, name, version or None)
        result.add(_component(purl, version=version, cdx_type=None, direct=True, where=where))
    return result


def _requirement_option(line: str, where: str, warnings: _Warnings) -> None:
    option = re.split(r"[\s=]", line, maxsplit=1)[0]
    known = option in _FOLLOW_OPTIONS or option in _EDITABLE_OPTIONS or option in _IGNORED_OPTIONS
    if not known and not option.startswith("--") and option[:2] in ("-r", "-c", "-e"):
        option = option[:2]  # "-rother.txt"
    if option in _FOLLOW_OPTIONS:
        warnings.add(f"{where}: '{_short(line)}' not followed")
    elif option in _EDITABLE_OPTIONS:
        warnings.add(f"{where}: editable requirement '{_short(line)}' not followed")
    elif option not in _IGNORED_OPTIONS:
        warnings.add(f"{where}: option '{_short(option, 40)}' ignored")


# --------------------------------------------------------------------------- poetry.lock


def _check_toml_work(text: str) -> None:
    """Refuse what would keep Python's TOML parser busy for long, before it starts: it takes about
    0.5 s a megabyte, 10 µs a value, and O(parts²) on a dotted key (``a.a.a…``)."""
    size = len(text.encode())
    if size > MAX_POETRY_LOCK_BYTES:
        raise SbomError(
            f"the poetry.lock is too large ({size:,} bytes; the limit is {MAX_POETRY_LOCK_BYTES:,})"
        )
    tokens = sum(text.count(c) for c in "\n,={[")
    if tokens > MAX_TOML_TOKENS:
        raise SbomError(f"the poetry.lock holds too many values (more than {MAX_TOML_TOKENS:,} separators)")
    packages = text.count("[[package]]")
    if packages > MAX_COMPONENTS:
        raise SbomError(
            f"the file lists more than {MAX_COMPONENTS:,} components; the limit is {MAX_COMPONENTS:,}"
        )
    if text.count(".") > MAX_TOML_KEY_DOTS:
        for number, line in enumerate(text.split("\n"), 1):
            equals = line.find("=")
            if line.count(".", 0, equals if equals != -1 else len(line)) > MAX_TOML_KEY_DOTS:
                raise SbomError(f"line {number}: a key or table name with more than {MAX_TOML_KEY_DOTS} dots")


def _parse_poetry_lock(text: str, warnings: _Warnings) -> list[ParsedComponent]:
    _check_toml_work(text)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SbomError(f"malformed TOML: {_short(str(exc), 160)}") from None
    except RecursionError:
        raise SbomError("malformed TOML: nested too deeply") from None
    except ValueError as exc:  # e.g. integers longer than Python's digit limit
        raise SbomError(f"malformed TOML: {_short(str(exc), 160)}") from None
    packages = doc.get("package")
    if packages is None:
        if isinstance(doc.get("metadata"), dict):
            return []
        raise SbomError("not a poetry.lock: no [[package]] entries and no [metadata] table")
    if not isinstance(packages, list):
        raise SbomError("not a poetry.lock: 'package' must be an array of tables ([[package]])")
    result = _Collected()
    for index, package in enumerate(packages, 1):
        where = f"[[package]] #{index}"
        if not isinstance(package, dict):
            raise SbomError(f"{where} must be a table")
        name = package.get("name")
        if not isinstance(name, str) or not name.strip():
            raise SbomError(f"{where} has no name")
        version = package.get("version")
        if not isinstance(version, str) or not version.strip():
            raise SbomError(f"{where} ({_short(name, 60)}) has no version")
        name, version = canonicalize_name(name.strip()), version.strip()
        purl = _new_purl(where, "pypi", None, name, version)
        result.add(_component(purl, version=version, cdx_type=None, direct=None, where=where))
    return result


# --------------------------------------------------------------------------- package-lock.json

_NPM_ROOT_DEPENDENCY_KEYS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")


def _npm_purl(name: str, version: str, where: str) -> PackageURL:
    if name.startswith("@"):
        scope, slash, bare = name.partition("/")
        if not slash or len(scope) < 2 or not bare or "/" in bare:
            raise SbomError(f"{where}: invalid package name {_repr(name)}")
        return _new_purl(where, "npm", scope, bare, version or None)
    if not name or "/" in name:
        raise SbomError(f"{where}: invalid package name {_repr(name)}")
    return _new_purl(where, "npm", None, name, version or None)


def _npm_version(name: str, version: Any, where: str, warnings: _Warnings) -> tuple[str, str] | None:
    """Resolve aliases ("npm:real@1.2.3") and non-registry versions. None means: skip the entry."""
    if version is None or version == "":
        warnings.add(f"{where}: no version")
        return name, ""
    if not isinstance(version, str):
        raise SbomError(f"{where}.version must be a string")
    if version.startswith("npm:"):
        real, at, real_version = version[4:].rpartition("@")
        if at and real:
            return real, real_version
        return version[4:], ""
    if version.startswith(("file:", "link:")):
        warnings.add(f"{where}: local dependency '{_short(version)}' not followed")
        return None
    if ":" in version or "/" in version:  # git/URL/tarball dependencies
        warnings.add(f"{where}: non-registry version '{_short(version)}'; version unknown")
        return name, ""
    return name, version


def _parse_package_lock(doc: Any, warnings: _Warnings) -> list[ParsedComponent]:
    if not isinstance(doc, dict):
        raise SbomError("not a package-lock.json: the document is not a JSON object")
    lockfile_version = doc.get("lockfileVersion")
    if isinstance(lockfile_version, bool) or lockfile_version not in (1, 2, 3):
        raise SbomError(
            f"unsupported package-lock lockfileVersion {_repr(lockfile_version)} (supported: 1, 2, 3)"
        )
    packages = doc.get("packages")
    if lockfile_version >= 2 and packages is not None:
        if not isinstance(packages, dict):
            raise SbomError("packages must be an object")
        return _parse_npm_packages(packages, warnings)
    if lockfile_version == 3:
        raise SbomError("not a package-lock.json v3: 'packages' is missing")
    return _parse_npm_v1(doc, warnings)


def _parse_npm_packages(packages: dict[str, Any], warnings: _Warnings) -> list[ParsedComponent]:
    root = packages.get("")
    root_deps: set[str] | None = None
    if root is not None:
        if not isinstance(root, dict):
            raise SbomError("packages[''] must be an object")
        root_deps = set()
        for key in _NPM_ROOT_DEPENDENCY_KEYS:
            deps = root.get(key)
            if isinstance(deps, dict):
                root_deps.update(deps)
    result = _Collected()
    marker = "node_modules/"
    for key, entry in packages.items():
        if key == "":
            continue
        where = f"packages[{_repr(key)}]"
        if not isinstance(entry, dict):
            raise SbomError(f"{where} must be an object")
        if entry.get("link") is True:
            continue
        cut = key.rfind(marker)
        if cut == -1:  # a workspace folder: the project's own code, not a dependency
            continue
        path_name = key[cut + len(marker) :]
        own_name = entry.get("name")
        name = own_name if isinstance(own_name, str) and own_name else path_name
        resolved = _npm_version(name, entry.get("version"), where, warnings)
        if resolved is None:
            continue
        name, version = resolved
        top_level = key == marker + path_name
        direct = None if root_deps is None else top_level and path_name in root_deps
        purl = _npm_purl(name, version, where)
        result.add(_component(purl, version=version, cdx_type=None, direct=direct, where=where))
    return result


def _npm_positions(where: str, nested: dict[str, Any]) -> Iterator[tuple[str, str, Any, bool]]:
    for key, value in nested.items():
        yield f"{where}.dependencies[{_repr(key)}]", key, value, False


def _parse_npm_v1(doc: dict[str, Any], warnings: _Warnings) -> list[ParsedComponent]:
    requires = doc.get("requires")
    root_requires = set(requires) if isinstance(requires, dict) else None
    dependencies = doc.get("dependencies")
    if dependencies is None:
        return []
    if not isinstance(dependencies, dict):
        raise SbomError("dependencies must be an object")
    result = _Collected()
    # Generators: the position string of an entry is built when it is reached, not for all its
    # siblings at once (at depth 128 each is kilobytes long).
    stack: list[Iterator[tuple[str, str, Any, bool]]] = [
        ((f"dependencies[{_repr(k)}]", k, v, True) for k, v in dependencies.items())
    ]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        where, key, entry, top_level = item
        if not isinstance(entry, dict):
            raise SbomError(f"{where} must be an object")
        resolved = _npm_version(key, entry.get("version"), where, warnings)
        if resolved is not None:
            name, version = resolved
            direct = None if root_requires is None else top_level and key in root_requires
            purl = _npm_purl(name, version, where)
            result.add(_component(purl, version=version, cdx_type=None, direct=direct, where=where))
        nested = entry.get("dependencies")
        if nested is not None:
            if not isinstance(nested, dict):
                raise SbomError(f"{where}.dependencies must be an object")
            stack.append(_npm_positions(where, nested))
    return result


# --------------------------------------------------------------------------- diff


def _old_entry(item: Any) -> tuple[str, str, str, str]:
    if isinstance(item, tuple | list):
        if len(item) == 4:
            ecosystem, name, version, purl = item
            return str(ecosystem), str(name), str(version or ""), str(purl)
        if len(item) == 3:
            ecosystem, name, version = item
            ecosystem, name, version = str(ecosystem), str(name), str(version or "")
            return ecosystem, name, version, _purl_for(ecosystem, name, version)
        raise TypeError("old components must be (ecosystem, name, version[, purl]) tuples")
    return item.ecosystem, item.name, item.version or "", item.purl


def _purl_for(ecosystem: str, name: str, version: str) -> str:
    """Best-effort purl for a stored (ecosystem, name, version) row that lacks one."""
    separator = ":" if ecosystem == "maven" else "/"
    namespace, _, bare = name.rpartition(separator)
    try:
        return PackageURL(
            type=ecosystem, namespace=namespace or None, name=bare, version=version or None
        ).to_string()
    except Exception:  # purely cosmetic fallback
        return f"pkg:{ecosystem}/{name}" + (f"@{version}" if version else "")


def diff_components(old: Iterable[Any], new: Iterable[ParsedComponent]) -> ComponentChanges:
    """What changed between the stored components and a freshly parsed SBOM.

    ``old`` items may be ``(ecosystem, name, version)`` or ``(ecosystem, name, version, purl)`` tuples
    (e.g. ``values_list("ecosystem", "name", "version", "purl")``; pass the purl when you have it, the
    3-tuple form rebuilds a best-effort purl for ``removed``) or objects with those attributes
    (``ParsedComponent``, model instances).

    Packages are matched by ``(ecosystem, name)``. Versions present on both sides are unchanged. When a
    package has exactly one version that disappeared and exactly one that appeared, it is reported in
    ``upgraded`` (downgrades too: ``from``/``to`` are the old and new versions, ``""`` if unknown);
    otherwise the versions that appeared are ``added`` and those that disappeared are ``removed``
    (purls). A purl that changed only in qualifiers is not a change. Lists are sorted.
    """
    old_by_key: dict[tuple[str, str], dict[str, str]] = {}
    for item in old:
        ecosystem, name, version, purl = _old_entry(item)
        old_by_key.setdefault((ecosystem, name), {}).setdefault(version, purl)
    new_by_key: dict[tuple[str, str], dict[str, str]] = {}
    for component in new:
        new_by_key.setdefault((component.ecosystem, component.name), {}).setdefault(
            component.version, component.purl
        )
    added: list[str] = []
    removed: list[str] = []
    upgraded: list[dict[str, str]] = []
    for key in old_by_key.keys() | new_by_key.keys():
        before = old_by_key.get(key, {})
        after = new_by_key.get(key, {})
        gone = [v for v in before if v not in after]
        came = [v for v in after if v not in before]
        if len(gone) == 1 and len(came) == 1:
            upgraded.append({"ecosystem": key[0], "name": key[1], "from": gone[0], "to": came[0]})
        else:
            removed.extend(before[v] for v in gone)
            added.extend(after[v] for v in came)
    upgraded.sort(key=lambda change: (change["ecosystem"], change["name"], change["from"], change["to"]))
    return ComponentChanges(added=sorted(added), removed=sorted(removed), upgraded=upgraded)
