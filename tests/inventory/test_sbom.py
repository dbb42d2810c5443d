"""The SBOM / lockfile engine: format detection, the four parsers, bad input and component diffs. No DB."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.engines.sbom import (
    ComponentChanges,
    ParsedComponent,
    ParsedSbom,
    SbomError,
    detect_format,
    diff_components,
    parse_sbom,
)


def _by_purl(parsed: ParsedSbom) -> dict[str, ParsedComponent]:
    return {c.purl: c for c in parsed.components}


def _cdx(components=None, *, spec="1.5", root_ref="app", dependencies=None, **extra) -> bytes:
    doc = {
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": spec,
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "metadata": {
            "timestamp": "2024-05-01T10:00:00Z",
            "tools": {"components": [{"type": "application", "name": "cyclonedx-py", "version": "4.1.0"}]},
            "component": {
                "type": "application",
                "bom-ref": root_ref,
                "name": "orders-api",
                "version": "3.2.0",
            },
        },
        "components": components if components is not None else [],
        **extra,
    }
    if dependencies is not None:
        doc["dependencies"] = dependencies
    return json.dumps(doc, indent=2).encode()


# --------------------------------------------------------------------------- CycloneDX

CDX_COMPONENTS = [
    {
        "type": "framework",
        "bom-ref": "pkg:pypi/django@5.0.4",
        "name": "Django",
        "version": "5.0.4",
        "purl": "pkg:pypi/django@5.0.4",
        "licenses": [{"license": {"id": "BSD-3-Clause"}}],
        "hashes": [{"alg": "SHA-256", "content": "a" * 64}],
    },
    {
        "type": "library",
        "bom-ref": "pkg:pypi/asgiref@3.8.1",
        "name": "asgiref",
        "version": "3.8.1",
        "purl": "pkg:pypi/asgiref@3.8.1",
    },
    {
        "type": "library",
        "bom-ref": "zope",
        "name": "Zope.Interface",
        "version": "6.2",
        "purl": "pkg:pypi/Zope.Interface@6.2",
    },
    {
        "type": "library",
        "bom-ref": "ng",
        "group": "@angular",
        "name": "core",
        "version": "17.3.0",
        "purl": "pkg:npm/%40angular/core@17.3.0",
    },
    {
        "type": "library",
        "bom-ref": "spring",
        "group": "org.springframework",
        "name": "spring-web",
        "version": "6.1.5",
        "purl": "pkg:maven/org.springframework/spring-web@6.1.5?type=jar",
        "components": [
            {
                "type": "library",
                "bom-ref": "spring-core",
                "group": "org.springframework",
                "name": "spring-core",
                "version": "6.1.5",
                "purl": "pkg:maven/org.springframework/spring-core@6.1.5?type=jar",
            }
        ],
    },
    {
        "type": "library",
        "bom-ref": "gin",
        "name": "github.com/gin-gonic/gin",
        "version": "v1.9.1",
        "purl": "pkg:golang/github.com/gin-gonic/gin@v1.9.1",
    },
    {"type": "library", "bom-ref": "openssl", "name": "openssl", "version": "3.0.13"},
    {"type": "platform", "bom-ref": "py", "name": "python", "version": "3.11.9"},
    {"type": "operating-system", "bom-ref": "os", "name": "debian", "version": "12"},
    {"type": "library", "bom-ref": "weird", "name": "bar", "version": "1", "purl": "pkg:foo/bar@1"},
    {
        "type": "library",
        "bom-ref": "nover",
        "name": "left-pad",
        "version": "1.3.0",
        "purl": "pkg:npm/left-pad",
    },
    # the application lists itself: not a component of itself
    {"type": "application", "bom-ref": "app", "name": "orders-api", "version": "3.2.0"},
]
CDX_DEPENDENCIES = [
    {"ref": "app", "dependsOn": ["pkg:pypi/django@5.0.4", "ng", "spring", "gin", "py"]},
    {"ref": "pkg:pypi/django@5.0.4", "dependsOn": ["pkg:pypi/asgiref@3.8.1"]},
    {"ref": "spring", "dependsOn": ["spring-core"]},
    {"ref": "pkg:pypi/asgiref@3.8.1"},
]


def test_cyclonedx_components_purls_names_kinds_and_direct() -> None:
    parsed = parse_sbom(_cdx(CDX_COMPONENTS, dependencies=CDX_DEPENDENCIES), filename="orders.cdx.json")
    assert parsed.format == "cyclonedx-json"
    got = _by_purl(parsed)
    assert list(got) == [
        "pkg:pypi/django@5.0.4",
        "pkg:pypi/asgiref@3.8.1",
        "pkg:pypi/zope-interface@6.2",
        "pkg:npm/%40angular/core@17.3.0",
        "pkg:maven/org.springframework/spring-web@6.1.5?type=jar",
        "pkg:maven/org.springframework/spring-core@6.1.5?type=jar",
        "pkg:golang/github.com/gin-gonic/gin@v1.9.1",
        "pkg:generic/openssl@3.0.13",
        "pkg:generic/python@3.11.9",
        "pkg:generic/debian@12",
        "pkg:foo/bar@1",
        "pkg:npm/left-pad@1.3.0",
    ]
    assert got["pkg:pypi/django@5.0.4"] == ParsedComponent(
        "pypi", "django", "5.0.4", "pkg:pypi/django@5.0.4", "framework", True
    )
    assert got["pkg:pypi/asgiref@3.8.1"].direct is False
    assert got["pkg:pypi/asgiref@3.8.1"].kind == "library"
    assert got["pkg:npm/%40angular/core@17.3.0"].name == "@angular/core"
    spring = got["pkg:maven/org.springframework/spring-web@6.1.5?type=jar"]
    assert (spring.ecosystem, spring.name, spring.version, spring.kind, spring.direct) == (
        "maven",
        "org.springframework:spring-web",
        "6.1.5",
        "framework",
        True,
    )
    nested = got["pkg:maven/org.springframework/spring-core@6.1.5?type=jar"]
    assert (nested.name, nested.direct) == ("org.springframework:spring-core", False)
    gin = got["pkg:golang/github.com/gin-gonic/gin@v1.9.1"]
    assert (gin.name, gin.kind, gin.direct) == ("github.com/gin-gonic/gin", "framework", True)
    assert got["pkg:generic/openssl@3.0.13"].ecosystem == "generic"
    assert got["pkg:generic/python@3.11.9"].kind == "runtime"
    assert got["pkg:generic/debian@12"].kind == "other"
    assert got["pkg:npm/left-pad@1.3.0"].version == "1.3.0"
    assert parsed.warnings == []


def test_cyclonedx_unknown_purl_type_is_kept_as_generic_ecosystem() -> None:
    components = [
        {"type": "library", "name": "bar", "version": "1", "purl": "pkg:foo/bar@1"},
        {"type": "library", "name": "baz", "version": "2", "purl": "pkg:weird/ns/baz@2"},
    ]
    parsed = parse_sbom(_cdx(components), filename="bom.json")
    assert [(c.ecosystem, c.name, c.version, c.purl) for c in parsed.components] == [
        ("generic", "bar", "1", "pkg:foo/bar@1"),
        ("generic", "ns/baz", "2", "pkg:weird/ns/baz@2"),
    ]


def test_cyclonedx_without_dependency_graph_says_nothing_about_direct() -> None:
    parsed = parse_sbom(_cdx(CDX_COMPONENTS), filename="bom.json")
    assert {c.direct for c in parsed.components} == {None}


def test_cyclonedx_graph_not_rooted_at_metadata_component_warns() -> None:
    parsed = parse_sbom(
        _cdx(CDX_COMPONENTS[:2], root_ref="other", dependencies=[{"ref": "x", "dependsOn": []}]),
        filename="bom.json",
    )
    assert {c.direct for c in parsed.components} == {None}
    assert "direct dependencies unknown" in parsed.warnings[0]


def test_cyclonedx_dedupes_by_purl_and_direct_wins() -> None:
    components = [
        {
            "type": "library",
            "bom-ref": "a1",
            "name": "requests",
            "version": "2.31.0",
            "purl": "pkg:pypi/requests@2.31.0",
        },
        {
            "type": "library",
            "bom-ref": "a2",
            "name": "requests",
            "version": "2.31.0",
            "purl": "pkg:pypi/Requests@2.31.0",
        },
    ]
    parsed = parse_sbom(
        _cdx(components, dependencies=[{"ref": "app", "dependsOn": ["a2"]}]), filename="bom.json"
    )
    assert parsed.components == [
        ParsedComponent("pypi", "requests", "2.31.0", "pkg:pypi/requests@2.31.0", "library", True)
    ]


@pytest.mark.parametrize(
    ("component", "kind"),
    [
        ({"name": "spring-boot", "version": "3.2.0"}, "framework"),
        ({"group": "org.springframework", "name": "spring-web"}, "framework"),
        ({"group": "laravel", "name": "framework"}, "framework"),
        ({"name": "framework"}, "library"),
        ({"name": "openjdk", "version": "21"}, "runtime"),
        ({"type": "platform", "name": "node", "version": "20.12.2"}, "runtime"),
        ({"type": "framework", "name": "acme-web"}, "framework"),
        ({"type": "container", "name": "python", "version": "3.12-slim"}, "other"),
        ({"name": "stdlib", "purl": "pkg:golang/stdlib@go1.22.2"}, "runtime"),
        ({"name": "node", "purl": "pkg:npm/node@20.0.0"}, "library"),
        ({"name": "v4", "purl": "pkg:golang/github.com/labstack/echo/v4@v4.11.4"}, "framework"),
        (
            {"name": "Microsoft.AspNetCore.App", "purl": "pkg:nuget/Microsoft.AspNetCore.App@8.0.4"},
            "framework",
        ),
        ({"name": "rails", "purl": "pkg:gem/rails@7.1.3"}, "framework"),
        ({"name": "fastapi", "purl": "pkg:pypi/FastAPI@0.110.0"}, "framework"),
        ({"name": "lodash", "purl": "pkg:npm/lodash@4.17.21"}, "library"),
    ],
)
def test_kinds(component: dict, kind: str) -> None:
    (parsed,) = parse_sbom(_cdx([{"type": "library", **component}]), filename="bom.json").components
    assert parsed.kind == kind


@pytest.mark.parametrize("spec", ["1.4", "1.5", "1.6", "1.7"])
def test_cyclonedx_spec_versions(spec: str) -> None:
    parsed = parse_sbom(_cdx(CDX_COMPONENTS[:1], spec=spec), filename="x.json")
    assert parsed.format == "cyclonedx-json"
    assert len(parsed.components) == 1


def test_cyclonedx_without_components_or_metadata() -> None:
    assert parse_sbom(b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1}').components == []


def test_cyclonedx_large_document_is_fast() -> None:
    components = [
        {
            "type": "library",
            "bom-ref": f"c{i}",
            "name": f"pkg{i}",
            "version": f"1.{i}.0",
            "purl": f"pkg:npm/pkg{i}@1.{i}.0",
            "licenses": [{"license": {"id": "MIT"}}],
        }
        for i in range(5000)
    ]
    deps = [{"ref": "app", "dependsOn": [f"c{i}" for i in range(0, 5000, 2)]}]
    data = _cdx(components, dependencies=deps)
    started = time.process_time()
    parsed = parse_sbom(data, filename="bom.json")
    assert time.process_time() - started < 5
    assert len(parsed.components) == 5000
    assert sum(c.direct for c in parsed.components) == 2500


# --------------------------------------------------------------------------- requirements.txt

REQUIREMENTS = b"""\
# Production requirements, compiled by pip-compile
--index-url https://pypi.org/simple

