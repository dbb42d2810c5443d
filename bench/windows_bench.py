"""How long the downtime-window overlap check takes when an API is full of windows (``Limits.WINDOWS``).

    .venv/bin/python bench/windows_bench.py             # the check as it is now, and the pairwise one
    .venv/bin/python bench/windows_bench.py --repeat 5

Pure engine, no database: 199 weekly windows of one weekday each (45 minutes every 48, so none
overlap), then the 200th, every day of the year at 23:30 UTC, which overlaps none of them: the worst
case, as nothing stops the search early. ``pairwise`` is the check as first written (every
occurrence of the new window against each existing window's occurrences); ``sweep`` is
``availability.first_overlap``. Both must give the same answer; the script says so.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time as clock
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inventory.engines import availability  # noqa: E402  (after the path is set)
from inventory.engines.availability import OneOffWindow, Window  # noqa: E402

WINDOWS = 200


def pairwise_first_overlap(new: Window, existing: list[Window], *, now: datetime) -> Window | None:
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


def full_api() -> list[Window]:
    out: list[Window] = []
    for i in range(WINDOWS - 1):
        minute = (i // 7) * 48
        end = minute + 45
        out.append(
            availability.make_recurring(
                [i % 7], time(minute // 60, minute % 60), time(end // 60, end % 60), "UTC"
            )
        )
    return out


def timed(
    check, new: Window, existing: list[Window], now: datetime, repeat: int
) -> tuple[float, Window | None]:  # noqa: ANN001
    runs, answer = [], None
    for _ in range(repeat):
        started = clock.perf_counter()
        answer = check(new, existing, now=now)
        runs.append(clock.perf_counter() - started)
    return statistics.median(runs), answer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    now = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    existing = full_api()
    new = availability.make_recurring(range(7), time(23, 30), time(23, 55), "UTC")
    before, a = timed(pairwise_first_overlap, new, existing, now, args.repeat)
    after, b = timed(availability.first_overlap, new, existing, now, args.repeat)
    print(f"| check | adding window {WINDOWS} (median of {args.repeat}) |")
    print("|---|---|")
    print(f"| pairwise (before) | {before * 1000:.0f} ms |")
    print(f"| sweep (now) | {after * 1000:.0f} ms |")
    print(f"same answer: {a == b}")


if __name__ == "__main__":
    main()
