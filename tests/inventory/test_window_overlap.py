"""The downtime-window overlap check: the same answers as comparing every pair of occurrences, fast
enough at ``Limits.WINDOWS`` that adding the last window is not a slow request."""

from __future__ import annotations

import random
import time as clock
from datetime import UTC, datetime, time, timedelta

import pytest

from inventory.engines import availability
from inventory.engines.availability import OneOffWindow, Window
from inventory.models import AvailabilityWindow, Limits
from inventory.services import windows
from portal.audit import Actor

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # a week before Europe's change to summer time
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]


def pairwise_first_overlap(new: Window, existing: list[Window], *, now: datetime) -> Window | None:
    """The check as it was written first: every occurrence of ``new`` against every other window."""
    if isinstance(new, OneOffWindow):
        since, until = new.starts_at, new.ends_at
    else:
        since, until = now, now + timedelta(days=366)
    new_spans = list(new.occurrences(since, until))
    for other in existing:
        for a_start, a_end in new_spans:
            if any(
                b_start < a_end and a_start < b_end for b_start, b_end in other.occurrences(a_start, a_end)
            ):
                return other
    return None


def _random_window(rng: random.Random) -> Window:
    if rng.random() < 0.6:
        start = rng.randrange(0, 23 * 60, 15)
        length = rng.choice([15, 30, 60, 90])
        end = min(start + length, 24 * 60 - 1)
        return availability.make_recurring(
            rng.sample(range(7), rng.randint(1, 3)),
            time(start // 60, start % 60),
            time(end // 60, end % 60),
            rng.choice(ZONES),
        )
    starts_at = NOW + timedelta(minutes=rng.randrange(-60 * 24 * 30, 60 * 24 * 400, 15))
    return availability.make_one_off(
        starts_at, starts_at + timedelta(minutes=rng.choice([15, 60, 600, 3000]))
    )


@pytest.mark.parametrize("seed", range(40))
def test_it_answers_as_the_pairwise_comparison(seed):
    rng = random.Random(seed)
    existing = [_random_window(rng) for _ in range(rng.randint(0, 12))]
    for _ in range(10):
        new = _random_window(rng)
        expected = pairwise_first_overlap(new, existing, now=NOW)
        assert availability.first_overlap(new, existing, now=NOW) == expected


def test_it_names_the_first_clashing_window_in_the_order_given():
    sunday_2_4 = availability.make_recurring([6], time(2), time(4), "UTC")
    sunday_3_5 = availability.make_recurring([6], time(3), time(5), "UTC")
    new = availability.make_recurring([6], time(3, 30), time(3, 45), "UTC")

    assert availability.first_overlap(new, [sunday_3_5, sunday_2_4], now=NOW) == sunday_3_5
    assert availability.first_overlap(new, [sunday_2_4, sunday_3_5], now=NOW) == sunday_2_4


def test_back_to_back_and_across_a_dst_change():
    sunday_2_4 = availability.make_recurring([6], time(2), time(4), "UTC")
    assert (
        availability.first_overlap(
            availability.make_recurring([6], time(4), time(5), "UTC"), [sunday_2_4], now=NOW
        )
        is None
    )
    # 03:00–05:00 Berlin is 02:00–04:00 UTC in winter, 01:00–03:00 UTC in summer: a clash either way.
    berlin = availability.make_recurring([6], time(3), time(5), "Europe/Berlin")
    assert availability.first_overlap(berlin, [sunday_2_4], now=NOW) == sunday_2_4
    # 05:00–06:00 Berlin is 04:00–05:00 UTC in winter (back to back), 03:00–04:00 in summer (a clash).
    late = availability.make_recurring([6], time(5), time(6), "Europe/Berlin")
    assert availability.first_overlap(late, [sunday_2_4], now=NOW) == sunday_2_4
    one_off = availability.make_one_off(
        datetime(2026, 12, 6, 3, tzinfo=UTC), datetime(2026, 12, 6, 5, tzinfo=UTC)
    )
    assert availability.first_overlap(one_off, [sunday_2_4], now=NOW) == sunday_2_4


def _full_of_windows(api, count: int) -> None:
    """``count`` weekly windows of the API that do not overlap: one weekday each, 45 minutes every 48."""
    rows = []
    for i in range(count):
        minute = (i // 7) * 48
        end = minute + 45
        rows.append(
            AvailabilityWindow(
                api=api,
                kind=AvailabilityWindow.Kind.RECURRING,
                timezone="UTC",
                weekdays=[i % 7],
                start_time=time(minute // 60, minute % 60),
                end_time=time(end // 60, end % 60),
            )
        )
    AvailabilityWindow.objects.bulk_create(rows)


def test_adding_the_last_window_allowed_is_fast(api, alice):
    _full_of_windows(api, Limits.WINDOWS - 1)
    started = clock.process_time()
    # Every day of the year at 23:30 UTC, after the last existing window (23:09): nothing to find, so
    # every occurrence is compared.
    windows.window_add(
        actor=Actor(user=alice),
        api=api,
        kind="recurring",
        tz="Asia/Kolkata",
        weekdays=list(range(7)),
        start_time=time(5, 0),
        end_time=time(5, 5),
    )
    elapsed = clock.process_time() - started
    assert AvailabilityWindow.objects.filter(api=api).count() == Limits.WINDOWS
    assert elapsed < 1.0, f"adding window {Limits.WINDOWS} took {elapsed:.2f} s"