Django==5.0.4 \\
    --hash=sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \\
    --hash=sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
    # via -r requirements.in
requests[socks,security]==2.31.0 ; python_version < "3.12"  # pinned for urllib3
flask>=2
Zope.Interface===6.2
typing_extensions==4.*
gunicorn
-r other.txt
-c constraints.txt
-e git+https://github.com/acme/lib.git#egg=acmelib
./vendor/wheel-1.0-py3-none-any.whl
https://example.com/pkg-1.0.tar.gz
internal-sdk @ https://artifacts.example.com/internal_sdk-2.0-py3-none-any.whl
--frobnicate
"""


def test_requirements_txt() -> None:
    parsed = parse_sbom(REQUIREMENTS, filename="requirements.txt")
    assert parsed.format == "requirements.txt"
    assert [(c.name, c.version, c.purl, c.kind) for c in parsed.components] == [
        ("django", "5.0.4", "pkg:pypi/django@5.0.4", "framework"),
        ("requests", "2.31.0", "pkg:pypi/requests@2.31.0", "library"),
        ("flask", "", "pkg:pypi/flask", "framework"),
        ("zope-interface", "6.2", "pkg:pypi/zope-interface@6.2", "library"),
        ("typing-extensions", "", "pkg:pypi/typing-extensions", "library"),
        ("gunicorn", "", "pkg:pypi/gunicorn", "library"),
        ("internal-sdk", "", "pkg:pypi/internal-sdk", "library"),
    ]
    assert {(c.ecosystem, c.direct) for c in parsed.components} == {("pypi", True)}
    assert parsed.warnings == [
        "line 9: unpinned requirement 'flask>=2'",
        "line 11: unpinned requirement 'typing_extensions==4.*'",
        "line 12: unpinned requirement 'gunicorn'",
        "line 13: '-r other.txt' not followed",
        "line 14: '-c constraints.txt' not followed",
        "line 15: editable requirement '-e git+https://github.com/acme/lib.git#egg=acmelib' not followed",
        "line 16: URL or local path './vendor/wheel-1.0-py3-none-any.whl' not followed",
        "line 17: URL or local path 'https://example.com/pkg-1.0.tar.gz' not followed",
        "line 18: direct URL reference for 'internal-sdk' not followed; version unknown",
        "line 19: option '--frobnicate' ignored",
    ]


def test_requirements_unparsable_line_rejects_the_upload_naming_the_line() -> None:
    with pytest.raises(SbomError, match=r"^line 3: cannot parse requirement 'flask ==='"):
        parse_sbom(b"django==5.0\n\nflask ===\n", filename="requirements-dev.txt")


def test_requirements_continuation_error_reports_first_line() -> None:
    with pytest.raises(SbomError, match=r"^line 2:"):
        parse_sbom(b"a==1\nb==2 \\\n  c d\n", filename="requirements.txt")


def test_requirements_warnings_are_capped() -> None:
    data = "\n".join(f"pkg{i}>=1" for i in range(500)).encode()
    parsed = parse_sbom(data, filename="requirements.txt")
    assert len(parsed.components) == 500
    assert len(parsed.warnings) == 101
    assert parsed.warnings[-1] == "… and 400 more warnings"


# --------------------------------------------------------------------------- poetry.lock

POETRY_LOCK = b"""\
# This file is automatically @generated by Poetry 1.8.2 and should not be changed by hand.

