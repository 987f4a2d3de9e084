"""Profiles and virtual meters: realistic shapes, deterministic totals, rollover."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.meter import VirtualMeter
from simulators.profiles import Kind, Profile

ZONE = ZoneInfo("Asia/Shanghai")
EPOCH = datetime(2026, 1, 1, tzinfo=ZONE)


def meter(kind: Kind = Kind.INDUSTRY, capacity: Decimal | None = None, start: str = "0") -> VirtualMeter:
    return VirtualMeter(
        "V1", Profile(kind, 7), 10.0, timedelta(minutes=15), ZONE, EPOCH, Decimal(start), capacity
    )


def test_irrigation_pumps_in_daytime_in_season_and_never_in_winter() -> None:
    profile = Profile(Kind.IRRIGATION, 3)
    winter = [profile.relative_rate(EPOCH + timedelta(hours=h)) for h in range(24 * 60)]
    assert max(winter) == 0.0
    june = datetime(2026, 6, 1, tzinfo=ZONE)
    nights = [profile.relative_rate(june + timedelta(days=d, hours=h)) for d in range(30) for h in (0, 3, 21)]
    days = [profile.relative_rate(june + timedelta(days=d, hours=10)) for d in range(30)]
    assert max(nights) == 0.0
    assert 5 < sum(1 for r in days if r > 0) < 28  # most days, not every day


def test_industry_has_a_weekly_rhythm_and_public_supply_a_morning_peak() -> None:
    monday, sunday = datetime(2026, 3, 2, 10, tzinfo=ZONE), datetime(2026, 3, 8, 10, tzinfo=ZONE)
    assert Profile(Kind.INDUSTRY, 1).relative_rate(monday) > Profile(Kind.INDUSTRY, 1).relative_rate(sunday)
    supply = Profile(Kind.PUBLIC_SUPPLY, 1)
    assert supply.relative_rate(monday.replace(hour=7)) > supply.relative_rate(monday.replace(hour=3))


def test_industry_meter_draws_its_rate() -> None:
    # weekday rate 1.0 × 10 m³/h: a Thursday (1 January 2026) draws 240 m³
    assert meter().total_at(EPOCH + timedelta(days=1)) == Decimal("240.000")


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 200), st.integers(1, 96))
def test_readings_agree_with_total_at_whatever_the_start(start_tick: int, count: int) -> None:
    m = meter(Kind.PUBLIC_SUPPLY)
    start = EPOCH + start_tick * m.interval
    readings = list(m.readings(start, start + count * m.interval))
    assert len(readings) == count
    assert [r.total_m3 for r in readings] == [m.total_at(r.ts) for r in readings]
    assert all(b.total_m3 >= a.total_m3 for a, b in pairwise(readings))


def test_totalizer_rolls_over_at_capacity() -> None:
    m = meter(capacity=Decimal(1000), start="900")
    totals = [r.total_m3 for r in m.readings(EPOCH, EPOCH + timedelta(hours=12))]
    assert totals[0] == Decimal(900) and max(totals) < 1000
    assert totals[-1] == Decimal("17.500")  # 900 + 117.5 m³ in 11.75 h, minus 1000
