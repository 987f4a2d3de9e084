"""Permit rules on hand-computed numbers: each fires at its threshold and stays quiet just below."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from anomaly.findings import ProblemType, Severity
from anomaly.permit_rules import (
    online_monitoring_missing,
    over_permit,
    permit_expiry,
    project_annual,
    projected_over_permit,
    unpermitted,
)
from anomaly.thresholds import Thresholds
from devices.model import ConstructionStatus, Intake, Meter, MeterType, Permit, SourceType, WaterUse

TH = Thresholds()
AS_OF = date(2026, 9, 30)


def intake(
    code: str,
    source: SourceType = SourceType.SHALLOW_GROUNDWATER,
    permit_no: str | None = "P1",
    status: ConstructionStatus = ConstructionStatus.BUILT,
) -> Intake:
    return Intake(
        code,
        code,
        "owner",
        None,
        "建平县",
        None,
        119.6,
        41.4,
        "机井",
        Decimal(1000),
        status,
        source,
        None,
        None,
        WaterUse.IRRIGATION,
        None,
        permit_no,
    )


def permit(volume: int, valid_to: date = date(2028, 12, 31)) -> Permit:
    return Permit("P1", "建平县水利局", date(2024, 1, 1), valid_to, Decimal(volume))


def meter(code: str, online: bool) -> Meter:
    return Meter(
        f"M-{code}", code, MeterType.ELECTROMAGNETIC, 100, None, online, 900, None, date(2024, 1, 1), None
    )


def test_over_permit_sums_every_intake_under_the_permit() -> None:
    intakes = [intake("A"), intake("B")]
    # 300,000 + 200,001 = 500,001 m³ against 500,000 m³ (50万): over by one m³
    found = over_permit(permit(500_000), intakes, {"A": Decimal(300_000), "B": Decimal(200_001)}, AS_OF)
    assert [(f.intake_code, f.rule, f.problem, f.severity) for f in found] == [
        ("A", "over_permit", ProblemType.OVER_PERMIT, Severity.ALERT),
        ("B", "over_permit", ProblemType.OVER_PERMIT, Severity.ALERT),
    ]
    assert (
        found[0].description
        == "2026年截至09月30日计量取水量50.0001万m³，超过许可证P1许可水量50.0000万m³（100.0%）"
    )
    assert found[1].evidence["intake_m3"] == "200001"
    assert over_permit(permit(500_000), intakes, {"A": Decimal(300_000), "B": Decimal(200_000)}, AS_OF) == []


def test_projection_uses_the_seasonal_shape_of_earlier_years() -> None:
    # earlier year: 40 m³ by 30 September out of 100 m³ in the year -> 40 % by this day
    earlier = {date(2025, 3, 1): Decimal(10), date(2025, 9, 30): Decimal(30), date(2025, 10, 1): Decimal(60)}
    projected, method = project_annual(Decimal(48), AS_OF, [earlier], None, TH)
    assert projected == Decimal(120)  # 48 / 0.4
    assert method.startswith("seasonal shape of 1 earlier year(s): 40.0%")


def test_projection_without_history_uses_the_recent_rate() -> None:
    # 2 m³/day over the last 30 days; 92 days left after 30 September: 100 + 2 * 92 = 284
    projected, method = project_annual(Decimal(100), AS_OF, [], Decimal(2), TH)
    assert projected == Decimal(284)
    assert method == "recent 30-day rate 2.000 m³/day for 92 remaining days"


def test_projection_ignores_a_seasonal_shape_too_thin_to_divide_by() -> None:
    earlier = {date(2025, 1, 5): Decimal(1), date(2025, 12, 1): Decimal(99)}  # 1 % by September: too thin
    projected, method = project_annual(Decimal(10), AS_OF, [earlier], Decimal(1), TH)
    assert projected == Decimal(102) and method.startswith("recent 30-day rate")


@pytest.mark.parametrize(
    ("projected", "severity"),
    [
        (Decimal(1000), Severity.ALERT),
        (Decimal("999.999"), Severity.WARNING),
        (Decimal(900), Severity.WARNING),
        (Decimal("899.999"), None),
    ],
)
def test_projected_over_permit_thresholds(projected: Decimal, severity: Severity | None) -> None:
    found = projected_over_permit(permit(1000), [intake("A")], Decimal(500), projected, "m", AS_OF, TH)
    assert [f.severity for f in found] == ([severity] if severity else [])


def test_withdrawing_after_the_permit_expired() -> None:
    expired = permit(1000, valid_to=date(2026, 9, 29))
    found = permit_expiry(expired, [intake("A"), intake("B")], {"A": Decimal("12.5")}, AS_OF, TH)
    assert [(f.intake_code, f.rule, f.severity) for f in found] == [("A", "permit_expired", Severity.ALERT)]
    assert found[0].description == "取水许可证P1已于2026-09-29到期，到期后仍取水12.5m³"
    assert (
        permit_expiry(permit(1000, valid_to=AS_OF), [intake("A")], {"A": Decimal(5)}, AS_OF, TH)[0].rule
        == "permit_expiring"
    )  # the last valid day is not yet expired


def test_warning_45_days_before_expiry_and_not_46() -> None:
    within = permit(1000, valid_to=AS_OF + timedelta(days=45))
    outside = permit(1000, valid_to=AS_OF + timedelta(days=46))
    (warning,) = permit_expiry(within, [intake("A")], {}, AS_OF, TH)
    assert (warning.rule, warning.severity, warning.evidence["days_left"]) == (
        "permit_expiring",
        Severity.WARNING,
        45,
    )
    assert permit_expiry(outside, [intake("A")], {}, AS_OF, TH) == []


def test_withdrawing_without_a_permit_or_from_a_decommissioned_intake() -> None:
    since = date(2026, 1, 1)
    (no_permit,) = unpermitted(intake("A", permit_no=None), Decimal(7), since, AS_OF)
    assert (no_permit.rule, no_permit.problem) == ("no_permit", ProblemType.UNAUTHORIZED)
    (scrapped,) = unpermitted(
        intake("B", status=ConstructionStatus.DECOMMISSIONED), Decimal("0.001"), since, AS_OF
    )
    assert scrapped.rule == "decommissioned_withdrawal"
    assert unpermitted(intake("C", permit_no=None), Decimal(0), since, AS_OF) == []
    assert unpermitted(intake("D"), Decimal(100), since, AS_OF) == []


@pytest.mark.parametrize(
    ("source", "volume", "required"),
    [
        (SourceType.RIVER, 500_000, True),  # surface water at 50万 m³
        (SourceType.RIVER, 499_999, False),
        (SourceType.DEEP_GROUNDWATER, 50_000, True),  # groundwater at 5万 m³
        (SourceType.DEEP_GROUNDWATER, 49_999, False),
    ],
)
def test_online_monitoring_required_from_the_permit_size(
    source: SourceType, volume: int, required: bool
) -> None:
    found = online_monitoring_missing(
        permit(volume), [intake("A", source)], {"A": [meter("A", online=False)]}, AS_OF, TH
    )
    assert [f.rule for f in found] == (["online_monitoring_missing"] if required else [])
    ok = online_monitoring_missing(
        permit(volume), [intake("A", source)], {"A": [meter("A", online=True)]}, AS_OF, TH
    )
    assert ok == []


def test_no_meter_at_all_counts_as_missing_online_monitoring() -> None:
    (found,) = online_monitoring_missing(
        permit(600_000), [intake("A", SourceType.RIVER)], {"A": []}, AS_OF, TH
    )
    assert "未安装计量设施" in found.description and found.meter_id is None


def test_each_meter_of_an_intake_that_cannot_report_online_is_a_finding() -> None:
    pumps = [meter("A", online=False), replace(meter("A", online=True), meter_id="A-2"),
             replace(meter("A", online=False), meter_id="A-3")]  # fmt: skip
    found = online_monitoring_missing(
        permit(600_000), [intake("A", SourceType.RIVER)], {"A": pumps}, AS_OF, TH
    )
    assert sorted(f.meter_id or "" for f in found) == sorted([pumps[0].meter_id, "A-3"])
