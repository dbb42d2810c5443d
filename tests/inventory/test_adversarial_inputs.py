"""Inputs built to hurt, up to the upload size limit, for every inventory parser except OpenAPI specs.

Each test times the parser and asserts a generous bound (this machine is slow and shared): the point
is that nothing is quadratic or worse, so the bound holds with a wide margin where a backtracking
regex or an O(n²) loop took minutes. The inputs are built once per module to keep the file fast.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from inventory.engines import discovery
from inventory.services.discovered import discovery_ingest
from portal.audit import Actor

LIMIT = settings.PORTAL_UPLOAD_MAX_BYTES
BOUND = 3.0  # seconds: generous, for a slow shared machine; the quadratic versions took minutes
T = TypeVar("T")


def timed(action: Callable[[], T], bound: float = BOUND) -> T:
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    assert elapsed < bound, f"took {elapsed:.2f}s (bound {bound}s)"
    return result


def timed_error(error: type[Exception], action: Callable[[], Any], bound: float = BOUND) -> Exception:
    started = time.perf_counter()
    with pytest.raises(error) as caught:
        action()
    elapsed = time.perf_counter() - started
    assert elapsed < bound, f"took {elapsed:.2f}s (bound {bound}s)"
    return caught.value


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
