from __future__ import annotations

from datetime import date

import pytest

from devices.calibration import CalibrationPeriods, add_years, is_due_within, is_overdue, next_due
from devices.model import Meter, MeterType


def meter(meter_type: MeterType, dn: int | None, installed: date = date(2020, 5, 1)) -> Meter:
    return Meter("M1", "I1", meter_type, dn, None, True, 3600, None, installed, None)


@pytest.mark.parametrize(
    ("meter_type", "dn", "years"),
    [
        (MeterType.WATER_METER, 15, 6),
        (MeterType.WATER_METER, 25, 6),
        (MeterType.WATER_METER, 26, 4),
        (MeterType.WATER_METER, 50, 4),
        (MeterType.WATER_METER, 80, 2),
        (MeterType.WATER_METER, None, 2),
        (MeterType.ELECTROMAGNETIC, 300, 2),
        (MeterType.ULTRASONIC, 600, 2),
    ],
)
def test_default_periods_follow_jjg_162(meter_type: MeterType, dn: int | None, years: int) -> None:
    assert next_due(meter(meter_type, dn), date(2024, 3, 10), CalibrationPeriods()) == date(
        2024 + years, 3, 10
    )


def test_periods_are_configurable() -> None:
    periods = CalibrationPeriods(open_channel=1, water_meter_dn25=5)
    assert next_due(meter(MeterType.OPEN_CHANNEL, None), date(2024, 3, 10), periods) == date(2025, 3, 10)
    assert next_due(meter(MeterType.WATER_METER, 20), date(2024, 3, 10), periods) == date(2029, 3, 10)


def test_never_calibrated_counts_from_installation() -> None:
    assert next_due(meter(MeterType.ELECTROMAGNETIC, 100), None, CalibrationPeriods()) == date(2022, 5, 1)


def test_leap_day() -> None:
    assert add_years(date(2024, 2, 29), 2) == date(2026, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)


def test_due_and_overdue() -> None:
    due = date(2026, 12, 15)
    assert not is_overdue(due, date(2026, 12, 15))
    assert is_overdue(due, date(2026, 12, 16))
    assert is_due_within(due, date(2026, 11, 29), 30)
    assert not is_due_within(due, date(2026, 11, 1), 30)
    assert not is_due_within(due, date(2026, 12, 16), 30)
