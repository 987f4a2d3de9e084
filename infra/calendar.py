"""The local calendar (INTAKE_TIMEZONE): which local day a moment falls in, and where a day begins
and ends. Pure.

Days are local, but lengths are not: a day's bounds are returned in UTC, so that subtracting them
gives its real length (23 or 25 hours on a daylight-saving change) and comparing them with device
times never falls into Python's wall-clock arithmetic for datetimes that share one ``ZoneInfo``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_day(ts: datetime, zone: ZoneInfo) -> date:
    return ts.astimezone(zone).date()


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Local midnight that starts ``day``, in UTC."""
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight, both in UTC."""
    return day_start(day, zone), day_start(day + timedelta(days=1), zone)


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def seconds_between(start: datetime, end: datetime) -> float:
    """Real elapsed seconds between two aware datetimes, whatever their time zones (exact to 1 µs)."""
    return (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds()
