"""An intake's volume for a year and how it was obtained (数据获取方式), as the registration form asks.

Per day of the period, an intake is in one of three cases:

- **measured**: its daily volume is known (``daily_volumes.known``): a metered day, or a day inside a
  communication gap (the totalizer difference across the gap is exact; only its split between days
  is interpolated), or a day a person corrected with evidence; not a day with a reset, an
  implausible rise or a stuck totalizer, and not one marked invalid;
- **estimated, metered intake**: a meter was installed but the day's volume is unknown: the mean of
  the same month's **credible** days (``daily_volumes.credible``: metered in full, nothing flagged,
  not corrected), else of the year's, else the design capacity;
- **estimated, no meter**: no meter was installed that day: the design daily capacity (设计日最大取水
  能力), the campaign's conservative rule.

The method is 监测计量 when at least ``metered_share`` (90 %) of the period's days are measured,
otherwise 推算; 其他 when nothing could be measured or estimated (no meter, no design capacity).
Pure: the caller passes month aggregates from daily_volumes and the meters' installation periods.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

WAN = Decimal(10_000)


class Method(StrEnum):
    METERED = "监测计量"
    ESTIMATED = "推算"
    OTHER = "其他"


@dataclass(frozen=True, slots=True)
class MonthMeasured:
    """From daily_volumes: one intake's measured (known) days and their volume in one month, and the
    credible ones among them, the only basis an estimate is built from."""

    month: int
    days: int
    volume_m3: Decimal
    credible_days: int = 0
    credible_m3: Decimal = Decimal(0)
    corrected_days: int = 0  # known by a person's correction
    flagged_days: int = 0  # an implausible rise or a stuck totalizer: neither known nor a basis


@dataclass(frozen=True, slots=True)
class AnnualVolume:
    year: int
    volume_m3: Decimal
    method: Method
    measured_days: int
    estimated_days: int  # with a meter installed but the volume unknown
    unmetered_days: int  # no meter installed
    period_days: int
    estimated_m3: Decimal  # the part of volume_m3 that was estimated
    basis: str = ""  # how it was obtained, for the auditor: which days, which rate
    # Signed off (anomaly/signoff.py): volume_m3 and method are the signed ones; computed_m3 what the
    # data says now; pending_revision when the two differ and no later sign-off has accepted it.
    signed_by: str | None = None
    computed_m3: Decimal | None = None
    pending_revision: bool = False
    # Readings of the year a person copied from the display (人工抄表, ingest/manual.py): the year's
    # measured days between them are metered by hand, which the form's method then says.
    manual_readings: int = 0

    @property
    def method_label(self) -> str:
        """数据获取方式 as the reports write it: 监测计量（人工抄表） for a year metered by hand."""
        if self.method is Method.METERED and self.manual_readings:
            return f"{self.method.value}（人工抄表）"
        return self.method.value

    @property
    def volume_wan(self) -> Decimal:
        """万m³ with 4 decimals, as the forms write it."""
        return (self.volume_m3 / WAN).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _metered_days_in_month(
    year: int, month: int, last: date, periods: Sequence[tuple[date, date | None]]
) -> int:
    first = date(year, month, 1)
    end = min(date(year, month, calendar.monthrange(year, month)[1]), last)
    covered: set[date] = set()
    for installed, removed in periods:
        lo = max(first, installed)
        hi = min(end, removed - timedelta(days=1) if removed else end)
        covered.update(lo + timedelta(days=n) for n in range((hi - lo).days + 1))
    return len(covered)


def annual_volume(
    year: int,
    as_of: date,
    measured: Iterable[MonthMeasured],
    meter_periods: Sequence[tuple[date, date | None]],
    design_daily_capacity_m3: Decimal | None,
    metered_share: Decimal = Decimal("0.9"),
    manual_readings: int = 0,
) -> AnnualVolume:
    """The volume of ``year`` up to ``as_of`` (the whole year when it is over); ``manual_readings``: how
    many of the year's readings were entered by hand."""
    last = min(date(year, 12, 31), as_of)
    if last < date(year, 1, 1):
        return AnnualVolume(year, Decimal(0), Method.OTHER, 0, 0, 0, 0, Decimal(0), "no day of it has begun")
    by_month: Mapping[int, MonthMeasured] = {m.month: m for m in measured}
    credible_days = sum(m.credible_days for m in by_month.values())
    year_rate = (
        sum((m.credible_m3 for m in by_month.values()), Decimal(0)) / credible_days if credible_days else None
    )
    capacity = design_daily_capacity_m3
    volume = estimated_m3 = Decimal(0)
    measured_days = estimated_days = unmetered_days = period_days = 0
    rates: list[tuple[int, Decimal, str]] = []  # (days, rate, what it is) for the basis
    for month in range(1, last.month + 1):
        days_in_month = (
            min(date(year, month, calendar.monthrange(year, month)[1]), last) - date(year, month, 1)
        ).days + 1
        with_meter = _metered_days_in_month(year, month, last, meter_periods)
        got = by_month.get(month, MonthMeasured(month, 0, Decimal(0)))
        measured_here = min(got.days, with_meter) if with_meter else got.days
        unknown = max(0, with_meter - measured_here)
        no_meter = days_in_month - max(with_meter, measured_here)
        if got.credible_days:
            fill, what = (
                got.credible_m3 / got.credible_days,
                f"month {month}'s {got.credible_days} credible days",
            )
        elif year_rate is not None:
            fill, what = year_rate, f"the year's {credible_days} credible days"
        else:
            fill, what = capacity or Decimal(0), "the design daily capacity"
        if unknown and rates and rates[-1][1:] == (fill, what):
            rates[-1] = (rates[-1][0] + unknown, fill, what)  # one line for a run at the same rate
        elif unknown:
            rates.append((unknown, fill, what))
        guess = fill * unknown + (capacity or Decimal(0)) * no_meter
        volume += got.volume_m3 + guess
        estimated_m3 += guess
        measured_days += measured_here
        estimated_days += unknown
        unmetered_days += no_meter
        period_days += days_in_month
    if period_days and Decimal(measured_days) / period_days >= metered_share:
        method = Method.METERED
    elif measured_days or capacity:
        method = Method.ESTIMATED
    else:
        method = Method.OTHER  # no measurement and nothing to estimate from
    corrected = sum(m.corrected_days for m in by_month.values())
    flagged = sum(m.flagged_days for m in by_month.values())
    basis = _basis(
        measured_days, period_days, rates, unmetered_days, capacity, corrected, flagged, manual_readings
    )
    return AnnualVolume(
        year,
        volume,
        method,
        measured_days,
        estimated_days,
        unmetered_days,
        period_days,
        estimated_m3,
        basis,
        manual_readings=manual_readings,
    )


def _basis(
    measured: int,
    period: int,
    rates: Sequence[tuple[int, Decimal, str]],
    unmetered: int,
    capacity: Decimal | None,
    corrected: int,
    flagged: int,
    manual: int = 0,
) -> str:
    """What the auditor reads beside the figure: the days measured, and every estimate with its rate."""
    parts = [f"{measured} of {period} days measured"]
    if manual:
        parts.append(f"{manual} reading(s) of the year entered by hand from the display (人工抄表)")
    if corrected:
        parts.append(f"{corrected} of them by correction")
    for days, rate, what in rates:
        parts.append(f"{days} days estimated at {rate.quantize(Decimal('0.001'))} m³/d ({what})")
    if unmetered:
        parts.append(f"{unmetered} days without a meter at the design capacity {capacity or 0} m³/d")
    if flagged:
        parts.append(f"{flagged} flagged days (implausible or stuck totalizer) not counted")
    return "; ".join(parts)


def four_year_average(volumes: Sequence[AnnualVolume]) -> Decimal:
    """近4年平均取水量: the mean of the four full years' volumes, in m³."""
    if not volumes:
        return Decimal(0)
    return sum((v.volume_m3 for v in volumes), Decimal(0)) / len(volumes)
