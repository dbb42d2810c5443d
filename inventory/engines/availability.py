"""Planned downtime: when an API is expected to be up. Pure (no Django), used by the testing app.

Recurring windows are weekly, in local time of their own timezone (so "Sundays 02:00–04:00
Europe/Berlin" follows daylight saving); one-off windows are absolute instants.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class WindowError(ValueError):
    """A window that cannot exist (unknown timezone, ends before it starts, overlaps another)."""


@dataclass(frozen=True)
class RecurringWindow:
    weekdays: tuple[int, ...]
    start: time
    end: time
    tz: str
    label: str = ""

    def occurrences(self, since: datetime, until: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Each occurrence that shares an instant with [since, until), in time order."""
        zone = ZoneInfo(self.tz)
        first_day = since.astimezone(zone).date() - timedelta(days=1)
        last_day = until.astimezone(zone).date()
        spans = []
        week = timedelta(days=7)
        for weekday in self.weekdays:  # straight from one matching day to the next: 7 days a step
            local_day = first_day + timedelta(days=(weekday - first_day.weekday()) % 7)
            while local_day <= last_day:
                start = datetime.combine(local_day, self.start, tzinfo=zone).astimezone(UTC)
                end = datetime.combine(local_day, self.end, tzinfo=zone).astimezone(UTC)
                if end > since and start < until:
                    spans.append((start, end))
                local_day += week
        yield from sorted(spans)

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.tz))
        return local.weekday() in self.weekdays and self.start <= local.time() < self.end


@dataclass(frozen=True)
class OneOffWindow:
    starts_at: datetime
    ends_at: datetime
    label: str = ""

    def occurrences(self, since: datetime, until: datetime) -> Iterator[tuple[datetime, datetime]]:
        if self.ends_at > since and self.starts_at < until:
            yield self.starts_at, self.ends_at

    def contains(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


Window = RecurringWindow | OneOffWindow


def zone(name: str) -> ZoneInfo:
    if not name or name not in _zones():
        raise WindowError(f"Unknown timezone {name!r}; use an IANA name such as Europe/Berlin.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise WindowError(f"Unknown timezone {name!r}; use an IANA name such as Europe/Berlin.") from exc


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones()) | {"UTC"}
    return _ZONES


def make_recurring(
    weekdays: Iterable[int], start: time, end: time, tz: str, label: str = ""
) -> RecurringWindow:
    days = tuple(sorted(set(weekdays)))
    if not days:
        raise WindowError("Choose at least one weekday.")
    if any(not isinstance(d, int) or not 0 <= d < len(WEEKDAY_NAMES) for d in days):
        raise WindowError("Weekdays are numbers from 0 (Monday) to 6 (Sunday).")
    zone(tz)
    if end <= start:
        raise WindowError("The window ends before it starts; split a window that crosses midnight in two.")
    return RecurringWindow(days, start, end, tz, label)


# One-off windows are planned outages: bounded in time so that date arithmetic around them (overlap
# checks against weekly windows in any timezone) can never leave datetime's range.
ONE_OFF_YEARS = (2000, 2999)
ONE_OFF_MAX_DAYS = 366


def wall_clock(value: datetime, tz: str) -> datetime:
    """``value`` as an instant: a time given without an offset is wall-clock time in ``tz`` (the
    window's timezone); one with an offset already names its instant and is kept."""
    if value.tzinfo is None:
        return value.replace(tzinfo=zone(tz))
    return value


def make_one_off(starts_at: datetime, ends_at: datetime, label: str = "") -> OneOffWindow:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise WindowError("One-off windows need timezone-aware start and end.")
    first, last = ONE_OFF_YEARS
    if not (first <= starts_at.year and ends_at.year <= last):
        raise WindowError(f"A one-off window lies between the years {first} and {last}.")
    if ends_at <= starts_at:
        raise WindowError("The window ends before it starts.")
    if ends_at - starts_at > timedelta(days=ONE_OFF_MAX_DAYS):
        raise WindowError(f"A one-off window lasts at most {ONE_OFF_MAX_DAYS} days.")
    return OneOffWindow(starts_at.astimezone(UTC), ends_at.astimezone(UTC), label)


def is_expected_up(windows: Iterable[Window], at: datetime) -> bool:
    """False while any planned downtime window is open at ``at`` (an aware datetime)."""
    if at.tzinfo is None:
        raise ValueError("is_expected_up needs an aware datetime")
    return not any(w.contains(at) for w in windows)


# Overlap is checked over a horizon long enough to cover every weekday combination and a DST change.
_OVERLAP_HORIZON = timedelta(days=366)


def first_overlap(new: Window, existing: Iterable[Window], *, now: datetime) -> Window | None:
    """The first existing window (in the order given) that shares any instant with ``new`` within
    the next year (a one-off ``new``: within its own span).

    Each existing window is expanded once over the span of ``new``'s occurrences, and each of its
    occurrences is looked up among ``new``'s by bisection: ``new``'s occurrences are disjoint, so
    sorted by start they are sorted by end too, and only the last one starting before an occurrence
    ends can overlap it. O(n log m) instead of comparing every pair of occurrences.
    """
    if isinstance(new, OneOffWindow):
        since, until = new.starts_at, new.ends_at
    else:
        since, until = now, now + _OVERLAP_HORIZON
    new_spans = sorted(new.occurrences(since, until))
    if not new_spans:
        return None
    starts = [start for start, _end in new_spans]
    ends = [end for _start, end in new_spans]
    first, last = starts[0], ends[-1]
    for other in existing:
        for b_start, b_end in other.occurrences(first, last):
            i = bisect_left(starts, b_end)  # new_spans[:i] start before this occurrence ends
            if i and ends[i - 1] > b_start:
                return other
    return None


def describe(window: Window) -> str:
    if isinstance(window, OneOffWindow):
        return f"{window.starts_at:%Y-%m-%d %H:%M} – {window.ends_at:%Y-%m-%d %H:%M} UTC"
    days = ", ".join(WEEKDAY_NAMES[d] for d in window.weekdays)
    return f"{days} {window.start:%H:%M}–{window.end:%H:%M} {window.tz}"
