"""Volume arithmetic (DESIGN.md §4): cumulative totalizer readings into exact daily volumes. Pure.

- Consecutive readings in device-time order give interval volumes: the difference of the totals.
- A drop from near the totalizer's capacity to near zero is a rollover (the capacity is added), but
  only when the volume it implies is one the meter could pass in that time; any other drop is a
  reset (replacement, tampering): that interval's volume is unknown, not negative.
- A rise beyond what the meter could pass in that time is kept (it is what the register says) but
  flagged ``implausible`` on its days, which then count as neither measured nor a basis to estimate
  from (``daily_volumes.known`` / ``credible``, migration 0014).
- An interval's volume is split between local days by linear interpolation in time.
- A day is ``metered`` when every moment of it lies in an interval no longer than the meter's
  allowed gap and no reset touches it; otherwise ``incomplete`` (coverage says how much was metered).

The collector recomputes every day a batch touches from the stored readings around it, with these
same functions, so the stored rollup always equals a from-scratch computation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from itertools import pairwise
from zoneinfo import ZoneInfo

from infra.calendar import day_bounds, days_between, local_day, seconds_between

# A neighbour of a new reading is looked for at most this far before or after it (the store's SQL
# and the in-order fast path alike): it keeps TimescaleDB's chunk exclusion working on long
# histories; a meter silent for longer starts afresh.
NEIGHBOUR_WINDOW = timedelta(days=400)
ROLLOVER_BAND = Decimal("0.1")  # a rollover goes from the top 10 % of the register to the bottom 10 %
VOLUME_QUANTUM = Decimal("0.000001")  # stored day volumes: 1 mL
# What a meter can pass in an interval: PLAUSIBLE_FACTOR x its maximum flow (devices.model.max_flow_m3h)
# for that time, plus one step of a register that counts whole m³. Beyond it a rise is implausible and
# a drop is a reset, not a rollover.
PLAUSIBLE_FACTOR = Decimal(4)
REGISTER_STEP_M3 = Decimal(1)
# The totalizer stood still on a day its own reported flow integrates to at least this: stuck.
STUCK_FLOW_M3 = 10.0


class IntervalKind(StrEnum):
    NORMAL = "normal"
    ROLLOVER = "rollover"
    RESET = "reset"
    IMPLAUSIBLE = "implausible"  # a rise beyond what the meter could pass: kept, flagged


class Method(StrEnum):
    METERED = "metered"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True, slots=True)
class Point:
    """A stored reading as the arithmetic needs it."""

    ts: datetime
    total: Decimal
    flow_m3h: float | None = None  # the flow the meter reported with it, if any


@dataclass(frozen=True, slots=True)
class Interval:
    start: Point
    end: Point
    kind: IntervalKind
    volume: Decimal | None  # None for a reset: unknown
    implied_m3: Decimal | None = None  # an implausible rise, or the rollover a reset would have been

    @property
    def seconds(self) -> float:
        return seconds_between(self.start.ts, self.end.ts)


@dataclass(frozen=True, slots=True)
class DailyVolume:
    day: date
    volume_m3: Decimal  # the known part; with a reset, a lower bound
    readings: int  # readings whose device time falls in the day
    first_ts: datetime | None
    last_ts: datetime | None
    coverage: float  # share of the day lying in intervals no longer than the allowed gap
    method: Method
    flags: tuple[str, ...]  # sorted: "gap", "implausible", "reset", "rollover", "stuck"
    flow_m3: Decimal | None = None  # the reported flow integrated over the day; None if some part lacks it


def plausible_m3(max_rate_m3h: Decimal | None, seconds: float) -> Decimal | None:
    """The most a meter of that maximum flow could pass in ``seconds``; None when it is not known."""
    if max_rate_m3h is None:
        return None
    hours = Decimal(round(seconds * 1e6)) / Decimal(3_600_000_000)
    return PLAUSIBLE_FACTOR * max_rate_m3h * hours + REGISTER_STEP_M3


def interval(a: Point, b: Point, capacity: Decimal | None, max_rate_m3h: Decimal | None = None) -> Interval:
    delta = b.total - a.total
    limit = plausible_m3(max_rate_m3h, seconds_between(a.ts, b.ts)) if max_rate_m3h is not None else None
    if delta >= 0:
        if limit is not None and delta > limit:
            return Interval(a, b, IntervalKind.IMPLAUSIBLE, delta, delta)
        return Interval(a, b, IntervalKind.NORMAL, delta)
    if (
        capacity is not None
        and a.total >= capacity * (1 - ROLLOVER_BAND)
        and b.total <= capacity * ROLLOVER_BAND
    ):
        implied = capacity - a.total + b.total
        if limit is None or implied <= limit:
            return Interval(a, b, IntervalKind.ROLLOVER, implied, implied)
        return Interval(a, b, IntervalKind.RESET, None, implied)  # no meter passes that: a reset
    return Interval(a, b, IntervalKind.RESET, None)


def intervals(
    points: Sequence[Point], capacity: Decimal | None, max_rate_m3h: Decimal | None = None
) -> list[Interval]:
    """Intervals between consecutive points (which must be sorted by time, without repeats)."""
    return [interval(a, b, capacity, max_rate_m3h) for a, b in pairwise(points)]


@dataclass
class Tally:
    """One local day being summed, interval by interval in time order (not yet rounded)."""

    volume: Decimal = Decimal(0)
    covered: float = 0.0  # seconds of the day lying in intervals no longer than the allowed gap
    flags: set[str] = field(default_factory=set)
    flow_m3: float = 0.0  # each interval's part of the day x the flow reported at its start
    flow_known: bool = True  # every interval of the day started with a reported flow

    def copy(self) -> Tally:
        return Tally(self.volume, self.covered, set(self.flags), self.flow_m3, self.flow_known)


def spread(
    tallies: dict[date, Tally],
    bounds: dict[date, tuple[datetime, datetime]],
    item: Interval,
    start_day: date,
    end_day: date,
    gap: float,
    within: tuple[date, date] | None = None,
) -> None:
    """Add ``item`` (from a point on ``start_day`` to one on ``end_day``) to the tallies it overlaps,
    looking only at the days ``within`` (first, last) when given."""
    length = item.seconds
    if start_day == end_day:  # the common case: the whole interval lies in one day
        if start_day in tallies:
            _add(tallies[start_day], item, length, length, gap)
        return
    first, last = within or (start_day, end_day)
    for day in days_between(max(start_day, first), min(end_day, last)):
        if day in tallies:
            lo, hi = bounds[day]
            overlap = seconds_between(max(item.start.ts, lo), min(item.end.ts, hi))
            if overlap > 0:
                _add(tallies[day], item, overlap, length, gap)


def finish(
    day: date, tally: Tally, bounds: tuple[datetime, datetime], stamps: Sequence[datetime]
) -> DailyVolume:
    """A day's volume from its tally and the device times (sorted) of the readings that fall in it."""
    return finish_counted(
        day, tally, bounds, len(stamps), stamps[0] if stamps else None, stamps[-1] if stamps else None
    )


