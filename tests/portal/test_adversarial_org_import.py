"""Org-chart files built to hurt, up to the upload size limit (the limit import_org_chart reads).

Each test times the work and asserts a generous bound for this slow shared machine; the quadratic
versions took minutes. Nothing is written when a file is refused.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from portal.engines import hr_export
from portal.engines.hr_export import InvalidOrgChart, parse_org_chart
from portal.models import OrgUnit
from portal.services.org_import import free_usernames
from tests.timing import timed, timed_error

User = get_user_model()
LIMIT = settings.PORTAL_UPLOAD_MAX_BYTES
HEADER = b"unit,unit_name,kind,parent,email,role\n"


def refused(data: bytes, fmt: Any) -> str:
    """The message of the InvalidOrgChart that parsing ``data`` raises, within the bound."""
    assert len(data) <= LIMIT
    return str(timed_error(InvalidOrgChart, lambda: parse_org_chart(data, fmt=fmt)))


def test_a_header_of_a_million_columns() -> None:
    """Repeated columns were found with names.count() per column: O(columns²)."""
    message = refused(b"unit,parent" + b",a" * ((LIMIT - 20) // 2) + b"\n", "csv")
    assert "line 1: the header has 5,242,872 columns" in message
    message = refused(b"unit,parent" + b",a,b" * 31 + b"\n", "csv")
    assert "unknown column(s): 'a', 'b'; expected" in message
    assert "column(s) given more than once: 'a', 'b'." in message


def test_json_nested_deeply() -> None:
    """Raised RecursionError out of the parser before."""
    assert "nested far too deeply" in refused(b"[" * 200_000, "json")
    assert "nested far too deeply" in refused(b"[" * LIMIT, "json")


def test_json_integer_beyond_the_digit_limit() -> None:
    assert "not valid JSON" in refused(b'[{"unit": 1' + b"0" * 5_000 + b"}]", "json")


def test_more_rows_than_the_cap() -> None:
    data = HEADER + b"a,,,,,\n" * ((LIMIT - len(HEADER)) // 7)
    assert "more than 500,000 rows" in refused(data, "csv")
    assert "more than 500,000 records" in refused(b"[" + b"{}," * ((LIMIT - 10) // 3) + b"{}]", "json")
    assert "more than 500,000 records" in refused(b"[" + b"1," * 500_001 + b"1]", "json")


def test_every_row_invalid_with_long_values() -> None:
    field = b"X" * 100_000
    data = HEADER + (field + b",,,," + field + b",viewer\n") * ((LIMIT - 100) // 200_020)
    message = refused(data, "csv")
    assert "line 2: unit 'XXX" in message and len(message) < 60 * 400


def test_a_deep_chain_of_units() -> None:
    """Each unit's parent is the next one: ordering parents first checked ``in`` on a list: O(depth²)."""
    depth = 25_000
    rows = b"".join(b"u%d,,,u%d,,\n" % (i, i + 1) for i in range(depth)) + b"u%d,,,,,\n" % depth
    plan = timed(lambda: parse_org_chart(HEADER + rows, fmt="csv"))
    assert plan.units[0].slug == f"u{depth}" and plan.units[-1].slug == "u0"


@pytest.mark.django_db
def test_many_emails_that_map_to_one_username() -> None:
    """``a!b@x`` and ``a#b@x`` are both ``a-b@x``: numbering restarted at 2 for each email."""
    User.objects.create(username="x---@acme.example")
    symbols = "!#$%&*/=?^{|}~'"
    emails = [f"x{a}{b}{c}@acme.example" for a in symbols for b in symbols for c in symbols]
    emails += [f"y{a}{b}{c}{d}@acme.example" for a in symbols for b in symbols for c in symbols for d in "!#"]
    names = timed(lambda: free_usernames(emails))
    assert len(set(names.values())) == len(emails)
    assert names["x!!!@acme.example"] == "x---@acme.example-2"
    assert names["y!!!!@acme.example"] == "y----@acme.example"


@pytest.mark.django_db
def test_the_command_refuses_a_file_over_the_row_cap_and_writes_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(hr_export, "MAX_ROWS", 3)
    path = tmp_path / "org.csv"
    path.write_bytes(HEADER + b"".join(b"u%d,,,,,\n" % i for i in range(4)))
    with pytest.raises(CommandError, match="more than 3 rows"):
        call_command("import_org_chart", str(path))
    assert not OrgUnit.objects.filter(slug__startswith="u").exists()
