"""Annual volumes and 数据获取方式, on hand-computed numbers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from anomaly.annual import AnnualVolume, Method, MonthMeasured, annual_volume, four_year_average

ALWAYS = [(date(2020, 1, 1), None)]  # a meter installed long before


def full_year(volume_per_day: int = 10, missing: dict[int, int] | None = None) -> list[MonthMeasured]:
    days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    missing = missing or {}
    out = []
    for m, d in enumerate(days, start=1):
        known = d - missing.get(m, 0)
        volume = Decimal(volume_per_day * known)
        out.append(MonthMeasured(m, known, volume, credible_days=known, credible_m3=volume))
    return out


def test_a_fully_measured_year_is_metered() -> None:
    result = annual_volume(2025, date(2026, 3, 1), full_year(), ALWAYS, Decimal(100))
    assert (result.volume_m3, result.method, result.measured_days, result.period_days) == (
        Decimal(3650),
        Method.METERED,
        365,
        365,
    )
    assert result.volume_wan == Decimal("0.3650")


def test_at_90_percent_measured_still_metered_below_it_estimated() -> None:
    # 365 days; 36 unknown in July+August -> 329 measured = 90.14 %: 监测计量
    ok = annual_volume(2025, date(2026, 1, 1), full_year(missing={7: 18, 8: 18}), ALWAYS, None)
    # 37 unknown -> 328 measured = 89.86 %: 推算
    short = annual_volume(2025, date(2026, 1, 1), full_year(missing={7: 18, 8: 19}), ALWAYS, None)
    assert (ok.method, ok.measured_days) == (Method.METERED, 329)
    assert (short.method, short.measured_days, short.estimated_days) == (Method.ESTIMATED, 328, 37)
    # unknown days are filled with the same month's measured mean (10 m³/day): the total stays 3650
    assert short.volume_m3 == Decimal(3650) and short.estimated_m3 == Decimal(370)


def test_days_without_a_meter_are_estimated_at_design_capacity() -> None:
    # meter installed 1 July 2025: January-June (181 days) had no meter; July-December measured at 10/day
    measured = [m for m in full_year() if m.month >= 7]
    result = annual_volume(2025, date(2026, 1, 1), measured, [(date(2025, 7, 1), None)], Decimal(100))
    assert (result.unmetered_days, result.measured_days) == (181, 184)
    assert result.volume_m3 == Decimal(181 * 100 + 1840)
    assert result.method is Method.ESTIMATED


def test_the_current_year_runs_to_today() -> None:
    measured = [
        MonthMeasured(1, 31, Decimal(310), 31, Decimal(310)),
        MonthMeasured(2, 10, Decimal(100), 10, Decimal(100)),
    ]
    result = annual_volume(2026, date(2026, 2, 10), measured, ALWAYS, None)
    assert (result.period_days, result.volume_m3, result.method) == (41, Decimal(410), Method.METERED)


def test_no_meter_and_no_capacity_is_other() -> None:
    result = annual_volume(2025, date(2026, 1, 1), [], [], None)
    assert (result.method, result.volume_m3) == (Method.OTHER, Decimal(0))


def test_four_year_average() -> None:
    volumes = [
        AnnualVolume(y, Decimal(v), Method.METERED, 365, 0, 0, 365, Decimal(0))
        for y, v in ((2022, 100), (2023, 200), (2024, 300), (2025, 400))
    ]
    assert four_year_average(volumes) == Decimal(250)


def test_an_estimate_is_built_only_from_credible_days_and_says_from_what() -> None:
    """June: 10 days known, 5 of them credible at 10 m³/day, 5 known only by a correction at 100;
    20 days unknown. They are filled at the credible days' 10, not the corrections' 100, and the
    row says so. A flagged day (an implausible rise) is neither counted nor a basis."""
    june = MonthMeasured(6, 10, Decimal(550), credible_days=5, credible_m3=Decimal(50), corrected_days=5)
    july = MonthMeasured(7, 31, Decimal(310), credible_days=30, credible_m3=Decimal(300), flagged_days=0)
    result = annual_volume(2025, date(2025, 7, 31), [june, july], [(date(2025, 6, 1), None)], Decimal(1000))
    assert result.measured_days == 41 and result.estimated_days == 20
    assert result.estimated_m3 == Decimal(20 * 10) + Decimal(151 * 1000)  # Jan-May: no meter, design capacity
    assert result.method is Method.ESTIMATED
    assert "20 days estimated at 10.000 m³/d (month 6's 5 credible days)" in result.basis
    assert "5 of them by correction" in result.basis
    assert "151 days without a meter at the design capacity 1000 m³/d" in result.basis
    flagged = MonthMeasured(7, 30, Decimal(300), credible_days=30, credible_m3=Decimal(300), flagged_days=1)
    with_flag = annual_volume(2025, date(2025, 7, 31), [flagged], [(date(2025, 7, 1), None)], None)
    assert with_flag.estimated_days == 1 and with_flag.volume_m3 == Decimal(310)  # filled at 10, not 50,000
    assert "1 flagged days (implausible or stuck totalizer) not counted" in with_flag.basis


def test_a_year_metered_by_hand_says_so_in_its_method_and_basis() -> None:
    by_hand = annual_volume(2025, date(2026, 3, 1), full_year(), ALWAYS, Decimal(100), manual_readings=12)
    assert by_hand.method is Method.METERED and by_hand.method_label == "监测计量（人工抄表）"
    assert "12 reading(s) of the year entered by hand" in by_hand.basis
    online = annual_volume(2025, date(2026, 3, 1), full_year(), ALWAYS, Decimal(100))
    assert online.method_label == "监测计量" and "by hand" not in online.basis
    few = annual_volume(
        2025, date(2026, 3, 1), full_year(missing={1: 31, 2: 28}), ALWAYS, None, manual_readings=2
    )
    assert few.method is Method.ESTIMATED and few.method_label == "推算"  # an estimate stays an estimate