def finish_counted(
    day: date,
    tally: Tally,
    bounds: tuple[datetime, datetime],
    readings: int,
    first_ts: datetime | None,
    last_ts: datetime | None,
) -> DailyVolume:
    lo, hi = bounds
    coverage = min(1.0, tally.covered / seconds_between(lo, hi))
    metered = coverage >= 0.999999 and "reset" not in tally.flags
    flags = set(tally.flags)
    if tally.volume == 0 and tally.flow_m3 >= STUCK_FLOW_M3:  # its own flow says water passed
        flags.add("stuck")
    return DailyVolume(
        day=day,
        volume_m3=tally.volume.quantize(VOLUME_QUANTUM, rounding=ROUND_HALF_EVEN),
        readings=readings,
        first_ts=first_ts,
        last_ts=last_ts,
        coverage=round(coverage, 6),
        method=Method.METERED if metered else Method.INCOMPLETE,
        flags=tuple(sorted(flags)),
        flow_m3=Decimal(f"{tally.flow_m3:.3f}") if tally.flow_known and tally.covered > 0 else None,
    )


def tally_days(
    points: Sequence[Point],
    days: Iterable[date],
    zone: ZoneInfo,
    capacity: Decimal | None,
    max_gap: timedelta,
    max_rate_m3h: Decimal | None = None,
) -> tuple[dict[date, Tally], dict[date, list[datetime]]]:
    """The tallies of ``days`` and the device times of the readings in each (see daily_volumes)."""
    wanted = sorted(set(days))
    tallies = {d: Tally() for d in wanted}
    inside: dict[date, list[datetime]] = {d: [] for d in wanted}
    if not wanted:
        return tallies, inside
    first_day, last_day = wanted[0], wanted[-1]
    bounds = {d: day_bounds(d, zone) for d in wanted}
    gap = max_gap.total_seconds()
    local = [local_day(p.ts, zone) for p in points]  # each point's local day, computed once
    for at in range(len(points) - 1):
        start_day, end_day = local[at], local[at + 1]
        if end_day < first_day or start_day > last_day:
            continue
        item = interval(points[at], points[at + 1], capacity, max_rate_m3h)
        spread(tallies, bounds, item, start_day, end_day, gap, (first_day, last_day))
    for point, day in zip(points, local, strict=True):
        if day in inside:
            inside[day].append(point.ts)
    return tallies, inside


