"""Metering rules on hand-computed numbers: each fires at its threshold and stays quiet just below."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from anomaly.findings import ProblemType, Severity
from anomaly.meter_rules import (
    AlarmSeen,
    MeterDay,
    TotalizerEvent,
    calibration_overdue,
    clock_skew,
    flow_mismatch,
    meter_alarms,
    offline_too_long,
    over_design_capacity,
    stuck_totalizer,
    totalizer_resets,
)
from anomaly.thresholds import Thresholds
from devices.model import ConstructionStatus, Intake, Meter, MeterType, SourceType, WaterUse

TH = Thresholds()
AS_OF = date(2026, 9, 30)
NOW = datetime(2026, 9, 30, 12, tzinfo=UTC)
METER = Meter("M1", "I1", MeterType.ELECTROMAGNETIC, 100, None, True, 900, None, date(2026, 1, 1), None)
CHANNEL = Meter("M2", "I1", MeterType.OPEN_CHANNEL, None, None, True, 900, None, date(2026, 1, 1), None)
INTAKE = Intake(
    "I1",
    "I1",
    "o",
    None,
    "建平县",
    None,
    119.6,
    41.4,
    "机井",
    Decimal(800),
    ConstructionStatus.BUILT,
    SourceType.SHALLOW_GROUNDWATER,
    None,
    None,
    WaterUse.IRRIGATION,
    None,
    None,
)


def day(
    n: int, volume: str, flow: bool = False, coverage: float = 1.0, integrated: str | None = None
) -> MeterDay:
    return MeterDay(
        date(2026, 9, n), Decimal(volume), coverage, flow, Decimal(integrated) if integrated else None
    )


def test_calibration_overdue_the_day_after_it_was_due() -> None:
    assert calibration_overdue(METER, AS_OF, AS_OF) == []
    (found,) = calibration_overdue(METER, AS_OF - timedelta(days=1), AS_OF)
    assert (found.rule, found.problem, found.evidence["days_overdue"]) == (
        "calibration_overdue",
        ProblemType.METERING,
        1,
    )


def test_offline_longer_than_24_hours() -> None:
    assert offline_too_long(METER, NOW - timedelta(hours=24), NOW, TH) == []
    (found,) = offline_too_long(METER, NOW - timedelta(hours=24, seconds=1), NOW, TH)
    assert found.rule == "meter_offline" and found.meter_id == "M1"
    (never,) = offline_too_long(METER, None, NOW, TH)
    assert "never reported (installed 2026-01-01)" in never.description


def test_totalizer_reset_but_not_a_rollover() -> None:
    ts = datetime(2026, 9, 1, tzinfo=UTC)
    assert (
        totalizer_resets(METER, [TotalizerEvent(ts, "rollover", Decimal(99_999_990), Decimal(5))], AS_OF)
        == []
    )
    (found,) = totalizer_resets(
        METER,
        [
            TotalizerEvent(ts, "rollover", Decimal(99_999_990), Decimal(5)),
            TotalizerEvent(ts + timedelta(days=2), "reset", Decimal(5000), Decimal(3)),
        ],
        AS_OF,
    )
    assert found.evidence == {
        "resets": 1,
        "last_at": "2026-09-03T00:00:00+00:00",
        "total_before": "5000",
        "total_after": "3",
    }


def test_stuck_totalizer_more_than_three_days_while_flow_is_reported() -> None:
    three = [day(1, "0", True), day(2, "0", True), day(3, "0", True), day(4, "12")]
    assert stuck_totalizer(METER, three, AS_OF, TH) == []
    four = [day(1, "0", True), day(2, "0", True), day(3, "0", True), day(4, "0", True)]
    (found,) = stuck_totalizer(METER, four, AS_OF, TH)
    assert found.evidence == {"from": "2026-09-01", "to": "2026-09-04", "days": 4}
    idle = [day(n, "0", False) for n in range(1, 10)]  # no flow reported: an idle pump, not a stuck meter
    assert stuck_totalizer(METER, idle, AS_OF, TH) == []
    broken = [day(1, "0", True), day(2, "0", True), day(4, "0", True), day(5, "0", True)]  # a day missing
    assert stuck_totalizer(METER, broken, AS_OF, TH) == []


def test_day_above_the_design_capacity() -> None:
    assert over_design_capacity(INTAKE, METER, [day(1, "800"), day(2, "799.9")], AS_OF) == []
    (found,) = over_design_capacity(INTAKE, METER, [day(1, "800.001"), day(2, "950"), day(3, "10")], AS_OF)
    assert found.evidence == {
        "days": 2,
        "worst_day": "2026-09-02",
        "worst_m3": "950",
        "capacity_m3_per_day": "800",
        "implausible_days": 0,
    }


def test_a_day_the_register_rose_beyond_the_meter_is_over_capacity_without_a_design_capacity() -> None:
    """An implausible rise (the volume arithmetic's flag) raises the finding on an intake without a
    registered design capacity too; its volume is what the register says."""
    no_capacity = replace(INTAKE, design_daily_capacity_m3=None)
    spike = replace(day(2, "50000"), implausible=True)
    assert over_design_capacity(no_capacity, METER, [day(1, "900")], AS_OF) == []
    (found,) = over_design_capacity(no_capacity, METER, [day(1, "900"), spike], AS_OF)
    assert found.evidence["implausible_days"] == 1 and found.evidence["worst_m3"] == "50000"
    assert "计量设施可能通过的最大水量" in found.description


def test_flow_mismatch_tolerance_by_meter_type_on_well_covered_days() -> None:
    # pipe meter: 5 %; 100 vs 95 is exactly 5 % (quiet), 100 vs 94.9 is more (fires)
    assert flow_mismatch(METER, [day(1, "100", integrated="95")], AS_OF, TH) == []
    (found,) = flow_mismatch(METER, [day(1, "100", integrated="94.9")], AS_OF, TH)
    assert found.rule == "flow_mismatch" and found.evidence["first_day"] == "2026-09-01"
    # open channel: 10 %
    assert flow_mismatch(CHANNEL, [day(1, "100", integrated="90")], AS_OF, TH) == []
    assert len(flow_mismatch(CHANNEL, [day(1, "100", integrated="89.9")], AS_OF, TH)) == 1
    # a poorly covered day is not compared
    assert flow_mismatch(METER, [day(1, "100", coverage=0.9, integrated="50")], AS_OF, TH) == []


def test_clock_skew_beyond_ten_minutes_is_a_warning() -> None:
    assert clock_skew(METER, timedelta(minutes=10), AS_OF, TH) == []
    (found,) = clock_skew(METER, -timedelta(minutes=10, seconds=1), AS_OF, TH)
    assert (found.severity, found.description) == (Severity.WARNING, "计量设施M1时钟慢601秒（允许600秒）")


def test_fault_alarms_of_the_last_day_are_found() -> None:
    at = datetime(2026, 11, 20, 8, tzinfo=UTC)
    seen = [AlarmSeen("ac_power_off", 3, at), AlarmSeen("frame_late", 9, at), AlarmSeen("custom", 1, at)]
    (found,) = meter_alarms(METER, seen, AS_OF)
    assert found.rule == "meter_alarm" and found.severity is Severity.WARNING
    assert found.evidence == {"ac_power_off": 3, "last_at": at.isoformat()}
    assert "交流电停电（3次" in found.description
    (worse,) = meter_alarms(METER, [*seen, AlarmSeen("flow_meter_fault", 1, at)], AS_OF)
    assert worse.severity is Severity.ALERT and "流量仪表故障" in worse.description
    assert meter_alarms(METER, [AlarmSeen("frame_late", 9, at)], AS_OF) == []
