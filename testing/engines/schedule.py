"""When a plan runs next: an interval, or a five-field cron expression read in a timezone (pure engine).

    next_run(kind="cron", interval_minutes=0, cron="0 3 * * 1-5", timezone="Europe/Berlin", after=now)

Cron expressions come from users, so they are bounded: five fields only (no seconds, no year), at
most ``MAX_CRON_LENGTH`` characters, runs at least ``MIN_SPACING`` apart (checked over the next
occurrences), and one that would never fire within a year (``0 0 31 2 *``) is refused instead of
searching for it. Wall-clock times are read in the plan's timezone, so "03:00 every weekday" stays
03:00 across daylight-saving changes: a wall time that happens twice when clocks go back fires once,
and one skipped when they go forward fires at the first time after the gap. Results are aware
datetimes in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

MAX_CRON_LENGTH = 100
MIN_SPACING = timedelta(minutes=5)
SPACING_SAMPLES = 12  # occurrences checked for the minimum spacing
MIN_INTERVAL_MINUTES = 5
MAX_INTERVAL_MINUTES = 31 * 24 * 60


def validate_timezone(name: str) -> str:
    """The IANA name, or ValueError. Only names zoneinfo lists (no file paths, no POSIX TZ strings)."""
    name = (name or "").strip()
    if not name or len(name) > 64 or name not in _zones():
        raise ValueError(f"Unknown timezone {name[:64]!r}: use an IANA name such as Europe/Berlin or UTC.")
    return name


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones()) | {"UTC"}
    return _ZONES


def _iter(expr: str, start: datetime) -> croniter:
    # max_years_between_matches bounds the search: an expression that never fires within a year
    # raises instead of scanning decades.
    return croniter(expr, start, max_years_between_matches=1)


def validate_cron(expr: str, timezone: str = "UTC") -> str:
    """The normalised expression (single spaces), or ValueError with a message for people."""
    expr = " ".join((expr or "").split())
    if not expr:
        raise ValueError("Enter a cron expression, e.g. 0 3 * * 1-5 (03:00 on weekdays).")
    if len(expr) > MAX_CRON_LENGTH:
        raise ValueError(f"A cron expression has at most {MAX_CRON_LENGTH} characters.")
    if len(expr.split(" ")) != 5:
        raise ValueError("Use five fields: minute hour day-of-month month day-of-week.")
    if not expr.isascii() or any(c in expr for c in "\\'\"`$;"):
        raise ValueError("A cron expression holds digits, names, * , - / and spaces only.")
    tz = ZoneInfo(validate_timezone(timezone))
    try:
        it = _iter(expr, datetime(2026, 1, 1, tzinfo=tz))
        times = [it.get_next(datetime) for _ in range(SPACING_SAMPLES)]
    except (CroniterBadCronError, CroniterBadDateError, CroniterError, ValueError, KeyError, OverflowError):
        raise ValueError(f"{expr!r} is not a valid cron expression, or never fires within a year.") from None
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    if gaps and min(gaps) < MIN_SPACING:
        raise ValueError(f"Runs must be at least {int(MIN_SPACING.total_seconds() // 60)} minutes apart.")
    return expr


def next_run(*, kind: str, interval_minutes: int, cron: str, timezone: str, after: datetime) -> datetime:
    """The first run time strictly after ``after`` (aware), in UTC."""
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    if kind == "interval":
        if not MIN_INTERVAL_MINUTES <= interval_minutes <= MAX_INTERVAL_MINUTES:
            raise ValueError(f"The interval is {MIN_INTERVAL_MINUTES} to {MAX_INTERVAL_MINUTES} minutes.")
        return (after + timedelta(minutes=interval_minutes)).astimezone(UTC).replace(microsecond=0)
    if kind == "cron":
        tz = ZoneInfo(validate_timezone(timezone))
        local_after = after.astimezone(tz)
        try:
            it = _iter(cron, local_after)
            value: datetime = it.get_next(datetime)
            # When clocks go back, a wall time such as 02:30 happens twice; it is one slot, not two.
            if value.replace(tzinfo=None, fold=0) == local_after.replace(tzinfo=None, fold=0):
                value = it.get_next(datetime)
        except (CroniterBadCronError, CroniterBadDateError, CroniterError, ValueError, KeyError) as exc:
            raise ValueError("The cron expression never fires within a year.") from exc
        return value.astimezone(UTC)
    raise ValueError(f"Unknown schedule kind {kind!r}.")


__all__ = ["ZoneInfoNotFoundError", "next_run", "validate_cron", "validate_timezone"]
