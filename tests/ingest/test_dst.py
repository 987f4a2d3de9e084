"""Daylight-saving time zones: 23- and 25-hour local days, fully covered, and the fast path equal to
the slow path whatever time zone the device times carry."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.calendar import local_day
from ingest.tails import Tail, extend, take_tail
from ingest.volumes import DailyVolume, Method, Point, daily_volumes, tally_days, touched_days

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
GAP = timedelta(hours=1)
CAPACITY = Decimal(10) ** 8


def every_quarter_hour(zone: ZoneInfo, first: date, days: int, stamp_zone: ZoneInfo | None) -> list[Point]:
    """Readings every 15 real minutes from local midnight of ``first``, 1 m³ each: the device times are
    in ``stamp_zone`` (None: UTC)."""
    start = datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(first + timedelta(days=days), datetime.min.time(), zone).astimezone(UTC)
    points, ts, total = [], start, Decimal(0)
    while ts <= end:
        points.append(Point(ts.astimezone(stamp_zone) if stamp_zone else ts, total))
        ts += timedelta(minutes=15)
        total += 1
    return points


@pytest.mark.parametrize(
    ("zone", "short_day", "long_day"),
    [
        (NEW_YORK, date(2026, 3, 8), date(2026, 11, 1)),
        (BERLIN, date(2026, 3, 29), date(2026, 10, 25)),
    ],
)
@pytest.mark.parametrize("stamped_local", [False, True], ids=["utc-stamps", "zone-stamps"])
def test_a_daylight_saving_day_has_its_real_length_and_full_coverage(
    zone: ZoneInfo, short_day: date, long_day: date, stamped_local: bool
) -> None:
    for day, hours in ((short_day, 23), (long_day, 25)):
        points = every_quarter_hour(zone, day - timedelta(days=1), 3, zone if stamped_local else None)
        days = [day - timedelta(days=1), day, day + timedelta(days=1)]
        before, changed, after = daily_volumes(points, days, zone, CAPACITY, GAP)
        assert (changed.method, changed.coverage, changed.readings) == (Method.METERED, 1.0, hours * 4)
        assert changed.volume_m3 == Decimal(hours * 4)  # 1 m³ per quarter hour of real time
        assert (before.volume_m3, after.volume_m3) == (Decimal(96), Decimal(96))
        assert before.method is after.method is Method.METERED


@st.composite
def across_a_change(draw: st.DrawFn) -> list[Point]:
    """Readings around New York's autumn change, stamped in the zone itself or in UTC, growing totals."""
    ts = datetime(2026, 10, 31, 18, 0, tzinfo=NEW_YORK).astimezone(UTC)
    total = Decimal(draw(st.integers(0, 10_000)))
    points = []
    for _ in range(draw(st.integers(2, 60))):
        ts += timedelta(minutes=draw(st.integers(1, 180)))
        total += Decimal(draw(st.integers(0, 20_000))) / 1000
        local = draw(st.booleans())
        points.append(Point(ts.astimezone(NEW_YORK) if local else ts, total))
    return points


def _slow(stored: list[Point], new: list[datetime]) -> tuple[list[DailyVolume], Tail | None]:
    days = touched_days([p.ts for p in stored], new, NEW_YORK)
    tallies, inside = tally_days(stored, days, NEW_YORK, CAPACITY, GAP)
    volumes = daily_volumes(stored, days, NEW_YORK, CAPACITY, GAP)
    last_day = local_day(stored[-1].ts, NEW_YORK)
    tail = take_tail(len(stored), stored[-1], tallies[last_day], inside[last_day])
    return volumes, tail


@settings(max_examples=200, deadline=None)
@given(across_a_change(), st.randoms(use_true_random=False), st.integers(1, 10))
def test_fast_path_equals_slow_path_across_a_daylight_saving_change(
    points: list[Point], rnd: random.Random, batches: int
) -> None:
    cuts = sorted(rnd.sample(range(1, len(points)), k=min(batches - 1, len(points) - 1)))
    stored: list[Point] = []
    rollup: dict[date, DailyVolume] = {}
    tail: Tail | None = None
    for batch in (points[i:j] for i, j in zip([0, *cuts], [*cuts, len(points)], strict=True)):
        plan = extend(tail, batch, len(batch), NEW_YORK, CAPACITY, GAP) if tail else None
        stored += batch
        volumes, tail = plan if plan is not None else _slow(stored, [p.ts for p in batch])
        rollup.update((v.day, v) for v in volumes)
    first, last = local_day(points[0].ts, NEW_YORK), local_day(points[-1].ts, NEW_YORK)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    scratch = {v.day: v for v in daily_volumes(points, days, NEW_YORK, CAPACITY, GAP)}
    assert rollup == scratch
    assert all(0.0 <= v.coverage <= 1.0 for v in scratch.values())
    # the day volumes add up to the totalizer's advance: no hour counted twice or lost at the change
    assert abs(
        sum((v.volume_m3 for v in scratch.values()), Decimal(0)) - (points[-1].total - points[0].total)
    ) <= (Decimal("0.000001") * len(scratch))
