"""The collector's fast path for in-order readings: extend a meter's newest day instead of re-reading it.

Most batches only append readings after each meter's newest one. Recomputing the touched days then
means fetching every stored reading of the day again. A ``Tail`` keeps what that recomputation would
start from: the newest reading and the running tally of its local day (unrounded, summed interval by
interval in time order, exactly as ``daily_volumes`` sums them). Extending it with the new readings
adds the same intervals in the same order, so the result equals a from-scratch computation; the
property tests check that on random series and random batch splits. Pure.

A tail is used only when nothing else has changed the meter since it was taken: the store compares
``stored`` (the meter's count of stored readings), ``last.ts`` and ``version`` (bumped by a recompute
of its volumes) with the meter's state, read under its row lock. Anything unusual (a late reading,
a drop in the totalizer: rollover or reset, a gap longer than the neighbour search) goes the slow
way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from infra.calendar import day_bounds, days_between, local_day
from ingest.volumes import (
    NEIGHBOUR_WINDOW,
    DailyVolume,
    IntervalKind,
    Point,
    Tally,
    finish_counted,
    interval,
    spread,
)


@dataclass(frozen=True, slots=True)
class Tail:
    stored: int  # how many readings of the meter were stored when this tail was taken
    last: Point  # the meter's newest stored reading
    tally: Tally  # its local day's tally, up to ``last``
    readings: int  # that day's readings, up to ``last``
    first_ts: datetime  # the first of them
    version: int = 0  # meter_state.volumes_version it was taken at (a recompute bumps it)

    def day(self, zone: ZoneInfo) -> date:
        return local_day(self.last.ts, zone)


def take_tail(stored: int, last: Point, tally: Tally, stamps: Sequence[datetime], version: int = 0) -> Tail:
    """The tail after a recomputation of ``last``'s day, ``last`` being the meter's newest reading."""
    return Tail(stored, last, tally.copy(), len(stamps), stamps[0], version)


def extend(
    tail: Tail,
    new: Sequence[Point],
    added: int,
    zone: ZoneInfo,
    capacity: Decimal | None,
    max_gap: timedelta,
    max_rate_m3h: Decimal | None = None,
) -> tuple[list[DailyVolume], Tail] | None:
    """The days from the tail's day to the newest new reading's, and the next tail; None when ``new``
    (sorted) is not a plain continuation: not all after the tail, or with a drop, an implausible rise
    or a very long step."""
    if not new:
        return None
    series = [tail.last, *new]
    items = [interval(a, b, capacity, max_rate_m3h) for a, b in pairwise(series)]
    if any(
        i.kind is not IntervalKind.NORMAL
        or i.end.ts <= i.start.ts
        or i.end.ts - i.start.ts > NEIGHBOUR_WINDOW
        for i in items
    ):
        return None
    first_day = tail.day(zone)
    local = [local_day(p.ts, zone) for p in series]
    days = days_between(first_day, local[-1])
    tallies = {d: Tally() for d in days}
    tallies[first_day] = tail.tally.copy()
    bounds = {d: day_bounds(d, zone) for d in days}
    gap = max_gap.total_seconds()
    for at, item in enumerate(items):
        spread(tallies, bounds, item, local[at], local[at + 1], gap)
    counts = {d: 0 for d in days}
    firsts: dict[date, datetime] = {first_day: tail.first_ts}
    lasts: dict[date, datetime] = {first_day: tail.last.ts}
    counts[first_day] = tail.readings
    for point, day in zip(new, local[1:], strict=True):
        counts[day] += 1
        firsts.setdefault(day, point.ts)
        lasts[day] = point.ts
    volumes = [finish_counted(d, tallies[d], bounds[d], counts[d], firsts.get(d), lasts.get(d)) for d in days]
    last_day = local[-1]
    after = Tail(
        tail.stored + added, new[-1], tallies[last_day], counts[last_day], firsts[last_day], tail.version
    )
    return volumes, after
