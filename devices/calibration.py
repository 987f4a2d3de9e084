"""When a meter is next due for calibration (检定), from a documented, configurable period table.

Mechanical water meters follow JJG 162-2019 by nominal diameter: DN ≤ 25 every 6 years,
25 < DN ≤ 50 every 4 years, larger every 2 years. Electromagnetic and ultrasonic meters default to
2 years; open-channel and other devices have configurable periods. A meter with no recorded
calibration counts from the day it was installed (its initial verification).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from devices.model import Meter, MeterType


@dataclass(frozen=True, slots=True)
class CalibrationPeriods:
    """Years between calibrations, by meter type (and for water meters, by size)."""

    water_meter_dn25: int = 6  # DN ≤ 25 (JJG 162-2019)
    water_meter_dn50: int = 4  # 25 < DN ≤ 50
    water_meter_large: int = 2  # DN > 50, or size unknown
    electromagnetic: int = 2
    ultrasonic: int = 2
    open_channel: int = 2
    other: int = 2

    def years_for(self, meter_type: MeterType, dn: int | None) -> int:
        if meter_type is MeterType.WATER_METER:
            if dn is not None and dn <= 25:
                return self.water_meter_dn25
            if dn is not None and dn <= 50:
                return self.water_meter_dn50
            return self.water_meter_large
        return {
            MeterType.ELECTROMAGNETIC: self.electromagnetic,
            MeterType.ULTRASONIC: self.ultrasonic,
            MeterType.OPEN_CHANNEL: self.open_channel,
            MeterType.OTHER: self.other,
        }[meter_type]


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def next_due(meter: Meter, last_calibrated: date | None, periods: CalibrationPeriods) -> date:
    start = last_calibrated or meter.installed_on
    return add_years(start, periods.years_for(meter.meter_type, meter.dn))


def is_overdue(due: date, today: date) -> bool:
    return today > due


def is_due_within(due: date, today: date, days: int) -> bool:
    """Due in the next ``days`` days (overdue ones excluded: see :func:`is_overdue`)."""
    return today <= due <= today + timedelta(days=days)
