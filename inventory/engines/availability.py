"""Planned downtime: when an API is expected to be up. Pure (no Django), used by the testing app.

Recurring windows are weekly, in local time of their own timezone (so "Sundays 02:00–04:00
Europe/Berlin" follows daylight saving); one-off windows are absolute instants.
"""

from __future__ import annotations

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
        zone = ZoneInfo(self.tz)
        local_day = since.astimezone(zone).date() - timedelta(days=1)
        last_day = until.astimezone(zone).date()
        while local_day <= last_day:
            if local_day.weekday() in self.weekdays:
                start = datetime.combine(local_day, self.start, tzinfo=zone).astimezone(UTC)
                end = datetime.combine(local_day, self.end, tzinfo=zone).astimezone(UTC)
                if end > since and start < until:
                    yield start, end
            local_day += timedelta(days=1)

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
    if any(not isinstance(d, int) or not 0 <= d <= 6 for d in days):
        raise WindowError("Weekdays are numbers from 0 (Monday) to 6 (Sunday).")
    zone(tz)
    if end <= start:
        raise WindowError("The window ends before it starts; split a window that crosses midnight in two.")
    return RecurringWindow(days, start, end, tz, label)


# One-off windows are planned outages: bounded in time so that date arithmetic around them (overlap
# checks against weekly windows in any timezone) can never leave datetime's range.
ONE_OFF_YEARS = (2000, 2999)
ONE_OFF_MAX_DAYS = 366


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
    """The first existing window that shares any instant with ``new`` within the next year."""
    if isinstance(new, OneOffWindow):
        since, until = new.starts_at, new.ends_at
    else:
        since, until = now, now + _OVERLAP_HORIZON
    new_spans = list(new.occurrences(since, until))
    for other in existing:
        for a_start, a_end in new_spans:
            if any(
                b_start < a_end and a_start < b_end for b_start, b_end in other.occurrences(a_start, a_end)
            ):
                return other
    return None


def describe(window: Window) -> str:
    if isinstance(window, OneOffWindow):
        return f"{window.starts_at:%Y-%m-%d %H:%M} – {window.ends_at:%Y-%m-%d %H:%M} UTC"
    days = ", ".join(WEEKDAY_NAMES[d] for d in window.weekdays)
    return f"{days} {window.start:%H:%M}–{window.end:%H:%M} {window.tz}"