def daily_volumes(
    points: Sequence[Point],
    days: Iterable[date],
    zone: ZoneInfo,
    capacity: Decimal | None,
    max_gap: timedelta,
    max_rate_m3h: Decimal | None = None,
) -> list[DailyVolume]:
    """Volumes of ``days`` from ``points``, sorted by time, which must include the last reading before
    the first day and the first one after the last day, where they exist."""
    tallies, inside = tally_days(points, days, zone, capacity, max_gap, max_rate_m3h)
    return [finish(d, t, day_bounds(d, zone), inside[d]) for d, t in tallies.items()]


def _add(slot: Tally, item: Interval, overlap: float, length: float, gap: float) -> None:
    """Add the part of ``item`` that lies in one day (``overlap`` of its ``length`` seconds)."""
    if item.volume is None:
        slot.flags.add("reset")
    elif overlap >= length:
        slot.volume += item.volume
    else:
        slot.volume += item.volume * Decimal(round(overlap * 1e6)) / Decimal(round(length * 1e6))
    if item.kind is IntervalKind.ROLLOVER:
        slot.flags.add("rollover")
    elif item.kind is IntervalKind.IMPLAUSIBLE:
        slot.flags.add("implausible")
    if length > gap:
        slot.flags.add("gap")
    else:
        slot.covered += overlap
        if item.start.flow_m3h is None:
            slot.flow_known = False
        else:
            slot.flow_m3 += item.start.flow_m3h * overlap / 3600


def touched_days(stored: Sequence[datetime], new: Iterable[datetime], zone: ZoneInfo) -> set[date]:
    """Days whose volume may change when ``new`` readings join ``stored`` ones (all sorted, new included).

    A reading changes the intervals from its predecessor to its successor, so every day those
    intervals overlap must be recomputed: a late reading inside a long outage re-splits several days.
    """
    import bisect

    days: set[date] = set()
    for ts in new:
        at = bisect.bisect_left(stored, ts)
        before = stored[at - 1] if at > 0 else ts
        after = stored[at + 1] if at + 1 < len(stored) else ts
        days.update(days_between(local_day(before, zone), local_day(after, zone)))
    return days
