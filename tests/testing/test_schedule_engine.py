"""The schedule engine: intervals, cron in a timezone across DST, and hostile expressions refused fast."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from testing.engines.schedule import next_run, validate_cron, validate_timezone
from tests.timing import timed_error


def test_it_adds_the_interval():
    after = datetime(2026, 12, 3, 10, 0, 30, 123, tzinfo=UTC)
    assert next_run(kind="interval", interval_minutes=60, cron="", timezone="UTC", after=after) == datetime(
        2026, 12, 3, 11, 0, 30, tzinfo=UTC
    )


@pytest.mark.parametrize("minutes", [0, 4, 31 * 24 * 60 + 1])
def test_it_refuses_intervals_out_of_range(minutes):
    with pytest.raises(ValueError):
        next_run(kind="interval", interval_minutes=minutes, cron="", timezone="UTC", after=datetime.now(UTC))


def test_cron_keeps_local_wall_time_across_daylight_saving():
    # 03:00 Berlin is 02:00 UTC in winter and 01:00 UTC in summer.
    winter = next_run(
        kind="cron",
        interval_minutes=0,
        cron="0 3 * * *",
        timezone="Europe/Berlin",
        after=datetime(2026, 3, 27, 12, 0, tzinfo=UTC),
    )
    summer = next_run(
        kind="cron",
        interval_minutes=0,
        cron="0 3 * * *",
        timezone="Europe/Berlin",
        after=datetime(2026, 3, 28, 12, 0, tzinfo=UTC),
    )
    assert winter == datetime(2026, 3, 28, 2, 0, tzinfo=UTC)
    assert summer == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_it_normalises_a_valid_expression():
    assert validate_cron("  0   3 * *  1-5 ") == "0 3 * * 1-5"


@pytest.mark.parametrize(
    "expr",
    [
        "",
        "* * * *",
        "0 0 * * * *",  # seconds or year fields
        "* * * * *",  # every minute: too often
        "0-4 * * * *",
        "0 0 31 2 *",  # never fires
        "61 * * * *",
        "0 3 * * $(reboot)",
        "0 " * 60,
    ],
)
def test_it_refuses_bad_expressions_with_a_message(expr):
    with pytest.raises(ValueError) as exc:
        validate_cron(expr)
    assert str(exc.value) and len(str(exc.value)) < 200


@pytest.mark.parametrize("expr", ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 1", "*/5 * 31 2 *"])
def test_impossible_expressions_are_refused_fast(expr):
    timed_error(ValueError, lambda: validate_cron(expr), bound=1.0)


@pytest.mark.parametrize("name", ["Europe/Berlin", "UTC", "America/Argentina/Buenos_Aires"])
def test_it_accepts_iana_names(name):
    assert validate_timezone(name) == name


@pytest.mark.parametrize(
    "name", ["", "Mars/Olympus", "../../etc/passwd", "EST5EDT,M3.2.0,M11.1.0", "x" * 500]
)
def test_it_refuses_unknown_timezones(name):
    with pytest.raises(ValueError):
        validate_timezone(name)


def _series(cron: str, after: datetime, count: int) -> list[datetime]:
    out = []
    for _ in range(count):
        after = next_run(kind="cron", interval_minutes=0, cron=cron, timezone="Europe/Berlin", after=after)
        out.append(after)
    return out


def test_a_wall_time_that_happens_twice_when_clocks_go_back_fires_once():
    # 2026-10-25 02:30 happens at 00:30 UTC (summer time) and again at 01:30 UTC (winter time).
    assert _series("30 2 * * *", datetime(2026, 10, 24, 23, 0, tzinfo=UTC), 2) == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
    ]


def test_a_wall_time_skipped_when_clocks_go_forward_fires_after_the_gap():
    # 2026-03-29 02:30 does not exist in Berlin: it fires at 03:00 local (01:00 UTC), once.
    assert _series("30 2 * * *", datetime(2026, 3, 28, 23, 0, tzinfo=UTC), 2) == [
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 3, 30, 0, 30, tzinfo=UTC),
    ]
