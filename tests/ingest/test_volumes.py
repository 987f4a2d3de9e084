"""Volume arithmetic: hand-computed cases to the litre, and properties over random arrivals."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from infra.calendar import local_day
from ingest.volumes import (
    PLAUSIBLE_FACTOR,
    REGISTER_STEP_M3,
    ROLLOVER_BAND,
    IntervalKind,
    Method,
    Point,
    daily_volumes,
    interval,
    plausible_m3,
    touched_days,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = timedelta(hours=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def p(text: str, total: str) -> Point:
    return Point(at(text), Decimal(total))


def test_interval_across_local_midnight_is_split_by_interpolation() -> None:
    # 22:00 -> 02:00 local (4 h), 1000 m³: 2 h before midnight = 500 m³, 2 h after = 500 m³.
    # Then 02:00 -> 05:00 adds 30 m³ on the second day.
    points = [
        p("2026-05-01T22:00+08:00", "100"),
        p("2026-05-02T02:00+08:00", "1100"),
        p("2026-05-02T05:00+08:00", "1130"),
    ]
    first, second = daily_volumes(
        points, [date(2026, 5, 1), date(2026, 5, 2)], SHANGHAI, None, timedelta(hours=6)
    )
    assert first.volume_m3 == Decimal("500.000000")
    assert second.volume_m3 == Decimal("530.000000")


def test_uneven_split_to_the_litre() -> None:
    # 23:15 -> 00:45 local (90 min), 12.345 m³: 45/90 before midnight = 6.1725 m³ (6172.5 L), after the same.
    # A UTC reading: 16:30Z is 00:30 local on the 2nd, so midnight is local, not UTC.
    points = [p("2026-03-09T23:15:00+08:00", "5000.000"), p("2026-03-10T00:45:00+08:00", "5012.345")]
    d1, d2 = daily_volumes(points, [date(2026, 3, 9), date(2026, 3, 10)], SHANGHAI, None, timedelta(hours=2))
    assert (d1.volume_m3, d2.volume_m3) == (Decimal("6.172500"), Decimal("6.172500"))
    utc_points = [p("2026-03-09T15:15:00+00:00", "0"), p("2026-03-09T16:30:00+00:00", "75")]  # 23:15 -> 00:30
    e1, e2 = daily_volumes(
        utc_points, [date(2026, 3, 9), date(2026, 3, 10)], SHANGHAI, None, timedelta(hours=2)
    )
    assert (e1.volume_m3, e2.volume_m3) == (Decimal("45.000000"), Decimal("30.000000"))


def test_rollover_at_capacity_adds_the_capacity() -> None:
    capacity = Decimal(10) ** 8
    a, b = p("2026-05-01T10:00+08:00", "99999990.5"), p("2026-05-01T11:00+08:00", "20.5")
    item = interval(a, b, capacity)
    assert (item.kind, item.volume) == (IntervalKind.ROLLOVER, Decimal("30.0"))
    (day,) = daily_volumes([a, b], [date(2026, 5, 1)], SHANGHAI, capacity, timedelta(hours=2))
    assert day.volume_m3 == Decimal("30.000000") and "rollover" in day.flags


def test_a_drop_that_is_not_a_rollover_is_a_reset_of_unknown_volume() -> None:
    capacity = Decimal(10) ** 8
    points = [
        p("2026-05-01T00:00+08:00", "5000"),
        p("2026-05-01T12:00+08:00", "5600"),
        p("2026-05-01T13:00+08:00", "10"),
        p("2026-05-02T00:00+08:00", "250"),
    ]
    assert interval(points[1], points[2], capacity).kind is IntervalKind.RESET
    assert interval(points[1], points[2], None).kind is IntervalKind.RESET  # no capacity: never a rollover
    (day,) = daily_volumes(points, [date(2026, 5, 1)], SHANGHAI, capacity, timedelta(hours=13))
    assert day.volume_m3 == Decimal("840.000000")  # 600 + 240 known, the reset hour unknown, never negative
    assert day.method is Method.INCOMPLETE and day.flags == ("reset",)


def test_coverage_and_method() -> None:
    points = [
        p("2026-05-01T00:00+08:00", "0"),
        p("2026-05-01T12:00+08:00", "12"),
        p("2026-05-02T00:00+08:00", "24"),
    ]
    (full,) = daily_volumes(points, [date(2026, 5, 1)], SHANGHAI, None, timedelta(hours=12))
    (gappy,) = daily_volumes(points, [date(2026, 5, 1)], SHANGHAI, None, timedelta(hours=6))
    (partial,) = daily_volumes(points[:2], [date(2026, 5, 1)], SHANGHAI, None, timedelta(hours=12))
    assert (full.method, full.coverage, full.readings) == (Method.METERED, 1.0, 2)
    assert (gappy.method, gappy.coverage, gappy.flags) == (Method.INCOMPLETE, 0.0, ("gap",))
    assert (partial.method, partial.coverage, partial.volume_m3) == (
        Method.INCOMPLETE,
        0.5,
        Decimal("12.000000"),
    )
    assert (full.first_ts, full.last_ts) == (points[0].ts, points[1].ts)


def test_an_outage_spreads_its_volume_over_the_days_it_spans() -> None:
    points = [p("2026-05-01T00:00+08:00", "0"), p("2026-05-04T00:00+08:00", "300")]
    days = daily_volumes(points, [date(2026, 5, d) for d in (1, 2, 3)], SHANGHAI, None, timedelta(hours=2))
    assert [d.volume_m3 for d in days] == [Decimal("100.000000")] * 3
    assert all(d.method is Method.INCOMPLETE and d.flags == ("gap",) for d in days)


# --- properties ---------------------------------------------------------------------------------------
CAPACITY = Decimal(10) ** 6
START = datetime(2026, 4, 30, 20, 0, tzinfo=SHANGHAI)


@st.composite
def histories(draw: st.DrawFn) -> list[Point]:
    """A meter's readings: growing totals, sometimes a rollover or a reset, irregular times, a reported
    flow on most."""
    count = draw(st.integers(2, 40))
    ts, total, points = START, Decimal(draw(st.integers(0, 900_000))), []
    for _ in range(count):
        ts += timedelta(minutes=draw(st.integers(1, 60 * 30)))
        step = draw(st.sampled_from(["flow", "flow", "flow", "rollover", "reset"]))
        if step == "flow":
            total += Decimal(draw(st.integers(0, 50_000))) / 1000
        elif step == "rollover":
            total = Decimal(draw(st.integers(0, 5000)))  # only a rollover if the previous was near the top
        else:
            total = Decimal(draw(st.integers(0, 900_000)))
        total = min(total, CAPACITY - 1)
        flow = draw(st.one_of(st.none(), st.floats(0, 500, allow_nan=False)))
        points.append(Point(ts, total, flow))
    return points


def every_day(points: list[Point]) -> list[date]:
    first, last = local_day(points[0].ts, SHANGHAI), local_day(points[-1].ts, SHANGHAI)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@settings(max_examples=150, deadline=None)
@given(histories(), st.randoms(use_true_random=False), st.integers(1, 8))
def test_rollup_from_any_arrival_order_equals_recomputation(
    points: list[Point], rnd: random.Random, batches: int
) -> None:
    """Readings arrive shuffled, duplicated and split into batches; after each batch only the touched
    days are recomputed from what is stored, as the collector does. The result equals computing
    every day from scratch."""
    gap = timedelta(hours=3)
    arrivals = points + rnd.sample(points, k=len(points) // 3)  # some delivered twice
    rnd.shuffle(arrivals)
    cuts = sorted(rnd.sample(range(1, len(arrivals)), k=min(batches - 1, len(arrivals) - 1)))
    stored: dict[datetime, Point] = {}
    rollup: dict[date, object] = {}
    for batch in (arrivals[i:j] for i, j in zip([0, *cuts], [*cuts, len(arrivals)], strict=True)):
        new = [pt.ts for pt in batch if pt.ts not in stored]
        for pt in batch:
            stored.setdefault(pt.ts, pt)
        ordered = [stored[t] for t in sorted(stored)]
        days = touched_days([pt.ts for pt in ordered], new, SHANGHAI)
        for volume in daily_volumes(ordered, days, SHANGHAI, CAPACITY, gap):
            rollup[volume.day] = volume
    scratch = {v.day: v for v in daily_volumes(points, every_day(points), SHANGHAI, CAPACITY, gap)}
    assert {d: v for d, v in rollup.items() if d in scratch} == scratch


@settings(max_examples=150, deadline=None)
@given(histories())
def test_day_volumes_add_up_to_the_known_interval_volumes(points: list[Point]) -> None:
    days = daily_volumes(points, every_day(points), SHANGHAI, CAPACITY, timedelta(hours=3))
    known = sum(
        (i.volume for i in (interval(a, b, CAPACITY) for a, b in pairwise(points)) if i.volume is not None),
        Decimal(0),
    )
    total = sum((d.volume_m3 for d in days), Decimal(0))
    assert abs(total - known) <= Decimal("0.000001") * len(days)
    assert all(d.volume_m3 >= 0 for d in days)


def test_the_reported_flow_is_integrated_over_each_day() -> None:
    # 22:00 36 m³/h for 2 h to 00:00 (72 m³ on the 1st), then 00:00 12 m³/h for 3 h (36 m³ on the 2nd)
    points = [
        Point(at("2026-05-01T22:00+08:00"), Decimal(0), 36.0),
        Point(at("2026-05-02T00:00+08:00"), Decimal(70), 12.0),
        Point(at("2026-05-02T03:00+08:00"), Decimal(106), None),
    ]
    first, second = daily_volumes(
        points, [date(2026, 5, 1), date(2026, 5, 2)], SHANGHAI, None, timedelta(hours=6)
    )
    assert (first.volume_m3, first.flow_m3) == (Decimal("70.000000"), Decimal("72.000"))
    assert (second.volume_m3, second.flow_m3) == (Decimal("36.000000"), Decimal("36.000"))
    unreported = [Point(p.ts, p.total) for p in points]
    assert all(
        v.flow_m3 is None
        for v in daily_volumes(unreported, [date(2026, 5, 2)], SHANGHAI, None, timedelta(hours=6))
    )


# --- what a meter could pass ---------------------------------------------------------------------
WELL = Decimal(500) / 24  # a well of design capacity 500 m³/day: its maximum flow, m³/h


def test_a_drop_implying_more_than_the_meter_could_pass_is_a_reset_not_a_rollover() -> None:
    """The demo's phantom: a register of 10^9 m³ going from 999,999,999.5 to 589,037.81 in 15 minutes
    would be 589,038 m³ through a well that draws a few hundred a day: a reset, its volume unknown,
    the would-be rollover kept for review. A true rollover at a normal flow counts exactly."""
    capacity = Decimal(10) ** 9
    a = p("2026-05-01T10:00+08:00", "999999999.5")
    phantom = interval(a, p("2026-05-01T10:15+08:00", "589037.81"), capacity, WELL)
    assert (phantom.kind, phantom.volume, phantom.implied_m3) == (
        IntervalKind.RESET,
        None,
        Decimal("589038.31"),
    )
    real = interval(a, p("2026-05-01T10:15+08:00", "12.3"), capacity, WELL)
    assert (real.kind, real.volume) == (IntervalKind.ROLLOVER, Decimal("12.8"))
    (day,) = daily_volumes(
        [p("2026-05-01T00:00+08:00", "999999000"), a, p("2026-05-01T10:15+08:00", "589037.81")],
        [date(2026, 5, 1)],
        SHANGHAI,
        capacity,
        timedelta(hours=12),
        WELL,
    )
    assert "reset" in day.flags and day.volume_m3 == Decimal("999.500000")  # the known part only
    assert interval(a, p("2026-05-01T10:15+08:00", "589037.81"), capacity).kind is IntervalKind.ROLLOVER


def test_a_rise_beyond_what_the_meter_could_pass_is_kept_and_flagged() -> None:
    """50 m³ in a day is a well's ordinary draw; 50,000 m³ in the next 12 hours is 48 times what it
    could pass: kept as the register says, but flagged (and so neither counted nor a basis)."""
    points = [p("2026-05-01T00:00+08:00", "100"), p("2026-05-02T00:00+08:00", "150"),
              p("2026-05-02T12:00+08:00", "50150")]  # fmt: skip
    days = [date(2026, 5, 1), date(2026, 5, 2)]
    first, second = daily_volumes(points, days, SHANGHAI, None, HOUR * 25, WELL)
    assert (first.volume_m3, first.flags) == (Decimal("50.000000"), ())
    assert second.volume_m3 == Decimal("50000.000000") and second.flags == ("implausible",)
    assert interval(points[1], points[2], None, WELL).implied_m3 == Decimal(50000)


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(Decimal("0.1"), Decimal(5000), places=3),
    st.integers(1, 86_400),
    st.decimals(Decimal("0.001"), Decimal(2), places=3),
)
def test_the_plausibility_bound_is_sharp(rate: Decimal, seconds: int, excess: Decimal) -> None:
    """A rise or a wrap of the bound (to the millilitre) is possible; anything more is not."""
    start = datetime(2026, 5, 1, 8, tzinfo=SHANGHAI)
    end = start + timedelta(seconds=seconds)
    limit = plausible_m3(rate, seconds)
    assert limit is not None
    assert abs(limit - (PLAUSIBLE_FACTOR * rate * seconds / 3600 + REGISTER_STEP_M3)) < Decimal("1e-15")
    bound = limit.quantize(Decimal("0.000001"), rounding=ROUND_FLOOR)  # what a register could show
    a = Point(start, Decimal(1000))
    assert interval(a, Point(end, 1000 + bound), None, rate).kind is IntervalKind.NORMAL
    assert interval(a, Point(end, 1000 + bound + excess), None, rate).kind is IntervalKind.IMPLAUSIBLE
    capacity = Decimal(10) ** 8
    top = Point(start, capacity - 1)
    assert interval(top, Point(end, bound - 1), capacity, rate).kind is IntervalKind.ROLLOVER
    if bound - 1 + excess <= capacity * ROLLOVER_BAND:
        assert interval(top, Point(end, bound - 1 + excess), capacity, rate).kind is IntervalKind.RESET
