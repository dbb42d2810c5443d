"""Inputs built to hurt, up to the upload size limit, for every inventory parser except OpenAPI specs.

Each test times the parser and asserts a generous bound (this machine is slow and shared): the point
is that nothing is quadratic or worse, so the bound holds with a wide margin where a backtracking
regex or an O(n²) loop took minutes. The inputs are built once per module to keep the file fast.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import override_settings

from inventory.engines import catalog, discovery, sbom
from inventory.services.discovered import discovery_ingest
from portal.audit import Actor
from tests.timing import timed, timed_error

LIMIT = settings.PORTAL_UPLOAD_MAX_BYTES


def fill(line: str, size: int = LIMIT) -> str:
    """As many copies of ``line`` as fit in ``size`` bytes, one per line."""
    return "\n".join([line] * (size // (len(line.encode()) + 1)))


def chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """The way Django hands an upload to the service."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_the_limit_is_the_upload_limit() -> None:
    assert LIMIT == 10 * 1024 * 1024


# --------------------------------------------------------------------------- gateway logs

NGINX_PREFIX = '10.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1" 200 2326 '


def test_nginx_lines_of_escaped_quotes() -> None:
    """An unclosed field of escaped quotes made the field scan restart at every quote: O(n²) a line."""
    room = discovery.MAX_LINE_LENGTH - len(NGINX_PREFIX) - 4
    text = fill(NGINX_PREFIX + '"a' + '\\"' * (room // 2))
    agg = timed(lambda: discovery.aggregate(discovery.iter_records(text.split("\n"), fmt="nginx")))
    assert agg.parsed == agg.lines > 300


def test_nginx_line_with_long_quoted_request() -> None:
    line = '10.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET /' + "a\\x" * 10_000 + ' HTTP/1.1" 200 1 "-" "u"'
    agg = timed(lambda: discovery.aggregate(discovery.iter_records(fill(line).split("\n"), fmt="nginx")))
    assert agg.parsed == agg.lines


def test_json_lines_nested_deeply() -> None:
    text = fill('{"path": ' + "[" * (discovery.MAX_LINE_LENGTH - 20) + "}")
    agg = timed(lambda: discovery.aggregate(discovery.iter_records(text.split("\n"), fmt="json")))
    assert agg.skipped == agg.lines and agg.skipped_examples[0].reason == "invalid JSON"


def test_a_log_of_junk_lines_is_refused_early() -> None:
    data = b"x\n" * (LIMIT // 2)
    error = timed_error(
        ValidationError,
        lambda: discovery_ingest(
            actor=Actor.system("test"), chunks=chunks(data), fmt="nginx", max_bytes=LIMIT
        ),
    )
    assert "More than 100,000 lines could not be read" in str(error)


def test_a_log_that_is_one_line_with_no_newline() -> None:
    data = b"a" * LIMIT
    error = timed_error(
        ValidationError,
        lambda: discovery_ingest(
            actor=Actor.system("test"), chunks=chunks(data), fmt="nginx", max_bytes=LIMIT
        ),
    )
    assert "line 1: line too long" in str(error)


TEN_PARAMETERS = "/{a}{b}{c}{d}{e}{f}{g}{h}{i}{j}x"


def _matcher() -> discovery.Matcher:
    ops = [discovery.KnownOperation("GET", TEN_PARAMETERS, False, 1)]
    return discovery.Matcher([discovery.KnownApi(1, ["https://h.example/{tenant}"], False, ops)])


def test_many_lines_hitting_one_template_with_adjacent_parameters() -> None:
    """Each line's path is 300 characters that the ten-parameter template must reject."""
    line = '10.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET /t/{} HTTP/1.1" 200 1 "-" "u" "h.example"'
    text = fill(line.replace("{}", "a" * 300))
    matcher = _matcher()

    def run() -> list[discovery.Match]:
        agg = discovery.aggregate(discovery.iter_records(text.split("\n"), fmt="nginx"))
        return [matcher.match(s.host, s.method, s.path_template) for s in agg.endpoints.values()]

    assert [m.kind for m in timed(run)] == ["undocumented"]


def test_many_distinct_paths_against_one_template() -> None:
    paths = [f"/t/{'a' * 280}{i:08d}q" for i in range(LIMIT // 300)]
    matcher = _matcher()
    kinds = timed(lambda: {matcher.match("h.example", "GET", p).kind for p in paths})
    assert kinds == {"undocumented"}


# --------------------------------------------------------------------------- SBOMs and lockfiles


def parse(data: bytes, filename: str) -> sbom.ParsedSbom:
    return sbom.parse_sbom(data, filename=filename, max_bytes=LIMIT)


def refused(data: bytes, filename: str, message: str) -> None:
    assert len(data) <= LIMIT
    error = timed_error(sbom.SbomError, lambda: parse(data, filename))
    assert message in str(error)


def test_requirements_comment_stripping_on_a_line_of_spaces() -> None:
    """The reported case: ``(^|\\s+)#`` was tried at every position of the run of spaces, O(n²)."""
    refused(b"flask==2.0\nx" + b" " * (LIMIT - 20) + b"y", "requirements.txt", "line 2 is longer than 4,096")
    refused(b"flask==2.0\nx" + b" " * 80_000 + b"y", "requirements.txt", "line 2 is longer than 4,096")


def test_requirements_lines_at_the_length_cap() -> None:
    line = b"a" + b" " * 4_000 + b"# " + b"#" * 80 + b"\n"
    parsed = timed(lambda: parse(line * (LIMIT // len(line)), "requirements.txt"))
    assert [c.name for c in parsed.components] == ["a"]
    refused(b"b" * 4_097, "requirements.txt", "line 1 is longer than 4,096 characters")


def test_requirements_detection_on_a_line_of_spaces() -> None:
    """The requirement-start pattern had two adjacent ``\\s*``: O(n²) on name + spaces + junk."""
    refused(b"a" + b" " * 80_000 + b"x", "", "line 1 is longer than 4,096")
    assert timed(lambda: sbom.detect_format("", b"a" + b" " * 4_000 + b"==1")) == "requirements.txt"


def test_requirements_many_lines() -> None:
    refused(b"a==1\n" + b"\n" * (LIMIT - 10), "requirements.txt", "more than 100,000 lines")
    refused(b"a==1\n" + b"\x0c" * (LIMIT - 10), "requirements.txt", "more than 100,000 lines")
    refused(b"-i x\n" * (LIMIT // 5), "requirements.txt", "more than 100,000 lines")


def test_requirements_continuations_add_up_to_a_capped_requirement() -> None:
    data = b"a" * 4_000 + b"\\\n" + b"a" * 4_000 + b"\\\n" + b"==1\n"
    refused(data, "requirements.txt", "line 1: the requirement is longer than 4,096")


def test_requirements_more_components_than_the_cap() -> None:
    data = b"".join(b"p%d==1\n" % i for i in range(20_001))
    refused(data, "requirements.txt", "more than 20,000 components")


def test_poetry_lock_detection_over_blank_lines() -> None:
    """``^\\s*\\[\\[package\\]\\]`` in MULTILINE mode ran over all later blank lines from every line start."""
    data = b"# [[package]] mentioned\n" + b" \n" * 99_000 + b"a==1\n"
    assert timed(lambda: sbom.detect_format("deps.txt", data)) == "requirements.txt"


def test_poetry_lock_over_its_size_cap() -> None:
    data = b'[[package]]\nname = "a"\nversion = "1"\n' + b"#" * (LIMIT - 100) + b"\n"
    refused(data, "poetry.lock", "the poetry.lock is too large")


def test_poetry_lock_with_many_values() -> None:
    refused(b"a = [" + b"1," * 1_000_000 + b"1]\n", "poetry.lock", "too many values")
    refused(b"".join(b"k%d = 1\n" % i for i in range(200_000)), "poetry.lock", "too many values")


def test_poetry_lock_dotted_keys() -> None:
    """A dotted key costs the TOML parser O(parts²)."""
    refused(
        b"a" + b".a" * 100_000 + b" = 1\n",
        "poetry.lock",
        "line 1: a key or table name with more than 32 dots",
    )
    refused(b"[" + b"a." * 1_000 + b"b]\n", "poetry.lock", "more than 32 dots")


def test_poetry_lock_at_its_caps() -> None:
    """The most expensive shapes that pass the caps still parse quickly."""
    values = b"x = [" + b"1," * (sbom.MAX_TOML_TOKENS - 30) + b"1]\n"
    text = (
        b'[[package]]\nname = "a"\nversion = "1"\n'
        + b'd = "'
        + b"x" * (sbom.MAX_POETRY_LOCK_BYTES - len(values) - 100)
        + b'"\n'
    )
    parsed = timed(lambda: parse(text + values, "poetry.lock"))
    assert [c.name for c in parsed.components] == ["a"]


def _cdx(components: bytes, extra: bytes = b"") -> bytes:
    return (
        b'{"bomFormat": "CycloneDX", "specVersion": "1.5", ' + extra + b'"components": [' + components + b"]}"
    )


def test_cyclonedx_nested_brackets() -> None:
    refused(b"[" * 200_000, "bom.json", "nested more than 128 levels")
    refused(b"[" * LIMIT, "bom.json", "too many values")
    refused(_cdx(b'{"name": "a", "x": ' + b"[" * 129 + b"]" * 129 + b"}"), "bom.json", "nested more than 128")


def test_cyclonedx_a_huge_number_of_tiny_components() -> None:
    tiny = b'{"name":"a"},'
    refused(_cdx(tiny * ((LIMIT - 100) // len(tiny)) + b'{"name":"z"}'), "bom.json", "too many values")
    refused(
        _cdx(b"".join(b'{"name":"a%d"},' % i for i in range(20_000)) + b'{"name":"z"}'),
        "bom.json",
        "more than 20,000 components",
    )


def test_cyclonedx_dependencies_that_all_start_at_the_application() -> None:
    """Each entry for the root used to copy the set of direct references: O(n²)."""
    deps = b",".join(b'{"ref":"app","dependsOn":["r%d","s%d"]}' % (i, i) for i in range(80_000))
    extra = b'"metadata": {"component": {"name": "app", "bom-ref": "app"}}, "dependencies": [' + deps + b"], "
    parsed = timed(lambda: parse(_cdx(b'{"name": "x", "bom-ref": "r1"}', extra), "bom.json"))
    assert parsed.components[0].direct is True


def test_cyclonedx_long_purl_and_name() -> None:
    refused(
        _cdx(b'{"name": "a", "purl": "pkg:npm/' + b"a" * (LIMIT - 200) + b'"}'),
        "bom.json",
        "purl is longer than 2,400",
    )
    refused(_cdx(b'{"name": "' + b"a" * (LIMIT - 200) + b'"}'), "bom.json", "package name is longer than 300")


def test_package_lock_a_huge_number_of_tiny_packages() -> None:
    entries = b",".join(b'"node_modules/a%d":{"version":"1"}' % i for i in range(30_000))
    refused(
        b'{"lockfileVersion": 3, "packages": {' + entries + b"}}",
        "package-lock.json",
        "more than 20,000 components",
    )


def test_package_lock_v1_deep_tree_with_many_leaves() -> None:
    """Position strings grow with depth; they used to be built for every sibling at once."""
    leaves = b",".join(b'"l%d":{"version":"1"}' % i for i in range(19_000))
    deep = (
        b'{"version":"1","dependencies":{"d":' * 60
        + b'{"version":"1","dependencies":{'
        + leaves
        + b"}}"
        + b"}}" * 60
    )
    parsed = timed(
        lambda: parse(b'{"lockfileVersion": 1, "dependencies": {"top": ' + deep + b"}}", "package-lock.json")
    )
    assert len(parsed.components) == 19_000 + 62 - 60


# --------------------------------------------------------------------------- Backstage catalog


def _component(name: str, provides: list[str], consumes: list[str]) -> str:
    return (
        f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{name: {name}}}\n"
        f"spec: {{owner: team-a, providesApis: {json.dumps(provides)}, consumesApis: {json.dumps(consumes)}}}\n"
    )


def parse_catalog(text: str) -> catalog.CatalogResult:
    return catalog.parse_catalog(text.encode(), resolve_text=lambda rel: None, max_bytes=LIMIT)


def test_catalog_component_with_too_many_references() -> None:
    """1,000 provided × 1,000 consumed APIs asked for a million links, each a write and an audit event."""
    refs = [f"api-{i}" for i in range(1_000)]
    error = timed_error(catalog.CatalogError, lambda: parse_catalog(_component("c", refs, refs)))
    assert "spec.providesApis lists 1,000 APIs; the limit is 100" in str(error)


def test_catalog_links_add_up_across_components() -> None:
    refs = [f"api-{i}" for i in range(100)]
    text = "---\n".join(_component(f"c{i}", ["p"], refs) for i in range(51))
    error = timed_error(catalog.CatalogError, lambda: parse_catalog(text))
    assert "asks for 5,100 consumer links; import at most 5,000" in str(error)


def test_catalog_references_given_as_one_long_string() -> None:
    """A string was iterated as a list of one-letter references."""
    text = "kind: Component\nmetadata: {name: c}\nspec: {owner: t, consumesApis: " + "a" * 100_000 + "}\n"
    error = timed_error(catalog.CatalogError, lambda: parse_catalog(text))
    assert "spec.consumesApis must be a list" in str(error)


def test_catalog_more_documents_than_the_cap() -> None:
    error = timed_error(catalog.CatalogError, lambda: parse_catalog("kind: Location\n---\n" * 501))
    assert "import at most 500" in str(error)


@pytest.mark.django_db
def test_import_catalog_command_has_the_web_limit(tmp_path: Any) -> None:
    path = tmp_path / "catalog-info.yaml"
    path.write_bytes(b"# padding\n" * 20)
    err = io.StringIO()
    with override_settings(PORTAL_UPLOAD_MAX_BYTES=100), pytest.raises(CommandError):
        call_command("import_catalog", str(path), stderr=err)
    assert "larger than the 100-byte limit" in err.getvalue()
