"""portal.field_limits reads a field's limits from its model, and the serializers take theirs from
there (or from the service that checks them), never as a number of their own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from inventory.models import Api, AvailabilityWindow, PerformanceBaseline
from portal.field_limits import digits_of, max_length_of, value_range_of
from portal.models import OrgUnit

ROOT = Path(__file__).resolve().parents[2]
LIMIT_KEYWORDS = {"max_length", "min_length", "max_value", "min_value", "max_digits", "decimal_places"}
SCHEMA_LIMIT_KEYS = {"maxLength", "minLength", "maxItems", "minItems", "maximum", "minimum"}


def test_it_reads_a_char_fields_max_length():
    assert max_length_of(OrgUnit, "slug") == 63
    assert max_length_of(AvailabilityWindow, "timezone") == 64


def test_it_reads_a_text_fields_max_length_validator():
    assert max_length_of(Api, "description") == 10_000


def test_a_field_without_a_length_is_an_error_not_a_guess():
    with pytest.raises(ValueError, match="no maximum length"):
        max_length_of(Api, "handles_personal_data")
    with pytest.raises(TypeError, match="not a concrete field"):
        max_length_of(OrgUnit, "apis")  # a reverse relation


def test_it_reads_the_range_the_model_declares():
    assert value_range_of(PerformanceBaseline, "p95_ms") == (0, 3_600_000)
    assert value_range_of(Api, "availability_target") == (0, 100)
    assert value_range_of(PerformanceBaseline, "requests_per_second") == (0, None)
    assert value_range_of(Api, "name") == (None, None)


def test_it_reads_a_decimals_digits():
    assert digits_of(Api, "availability_target") == (6, 3)
    assert digits_of(PerformanceBaseline, "requests_per_second") == (12, 2)
    with pytest.raises(TypeError):
        digits_of(Api, "name")


def _numbers_in(path: Path) -> list[str]:
    """Every limit written as a number: a keyword argument (``max_length=200``) or a schema key
    (``"maxItems": 10``). 0 and 1 pass: where counting starts, or "one alone", is shape, not a limit."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        pairs: list[tuple[str, ast.expr]] = []
        if isinstance(node, ast.Call):
            pairs = [(k.arg, k.value) for k in node.keywords if k.arg in LIMIT_KEYWORDS]
        elif isinstance(node, ast.Dict):
            pairs = [
                (k.value, v)
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and k.value in SCHEMA_LIMIT_KEYS
            ]
        for name, value in pairs:
            if not (isinstance(value, ast.Constant) and isinstance(value.value, int | float)):
                continue
            if value.value in (0, 1):
                continue
            found.append(f"{path.name}:{value.lineno}: {name}={value.value}")
    return found


@pytest.mark.parametrize("module", ["inventory/serializers.py", "portal/serializers.py"])
def test_serializers_write_no_limit_as_a_number(module):
    assert _numbers_in(ROOT / module) == []


def test_the_check_sees_a_number(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        'f(max_length=200, min_value=0, max_value=1)\nx = {"maxItems": 10}\ng(max_length=LIMIT)\n'
    )
    assert sorted(_numbers_in(sample)) == ["sample.py:1: max_length=200", "sample.py:2: maxItems=10"]
