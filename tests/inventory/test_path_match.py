"""Segment-by-segment path template matching (inventory.engines.path_match). No database."""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from inventory.engines.discovery import KnownApi, KnownOperation, Matcher
from inventory.engines.path_match import PathPattern, SegmentPattern, TemplateIndex, split_parameters


def _pattern(template: str) -> PathPattern:
    return PathPattern.compile([s for s in template.split("/") if s], literal_segment=str, literal_piece=str)


def _reference_regex(template: str) -> re.Pattern[str]:
    """The regex the matcher used before: ``{param}`` → ``[^/]+``. Only ever run on tiny inputs here."""
    out = []
    for seg in [s for s in template.split("/") if s]:
        pos, regex = 0, ""
        for m in re.finditer(r"\{[^{}/]*\}", seg):
            regex += re.escape(seg[pos : m.start()]) + "[^/]+"
            pos = m.end()
        out.append(regex + re.escape(seg[pos:]))
    return re.compile("/" + "/".join(out))


def test_it_splits_literals_and_parameter_runs() -> None:
    assert split_parameters("plain") is None
    assert split_parameters("{id}") == (["", ""], [1])
    assert split_parameters("{name}.json") == (["", ".json"], [1])
    assert split_parameters("{a}{b}{c}x") == (["", "x"], [3])
    assert split_parameters("v{major}.{minor}") == (["v", ".", ""], [1, 1])
    assert split_parameters("{x{y}") == (["{x", ""], [1])  # the first brace is literal text
    assert split_parameters("a}{b") is None
    assert split_parameters("{}") == (["", ""], [1])


def test_it_needs_one_character_per_adjacent_parameter() -> None:
    pattern = SegmentPattern(("", "x"), (3,))
    assert pattern.matches("abcx")
    assert not pattern.matches("abx")
    assert not pattern.matches("abc")


def test_it_matches_whole_segments_only() -> None:
    pattern = _pattern("/files/{name}.json")
    assert pattern.fullmatch("/files/report.json")
    assert not pattern.fullmatch("/files/.json")
    assert not pattern.fullmatch("/files/a/b.json")
    assert not pattern.fullmatch("/files/report.json/extra")
    assert not pattern.fullmatch("/")


def test_it_returns_the_remainder_after_a_templated_base() -> None:
    base = _pattern("/tenants/{tenant}")
    assert base.remainder("/tenants/acme/orders/1") == "/orders/1"
    assert base.remainder("/tenants/acme") == "/"
    assert base.remainder("/tenants") is None
    assert base.remainder("/other/acme") is None


segment_text = st.text(alphabet="ab.{}x", max_size=8)
template_st = st.lists(segment_text.filter(bool), min_size=1, max_size=3).map(lambda s: "/" + "/".join(s))
path_st = st.lists(st.text(alphabet="ab.x{}", min_size=1, max_size=8), max_size=3).map(
    lambda s: "/" + "/".join(s)
)


@settings(max_examples=400, deadline=None)
@given(template=template_st, path=path_st)
def test_it_agrees_with_the_old_regex_on_small_inputs(template: str, path: str) -> None:
    assert _pattern(template).fullmatch(path) == bool(_reference_regex(template).fullmatch(path))


def test_adjacent_parameters_against_a_long_path_are_fast() -> None:
    """Ten adjacent parameters compiled to ``[^/]+`` ten times, which backtracked polynomially."""
    ops = [KnownOperation("GET", "/{a}{b}{c}{d}{e}{f}{g}{h}{i}{j}x", False, 1)]
    matcher = Matcher([KnownApi(1, ["https://h.example"], False, ops)])
    started = time.process_time()
    for length in (300, 3_000, 30_000):
        assert matcher.match("h.example", "GET", "/" + "a" * length).kind == "undocumented"
    assert time.process_time() - started < 0.5
    assert matcher.match("h.example", "GET", "/" + "a" * 10 + "x").kind == "documented"
    assert matcher.match("h.example", "GET", "/" + "a" * 9 + "x").kind == "undocumented"


def test_many_literals_in_one_segment_are_fast() -> None:
    template = "/" + "{p}a" * 200 + "{q}"
    started = time.process_time()
    pattern = _pattern(template)
    assert not pattern.fullmatch("/" + "a" * 100_000 + "/")
    assert not pattern.fullmatch("/" + "b" * 100_000)
    assert pattern.fullmatch("/" + "a" * 100_000)
    assert pattern.fullmatch("/" + "xa" * 200 + "y")
    assert time.process_time() - started < 0.5


def test_many_braces_in_one_segment_are_split_fast() -> None:
    started = time.process_time()
    assert split_parameters("{" * 100_000 + "}") == (["{" * 99_999, ""], [1])
    assert split_parameters("{" * 100_000) is None
    assert split_parameters("{x}" * 50_000) == (["", ""], [50_000])
    assert time.process_time() - started < 0.5


def _first_by_trying_each(templates: list[str], path: str) -> int | None:
    for order, template in enumerate(templates):
        if _pattern(template).fullmatch(path):
            return order
    return None


@settings(max_examples=300, deadline=None)
@given(templates=st.lists(template_st, min_size=1, max_size=6), path=path_st)
def test_the_index_finds_the_first_matching_template(templates: list[str], path: str) -> None:
    index = TemplateIndex()
    for order, template in enumerate(templates):
        index.add(_pattern(template), order, template)
    hit = index.first(path)
    assert (hit[0] if hit else None) == _first_by_trying_each(templates, path)


def test_many_endpoints_against_many_operations_are_fast() -> None:
    """Each endpoint used to be tried against every template of its API: endpoints × operations."""
    ops = [KnownOperation("GET", f"/v1/resource-{i}/{{id}}", False, i) for i in range(4_000)]
    matcher = Matcher([KnownApi(1, ["https://h.example"], False, ops)])
    started = time.process_time()
    kinds = [matcher.match("h.example", "GET", f"/v1/thing-{i}/{{id}}").kind for i in range(20_000)]
    assert time.process_time() - started < 2.0
    assert set(kinds) == {"undocumented"}
    assert matcher.match("h.example", "GET", "/v1/resource-3999/{id}").operation_key == 3999


def test_thousands_of_parameter_shapes_at_one_place_do_not_multiply_the_work() -> None:
    """A valid spec of 4,000 templates ``/{a}``, ``/{a}{b}``, … made every logged path try each one
    (55 ms a path). Only ``MAX_PARAMETER_BRANCHES`` shapes branch from one place; the rest are not
    indexed, and their paths are reported as undocumented instead of stalling the worker."""
    from inventory.engines.path_match import MAX_PARAMETER_BRANCHES

    index = TemplateIndex()
    added = [index.add(_pattern("/" + "".join(f"{{p{j}}}" for j in range(k))), k, k) for k in range(1, 4001)]
    assert added.count(True) == MAX_PARAMETER_BRANCHES
    started = time.process_time()
    hits = [index.first("/" + "x" * (i % 5000 + 1)) for i in range(2_000)]
    assert time.process_time() - started < 1.0
    assert hits[0] == (1, 1)  # the first template still matches
