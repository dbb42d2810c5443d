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


# --- Scalars and keys that cost more than their size -----------------------------------------------------


def _cpu(action):  # noqa: ANN001, ANN202
    started = time.process_time()
    result = action()
    return time.process_time() - started, result


def test_a_long_base_sixty_number_stays_text_in_linear_time():
    """YAML 1.1 reads ``1:0:0:…`` as base 60, a quadratic conversion (640 KB took 15 s)."""
    data = b"a: 1" + b":0" * 320_000 + b"\n"
    elapsed, loaded = _cpu(lambda: load_safely(data, max_bytes=10_000_000))
    assert elapsed < 2, f"{elapsed:.2f} s"
    assert loaded["a"] == data[3:-1].decode()
    assert load_safely(b"a: '1:30'\nb: 1:30\n", max_bytes=100) == {"a": "1:30", "b": "1:30"}


def test_a_number_longer_than_python_converts_is_text_not_a_crash():
    loaded = load_safely(b"a: " + b"1" * 5000 + b"\nb: 12\n", max_bytes=10_000)
    assert loaded == {"a": "1" * 5000, "b": 12}


def test_big_number_keys_with_colliding_hashes_are_inserted_in_linear_time():
    """Python hashes n as n mod 2**61-1: keys k*(2**61-1) all collide (20,000 took 9.4 s)."""
    data = b"".join(b"%d: 1\n" % ((2**61 - 1) * k) for k in range(1, 20_001))
    elapsed, loaded = _cpu(lambda: load_safely(data, max_bytes=10_000_000))
    assert elapsed < 2, f"{elapsed:.2f} s"
    assert len(loaded) == 20_000 and str(2**61 - 1) in loaded
    assert load_safely(b"200: ok\n", max_bytes=100) == {200: "ok"}  # small numbers stay numbers