[[package]]
name = "asgiref"
version = "3.8.1"
description = "ASGI specs, helper code, and adapters"
optional = false
python-versions = ">=3.8"
files = [
    {file = "asgiref-3.8.1-py3-none-any.whl", hash = "sha256:aaaa"},
]

[package.extras]
tests = ["mypy (>=0.800)", "pytest", "pytest-asyncio"]

[[package]]
name = "Django"
version = "5.0.4"
description = "A high-level Python web framework."
optional = false
python-versions = ">=3.10"
files = []

[package.dependencies]
asgiref = ">=3.7.0,<4"
sqlparse = ">=0.3.1"

[[package]]
name = "typing_extensions"
version = "4.11.0"
description = "Backported and Experimental Type Hints for Python 3.8+"
optional = false
python-versions = ">=3.8"
files = []

[metadata]
lock-version = "2.0"
python-versions = "^3.11"
content-hash = "0123456789abcdef"
"""


def test_poetry_lock() -> None:
    parsed = parse_sbom(POETRY_LOCK, filename="poetry.lock")
    assert parsed.format == "poetry.lock"
    assert parsed.components == [
        ParsedComponent("pypi", "asgiref", "3.8.1", "pkg:pypi/asgiref@3.8.1", "library", None),
        ParsedComponent("pypi", "django", "5.0.4", "pkg:pypi/django@5.0.4", "framework", None),
        ParsedComponent(
            "pypi", "typing-extensions", "4.11.0", "pkg:pypi/typing-extensions@4.11.0", "library", None
        ),
    ]
    assert parsed.warnings == []


def test_poetry_lock_without_packages() -> None:
    data = b'[metadata]\nlock-version = "2.0"\ncontent-hash = "x"\n'
    assert parse_sbom(data, filename="poetry.lock").components == []
    assert detect_format("", data) == "poetry.lock"


def test_poetry_lock_errors() -> None:
    with pytest.raises(SbomError, match=r"malformed TOML: .*line 4"):
        parse_sbom(b'[[package]]\nname = "a"\nversion = "1"\nbroken = \n', filename="poetry.lock")
    with pytest.raises(SbomError, match=r"not a poetry.lock"):
        parse_sbom(b'[tool.poetry]\nname = "x"\n', filename="poetry.lock")
    with pytest.raises(SbomError, match=r"\[\[package\]\] #2 \(b\) has no version"):
        parse_sbom(
            b'[[package]]\nname = "a"\nversion = "1"\n[[package]]\nname = "b"\n', filename="poetry.lock"
        )
    with pytest.raises(SbomError, match=r"\[\[package\]\] #1 has no name"):
        parse_sbom(b'[[package]]\nversion = "1"\n', filename="poetry.lock")
    with pytest.raises(SbomError, match=r"array of tables"):
        parse_sbom(b'package = "x"\n', filename="poetry.lock")


# --------------------------------------------------------------------------- package-lock.json

PACKAGE_LOCK_V3 = {
    "name": "orders-web",
    "version": "1.0.0",
    "lockfileVersion": 3,
    "requires": True,
    "packages": {
        "": {
            "name": "orders-web",
            "version": "1.0.0",
            "workspaces": ["packages/*"],
            "dependencies": {
                "express": "^4.19.2",
                "@angular/core": "^17.3.0",
                "lodash": "^4.17.21",
                "my-ms": "npm:ms@^2",
            },
            "devDependencies": {"typescript": "^5.4.0"},
        },
        "node_modules/express": {
            "version": "4.19.2",
            "resolved": "https://registry.npmjs.org/express/-/express-4.19.2.tgz",
        },
        "node_modules/@angular/core": {"version": "17.3.0", "peerDependencies": {"rxjs": "^6.5.3 || ^7.4.0"}},
        "node_modules/lodash": {"version": "4.17.21"},
        "node_modules/typescript": {"version": "5.4.5", "dev": True},
        "node_modules/debug": {"version": "2.6.9"},
        "node_modules/express/node_modules/debug": {"version": "2.6.9"},
        "node_modules/body-parser/node_modules/lodash": {"version": "3.10.1"},
        "node_modules/my-ms": {"name": "ms", "version": "2.1.3"},
        "node_modules/@acme/shared": {"resolved": "packages/shared", "link": True},
        "packages/shared": {"name": "@acme/shared", "version": "0.0.1"},
        "packages/shared/node_modules/@types/node": {"version": "20.12.7", "dev": True},
    },
}


def test_package_lock_v3() -> None:
    parsed = parse_sbom(json.dumps(PACKAGE_LOCK_V3).encode(), filename="package-lock.json")
    assert parsed.format == "package-lock.json"
    assert [(c.name, c.version, c.purl, c.kind, c.direct) for c in parsed.components] == [
        ("express", "4.19.2", "pkg:npm/express@4.19.2", "framework", True),
        ("@angular/core", "17.3.0", "pkg:npm/%40angular/core@17.3.0", "framework", True),
        ("lodash", "4.17.21", "pkg:npm/lodash@4.17.21", "library", True),
        ("typescript", "5.4.5", "pkg:npm/typescript@5.4.5", "library", True),
        ("debug", "2.6.9", "pkg:npm/debug@2.6.9", "library", False),
        ("lodash", "3.10.1", "pkg:npm/lodash@3.10.1", "library", False),
        ("ms", "2.1.3", "pkg:npm/ms@2.1.3", "library", True),
        ("@types/node", "20.12.7", "pkg:npm/%40types/node@20.12.7", "library", False),
    ]
    assert {c.ecosystem for c in parsed.components} == {"npm"}


def test_package_lock_v2_prefers_packages_and_v2_without_packages_falls_back() -> None:
    v2 = {
        "lockfileVersion": 2,
        "packages": {"": {"dependencies": {"koa": "^2"}}, "node_modules/koa": {"version": "2.15.3"}},
        "dependencies": {"koa": {"version": "2.15.3"}},
    }
    parsed = parse_sbom(json.dumps(v2).encode(), filename="npm-shrinkwrap.json")
    assert [(c.purl, c.kind, c.direct) for c in parsed.components] == [
        ("pkg:npm/koa@2.15.3", "framework", True)
    ]
    del v2["packages"]
    parsed = parse_sbom(json.dumps(v2).encode(), filename="package-lock.json")
    assert [(c.purl, c.direct) for c in parsed.components] == [("pkg:npm/koa@2.15.3", None)]


PACKAGE_LOCK_V1 = {
    "name": "legacy-api",
    "version": "0.1.0",
    "lockfileVersion": 1,
    "requires": True,
    "dependencies": {
        "express": {
            "version": "4.17.1",
            "requires": {"debug": "2.6.9"},
            "dependencies": {
                "debug": {"version": "2.6.9", "dependencies": {"ms": {"version": "2.0.0"}}},
            },
        },
        "@hapi/hapi": {"version": "20.2.1"},
        "ms": {"version": "2.1.3"},
        "aliased": {"version": "npm:left-pad@1.3.0"},
        "local-lib": {"version": "file:../local-lib"},
        "from-git": {"version": "git+https://github.com/acme/from-git.git#abc123"},
    },
}


def test_package_lock_v1_nested_tree_without_root_requires() -> None:
    parsed = parse_sbom(json.dumps(PACKAGE_LOCK_V1).encode(), filename="package-lock.json")
    assert [(c.name, c.version, c.kind, c.direct) for c in parsed.components] == [
        ("express", "4.17.1", "framework", None),
        ("debug", "2.6.9", "library", None),
        ("ms", "2.0.0", "library", None),
        ("@hapi/hapi", "20.2.1", "framework", None),
        ("ms", "2.1.3", "library", None),
        ("left-pad", "1.3.0", "library", None),
        ("from-git", "", "library", None),
    ]
    assert parsed.warnings == [
        "dependencies['local-lib']: local dependency 'file:../local-lib' not followed",
        "dependencies['from-git']: non-registry version 'git+https://github.com/acme/from-git.git#abc123'; "
        "version unknown",
    ]


def test_package_lock_v1_with_root_requires_map() -> None:
    doc = dict(PACKAGE_LOCK_V1, requires={"express": "^4", "ms": "^2"})
    got = {
        c.purl: c.direct
        for c in parse_sbom(json.dumps(doc).encode(), filename="package-lock.json").components
    }
    assert got["pkg:npm/express@4.17.1"] is True
    assert got["pkg:npm/ms@2.1.3"] is True
    assert got["pkg:npm/ms@2.0.0"] is False  # nested copy
    assert got["pkg:npm/%40hapi/hapi@20.2.1"] is False


def test_package_lock_errors() -> None:
    with pytest.raises(SbomError, match=r"unsupported package-lock lockfileVersion 7"):
        parse_sbom(b'{"lockfileVersion": 7, "packages": {}}', filename="package-lock.json")
    with pytest.raises(SbomError, match=r"lockfileVersion None"):
        parse_sbom(b'{"name": "x"}', filename="package-lock.json")
    with pytest.raises(SbomError, match=r"lockfileVersion True"):
        parse_sbom(b'{"lockfileVersion": true}', filename="package-lock.json")
    with pytest.raises(SbomError, match=r"packages\['node_modules/a'\] must be an object"):
        parse_sbom(b'{"lockfileVersion": 3, "packages": {"node_modules/a": 1}}', filename="package-lock.json")
    with pytest.raises(SbomError, match=r"invalid package name '@scope'"):
        parse_sbom(
            b'{"lockfileVersion": 3, "packages": {"node_modules/@scope": {"version": "1"}}}',
            filename="package-lock.json",
        )
    with pytest.raises(SbomError, match=r"'packages' is missing"):
        parse_sbom(b'{"lockfileVersion": 3}', filename="package-lock.json")


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("filename", "data", "expected"),
    [
        ("requirements.txt", b"django==5.0\n", "requirements.txt"),
        ("src/requirements-dev.txt", b"pytest\n", "requirements.txt"),
        ("C:\\proj\\requirements\\prod-requirements.in", b"x\n", "requirements.txt"),
        ("poetry.lock", POETRY_LOCK, "poetry.lock"),
        ("frontend/package-lock.json", json.dumps(PACKAGE_LOCK_V3).encode(), "package-lock.json"),
        ("orders.cdx.json", _cdx(), "cyclonedx-json"),
        ("bom.json", _cdx(), "cyclonedx-json"),
        ("sbom-2024-05.json", _cdx(), "cyclonedx-json"),
        ("deps.json", json.dumps(PACKAGE_LOCK_V1).encode(), "package-lock.json"),
        ("", _cdx(), "cyclonedx-json"),
        ("upload.bin", json.dumps(PACKAGE_LOCK_V3).encode(), "package-lock.json"),
        ("", POETRY_LOCK, "poetry.lock"),
        ("", REQUIREMENTS, "requirements.txt"),
        ("deps", b"# pinned\nrequests==2.31.0\n", "requirements.txt"),
    ],
)
def test_detect_format(filename: str, data: bytes, expected: str) -> None:
    assert detect_format(filename, data) == expected


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("notes.md", b"# Title\n\nSome prose here.\n", "unrecognised file"),
        ("", b"key: value\nother: 2\n", "unrecognised file"),
        ("bom.xml", b'<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.5"/>', "XML"),
        ("x.spdx.json", b'{"spdxVersion": "SPDX-2.3", "packages": []}', "SPDX documents are not supported"),
        ("other.json", b'{"name": "x"}', "neither a CycloneDX SBOM nor an npm package-lock.json"),
        ("other.json", b"[1, 2]", "neither a CycloneDX SBOM"),
        ("", b"", "empty"),
    ],
)
def test_detect_format_rejects(filename: str, data: bytes, message: str) -> None:
    with pytest.raises(SbomError, match=message):
        detect_format(filename, data)


def test_explicit_format_skips_detection() -> None:
    parsed = parse_sbom(b"django==5.0\n", filename="whatever.dat", format="requirements.txt")
    assert parsed.components[0].purl == "pkg:pypi/django@5.0"
    with pytest.raises(SbomError, match="unknown format 'yarn.lock'"):
        parse_sbom(b"x", format="yarn.lock")


def test_utf8_bom_is_accepted() -> None:
    parsed = parse_sbom(b"\xef\xbb\xbfdjango==5.0\n", filename="requirements.txt")
    assert parsed.components[0].version == "5.0"


# --------------------------------------------------------------------------- bad input


def _nested_json(depth: int) -> bytes:
    return (
        b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "metadata": {"properties": '
        + b"[" * depth
        + b"]" * depth
        + b"}}"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": b""}, "the file is empty"),
        ({"data": b"  \n\t\n", "filename": "requirements.txt"}, "the file is empty"),
        ({"data": b"\xff\xfed\x00j\x00", "filename": "requirements.txt"}, "not UTF-8 text .*offset 0"),
        (
            {"data": b'{"bomFormat": "CycloneDX",\n "specVersion": }', "filename": "bom.json"},
            r"malformed JSON: .*line 2",
        ),
        (
            {"data": b'{"lockfileVersion": 3, "packages": {}}', "format": "cyclonedx-json"},
            "not a CycloneDX document",
        ),
        ({"data": b'{"bomFormat": "SPDX"}', "filename": "bom.json"}, r"bomFormat is 'SPDX'"),
        (
            {"data": b'{"bomFormat": "CycloneDX", "specVersion": "1.2"}'},
            "unsupported CycloneDX specVersion '1.2'",
        ),
        (
            {"data": b'{"bomFormat": "CycloneDX", "specVersion": 1.5}'},
            "unsupported CycloneDX specVersion 1.5",
        ),
        (
            {"data": b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": 1}'},
            "^components must be a list",
        ),
        (
            {"data": b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": {"a": 1}}'},
            "^components must be a list",
        ),
        (
            {"data": b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": ["x"]}'},
            r"components\[0\] must be an object",
        ),
        ({"data": _cdx([{"type": "library", "version": "1"}])}, r"^components\[0\] has no name"),
        (
            {"data": _cdx([CDX_COMPONENTS[0], {"type": "library", "name": " "}])},
            r"^components\[1\] has no name",
        ),
        (
            {
                "data": _cdx(
                    [{"type": "library", "name": "a", "components": [{"type": "library", "name": 3}]}]
                )
            },
            r"^components\[0\]\.components\[0\] has no name",
        ),
        (
            {"data": _cdx([CDX_COMPONENTS[1], {"type": "library", "name": "x", "purl": "npm/x@1"}])},
            r"^components\[1\]: invalid purl 'npm/x@1'",
        ),
        (
            {"data": _cdx([{"type": "library", "name": "x", "version": 2}])},
            r"components\[0\]\.version must be a string",
        ),
        ({"data": _cdx([{"name": "x", "components": "y"}])}, r"components\[0\]\.components must be a list"),
        ({"data": _cdx([], dependencies={"ref": "app"})}, "dependencies must be a list"),
        (
            {"data": _cdx([], dependencies=[{"ref": "app", "dependsOn": [1]}])},
            r"dependencies\[0\]\.dependsOn",
        ),
        ({"data": _cdx([{"name": "x" * 400}])}, r"components\[0\]: package name is longer than 300"),
        (
            {"data": _cdx([{"name": "a\u0000b"}])},
            r"components\[0\]: package name or version contains control",
        ),
        (
            {"data": b'{"lockfileVersion": 3, "packages": {"node_modules/a": {"version": "1\\n2"}}}'},
            r"packages\['node_modules/a'\]: package name or version contains control",
        ),
        ({"data": _cdx([{"name": "\ud800"}])}, r"components\[0\]: cannot build a package URL"),
        ({"data": _cdx([{"name": "x", "version": "1" * 101}])}, r"version is longer than 100"),
        (
            {"data": b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1' + b"0" * 5000 + b"}"},
            "malformed JSON",
        ),
        ({"data": _nested_json(100_000), "filename": "bom.json"}, "nested more than 128 levels"),
        ({"data": _nested_json(300), "filename": "bom.json"}, "nested more than 128 levels"),
        ({"data": b"a = " + b"[" * 100_000 + b"]" * 100_000, "filename": "poetry.lock"}, "malformed TOML"),
        ({"data": b"x = 1" + b"0" * 5000 + b"\n", "filename": "poetry.lock"}, "malformed TOML"),
    ],
)
def test_bad_input_raises_sbom_error(kwargs: dict, message: str) -> None:
    with pytest.raises(SbomError, match=message):
        parse_sbom(**kwargs)


def test_size_limit_is_checked_before_anything_else() -> None:
    with pytest.raises(SbomError, match=r"too large \(11 bytes; the limit is 10\)"):
        parse_sbom(b"\xff" * 11, filename="requirements.txt", max_bytes=10)
    assert parse_sbom(b"django==5\n", filename="requirements.txt", max_bytes=10).components
    big = b"#" * (10 * 1024 * 1024 + 1)
    with pytest.raises(SbomError, match="too large"):
        parse_sbom(big, filename="requirements.txt")


def test_sbom_error_is_a_value_error() -> None:
    assert issubclass(SbomError, ValueError)


# --------------------------------------------------------------------------- diff


def _pc(ecosystem: str, name: str, version: str, purl: str) -> ParsedComponent:
    return ParsedComponent(ecosystem, name, version, purl, "library", None)


def test_diff_components() -> None:
    old = [
        ("pypi", "django", "4.2.11", "pkg:pypi/django@4.2.11"),
        ("pypi", "requests", "2.31.0", "pkg:pypi/requests@2.31.0"),
        ("pypi", "six", "1.16.0", "pkg:pypi/six@1.16.0"),
        ("npm", "lodash", "3.10.1", "pkg:npm/lodash@3.10.1"),
        ("npm", "lodash", "4.17.20", "pkg:npm/lodash@4.17.20"),
        ("npm", "ms", "2.0.0", "pkg:npm/ms@2.0.0"),
        ("npm", "ms", "2.1.3", "pkg:npm/ms@2.1.3"),
        ("pypi", "urllib3", "2.2.1", "pkg:pypi/urllib3@2.2.1"),
    ]
    new = [
        _pc("pypi", "django", "5.0.4", "pkg:pypi/django@5.0.4"),
        _pc("pypi", "requests", "2.31.0", "pkg:pypi/requests@2.31.0"),
        _pc("pypi", "flask", "", "pkg:pypi/flask"),
        _pc("npm", "lodash", "3.10.1", "pkg:npm/lodash@3.10.1"),
        _pc("npm", "lodash", "4.17.21", "pkg:npm/lodash@4.17.21"),
        _pc("npm", "ms", "3.0.0", "pkg:npm/ms@3.0.0"),
        _pc("pypi", "urllib3", "1.26.18", "pkg:pypi/urllib3@1.26.18"),
    ]
    changes = diff_components(old, new)
    assert changes == ComponentChanges(
        added=["pkg:npm/ms@3.0.0", "pkg:pypi/flask"],
        removed=["pkg:npm/ms@2.0.0", "pkg:npm/ms@2.1.3", "pkg:pypi/six@1.16.0"],
        upgraded=[
            {"ecosystem": "npm", "name": "lodash", "from": "4.17.20", "to": "4.17.21"},
            {"ecosystem": "pypi", "name": "django", "from": "4.2.11", "to": "5.0.4"},
            {"ecosystem": "pypi", "name": "urllib3", "from": "2.2.1", "to": "1.26.18"},  # downgrade
        ],
    )


def test_diff_components_accepts_three_tuples_and_objects() -> None:
    old = [
        ("npm", "@angular/core", "16.0.0"),
        ("maven", "org.springframework:spring-web", "6.0.0"),
        ("pypi", "django", ""),
    ]
    new = [_pc("pypi", "django", "5.0.4", "pkg:pypi/django@5.0.4")]
    changes = diff_components(old, new)
    assert changes.removed == [
        "pkg:maven/org.springframework/spring-web@6.0.0",
        "pkg:npm/%40angular/core@16.0.0",
    ]
    assert changes.upgraded == [{"ecosystem": "pypi", "name": "django", "from": "", "to": "5.0.4"}]
    assert changes.added == []
    assert diff_components(new, new) == ComponentChanges([], [], [])
    assert diff_components([], new).added == ["pkg:pypi/django@5.0.4"]


def test_diff_round_trip_with_parsed_files() -> None:
    before = parse_sbom(b"django==4.2.11\nrequests==2.31.0\nsix==1.16\n", filename="requirements.txt")
    after = parse_sbom(b"django==5.0.4\nrequests==2.31.0\nflask==3.0.3\n", filename="requirements.txt")
    old = [(c.ecosystem, c.name, c.version, c.purl) for c in before.components]
    changes = diff_components(old, after.components)
    assert changes.added == ["pkg:pypi/flask@3.0.3"]
    assert changes.removed == ["pkg:pypi/six@1.16"]
    assert changes.upgraded == [{"ecosystem": "pypi", "name": "django", "from": "4.2.11", "to": "5.0.4"}]


# --------------------------------------------------------------------------- fuzzing

_fast = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
_FILENAMES = st.sampled_from(
    [
        "",
        "requirements.txt",
        "poetry.lock",
        "package-lock.json",
        "bom.json",
        "x.json",
        "upload.bin",
        "bom.xml",
    ]
)
_FORMATS = st.sampled_from([None, "cyclonedx-json", "requirements.txt", "poetry.lock", "package-lock.json"])


def _only_sbom_errors(data: bytes, filename: str = "", format: str | None = None) -> None:
    try:
        parsed = parse_sbom(data, filename=filename, format=format)
    except SbomError:
        return
    assert isinstance(parsed, ParsedSbom)
    assert len({c.purl for c in parsed.components}) == len(parsed.components)
    for c in parsed.components:
        assert c.kind in ("library", "framework", "runtime", "other")
        assert c.direct in (True, False, None)
        assert not any(ord(ch) < 32 for ch in c.name + c.version)
        assert len(c.name) <= 300 and len(c.version) <= 100 and len(c.purl) <= 600


@_fast
@given(st.binary(max_size=400), _FILENAMES, _FORMATS)
def test_arbitrary_bytes_only_raise_sbom_error(data: bytes, filename: str, format: str | None) -> None:
    _only_sbom_errors(data, filename, format)


@_fast
@given(st.binary(max_size=200), _FILENAMES)
def test_detect_format_only_raises_sbom_error(data: bytes, filename: str) -> None:
    with contextlib.suppress(SbomError):
        assert detect_format(filename, data) in (
            "cyclonedx-json",
            "requirements.txt",
            "poetry.lock",
            "package-lock.json",
        )


@_fast
@given(st.text(alphabet=st.sampled_from("abcxyz019.-_=<>~!;@[]()\"' \t\n\\#,*:/+"), max_size=120))
def test_requirement_like_text_only_raises_sbom_error(text: str) -> None:
    _only_sbom_errors(text.encode(), "requirements.txt")


@_fast
@given(st.text(alphabet=st.sampled_from('[]{}=".,\n abc01#'), max_size=120))
def test_toml_like_text_only_raises_sbom_error(text: str) -> None:
    _only_sbom_errors(("[[package]]\n" + text).encode(), "poetry.lock")


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.sampled_from(
        [
            "",
            "x",
            "app",
            "1.0",
            "@s",
            "@s/n",
            "pkg:npm/a@1",
            "pkg:foo/b",
            "pkg:",
            "npm:x@1",
            "file:a",
            "node_modules/a",
        ]
    )
)
_json_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "version",
                    "purl",
                    "type",
                    "group",
                    "bom-ref",
                    "components",
                    "ref",
                    "dependsOn",
                    "dependencies",
                    "packages",
                    "link",
                    "requires",
                    "",
                    "node_modules/a",
                    "node_modules/@s/n",
                    "a",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@_fast
@given(
    st.fixed_dictionaries(
        {"bomFormat": st.just("CycloneDX"), "specVersion": st.sampled_from(["1.4", "1.5", "1.6"])},
        optional={"components": _json_values, "dependencies": _json_values, "metadata": _json_values},
    )
)
def test_cyclonedx_like_documents_only_raise_sbom_error(doc: dict) -> None:
    _only_sbom_errors(json.dumps(doc).encode(), "bom.json")


@_fast
@given(
    st.fixed_dictionaries(
        {"lockfileVersion": st.sampled_from([1, 2, 3])},
        optional={"packages": _json_values, "dependencies": _json_values, "requires": _json_values},
    )
)
def test_package_lock_like_documents_only_raise_sbom_error(doc: dict) -> None:
    _only_sbom_errors(json.dumps(doc).encode(), "package-lock.json")
