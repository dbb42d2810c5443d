"""The one bounded YAML loader behind every upload that may be YAML."""

from __future__ import annotations

import time

import pytest

from inventory.engines.yaml_safe import YamlError, load_all_safely, load_safely

LAUGHS = b"a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + b"".join(
    b"%s: &%s [%s]\n" % (bytes([c]), bytes([c]), b",".join([b"*" + bytes([c - 1])] * 9))
    for c in range(ord("b"), ord("j"))
)


@pytest.mark.parametrize("load", [load_safely, load_all_safely])
def test_it_refuses_billion_laughs_quickly(load):
    started = time.monotonic()
    with pytest.raises(YamlError, match="alias bomb"):
        load(LAUGHS, max_bytes=10**6)
    assert time.monotonic() - started < 2


def test_a_bomb_hidden_in_a_later_document_is_refused():
    with pytest.raises(YamlError):
        load_all_safely(b"kind: API\n---\n" + LAUGHS, max_bytes=10**6)


def test_modest_aliases_and_several_documents_load():
    assert load_all_safely(b"a: &x {k: 1}\nb: *x\n---\nc: 2\n", max_bytes=1000) == [
        {"a": {"k": 1}, "b": {"k": 1}},
        {"c": 2},
    ]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"\xff\xfe\x00", "UTF-8"),
        (b"a: 1\n---\nb: 2\n", "several YAML documents"),
        (b"x: !!python/object/apply:os.system [id]\n", "Unsupported YAML tag"),
        (b"a: 1\na: 2\n", "Duplicate key"),
        (b"[" * 100 + b"]" * 100, "nested deeper"),
        (b"a: [1, 2\n", "Malformed YAML at line"),
    ],
)
def test_bad_yaml_gets_one_short_error(data, message):
    with pytest.raises(YamlError, match=message):
        load_safely(data, max_bytes=10**6)


def test_it_checks_size_before_parsing():
    with pytest.raises(YamlError, match="too large"):
        load_safely(b"a: 1\n" * 1000, max_bytes=100)


def test_dates_stay_text():
    assert load_safely(b"version: 2024-01-01\n", max_bytes=100) == {"version": "2024-01-01"}
