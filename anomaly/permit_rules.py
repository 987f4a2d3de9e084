"""Rules about permits: over the permitted volume, projected over it, expired, missing, and permits
large enough to require online metering. Pure functions over plain values; each returns findings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from anomaly.findings import Evidence, Finding, ProblemType, Severity, permit_subject
from anomaly.thresholds import Thresholds
from devices.divisions import common_division
from devices.model import ConstructionStatus, Intake, Meter, Permit

WAN = Decimal(10_000)


def wan(volume_m3: Decimal) -> str:
    """m³ as the forms write it: 万m³ with 4 decimals."""
    return str((volume_m3 / WAN).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def _share(part: Decimal, whole: Decimal) -> Decimal:
    if whole <= 0:
        return Decimal("Infinity") if part > 0 else Decimal(0)
    return part / whole


def _percent(share: Decimal) -> str:
    return "∞" if not share.is_finite() else f"{share * 100:.1f}%"


def for_permit(
    rule: str,
    problem: ProblemType,
    severity: Severity,
    permit: Permit,
    intakes: Sequence[Intake],
    as_of: date,
    description: str,
    evidence: Evidence,
    each: Mapping[str, Evidence] | None = None,
) -> list[Finding]:
    """A permit's problem as one finding for the permit, listing its intakes (``each``: an intake's own
    figures); one per intake only when no one division holds them all (a permit across provinces)."""
    division = common_division(i.division_code for i in intakes)
    if division is None:
        return [
            Finding(
                rule,
                problem,
                severity,
                i.code,
                as_of,
                description,
                {**evidence, **((each or {}).get(i.code) or {})},
                permit.permit_no,
            )
            for i in intakes
        ]
    codes = sorted(i.code for i in intakes)
    more = "等" if len(codes) > 5 else ""
    listed: dict[str, str | int | float | list[str]] = {
        **evidence,
        "intakes": codes,
        "name": f"取水许可证{permit.permit_no}（{len(codes)}个取水口：{'、'.join(codes[:5])}{more}）",
    }
    for code, figures in sorted((each or {}).items()):
        for key, value in figures.items():
            listed[f"{key}:{code}"] = value
    return [
        Finding(
            rule,
            problem,
            severity,
            None,
            as_of,
            description,
            listed,
            permit.permit_no,
            subject=permit_subject(permit.permit_no),
            division_code=division,
        )
    ]


def over_permit(
    permit: Permit, intakes: Sequence[Intake], ytd_m3: Mapping[str, Decimal], as_of: date
) -> list[Finding]:
    """The year's metered volume of all intakes under the permit exceeds the permitted annual volume."""
    total = sum((ytd_m3.get(i.code, Decimal(0)) for i in intakes), Decimal(0))
    if total <= permit.annual_volume_m3:
        return []
    share = _share(total, permit.annual_volume_m3)
    description = (
        f"{as_of.year}年截至{as_of:%m月%d日}计量取水量{wan(total)}万m³，超过许可证{permit.permit_no}"
        f"许可水量{wan(permit.annual_volume_m3)}万m³（{_percent(share)}）"
    )
    evidence = {
        "year_to_date_m3": str(total),
        "permitted_m3": str(permit.annual_volume_m3),
        "share": _percent(share),
        "as_of": as_of.isoformat(),
    }
    each: dict[str, Evidence] = {i.code: {"intake_m3": str(ytd_m3.get(i.code, Decimal(0)))} for i in intakes}
    return for_permit(
        "over_permit",
        ProblemType.OVER_PERMIT,
        Severity.ALERT,
        permit,
        intakes,
        as_of,
        description,
        evidence,
        each,
    )


def project_annual(
    ytd_m3: Decimal,
    as_of: date,
    earlier_years: Sequence[Mapping[date, Decimal]],
    recent_rate_m3_per_day: Decimal | None,
    th: Thresholds,
) -> tuple[Decimal, str]:
    """The year's volume projected from the year so far, and how it was projected.

    With earlier years: the share of their annual volume they had reached by this calendar day
    (averaged) is the seasonal shape, and the projection is year-to-date / that share. Without
    (or when that share is too thin to divide by): year-to-date + the recent daily rate (the mean of
    the last ``projection_recent_days`` days) × days left. Earlier years may be given by day or by
    month (a month's volume dated on its last day).
    """
    shares = []
    for days in earlier_years:
        total = sum(days.values(), Decimal(0))
        if total > 0:
            by_now = sum(
                (v for d, v in days.items() if (d.month, d.day) <= (as_of.month, as_of.day)), Decimal(0)
            )
            shares.append(by_now / total)
    if shares:
        shape = sum(shares, Decimal(0)) / len(shares)
        if shape >= th.projection_min_history_share:
            return (
                ytd_m3 / shape,
                f"seasonal shape of {len(shares)} earlier year(s): {shape * 100:.1f}% by this day",
            )
    rate = recent_rate_m3_per_day or Decimal(0)
    left = (date(as_of.year, 12, 31) - as_of).days
    method = f"recent {th.projection_recent_days}-day rate {rate:.3f} m³/day for {left} remaining days"
    return ytd_m3 + rate * left, method


def projected_over_permit(
    permit: Permit,
    intakes: Sequence[Intake],
    ytd_m3: Decimal,
    projected_m3: Decimal,
    method: str,
    as_of: date,
    th: Thresholds,
) -> list[Finding]:
    """The projected annual volume reaches 90 % (warning) or 100 % (alert) of the permit."""
    share = _share(projected_m3, permit.annual_volume_m3)
    if share >= th.projected_alert_share:
        severity = Severity.ALERT
    elif share >= th.projected_warning_share:
        severity = Severity.WARNING
    else:
        return []
    description = (
        f"按当前取水趋势预计{as_of.year}年取水量{wan(projected_m3)}万m³，达到许可水量"
        f"{wan(permit.annual_volume_m3)}万m³的{_percent(share)}"
    )
    evidence = {
        "year_to_date_m3": str(ytd_m3),
        "projected_m3": str(projected_m3.quantize(Decimal("0.001"))),
        "permitted_m3": str(permit.annual_volume_m3),
        "share": _percent(share),
        "method": method,
    }
    return for_permit(
        "projected_over_permit",
        ProblemType.OVER_PERMIT,
        severity,
        permit,
        intakes,
        as_of,
        description,
        evidence,
    )


def permit_expiry(
    permit: Permit,
    intakes: Sequence[Intake],
    withdrawn_since_expiry_m3: Mapping[str, Decimal],
    as_of: date,
    th: Thresholds,
) -> list[Finding]:
    """Withdrawing after the permit expired (alert); a warning in the last days before it expires."""
    if as_of > permit.valid_to:
        withdrawing = [i for i in intakes if withdrawn_since_expiry_m3.get(i.code, Decimal(0)) > 0]
        if not withdrawing:
            return []
        after = sum((withdrawn_since_expiry_m3[i.code] for i in withdrawing), Decimal(0))
        return for_permit(
            "permit_expired",
            ProblemType.PERMIT_EXPIRED,
            Severity.ALERT,
            permit,
            withdrawing,
            as_of,
            f"取水许可证{permit.permit_no}已于{permit.valid_to}到期，到期后仍取水{after}m³",
            {"valid_to": permit.valid_to.isoformat(), "withdrawn_since_expiry_m3": str(after)},
            {
                i.code: {"withdrawn_since_expiry_m3": str(withdrawn_since_expiry_m3[i.code])}
                for i in withdrawing
            },
        )
    if permit.valid_to - as_of <= timedelta(days=th.expiry_warning_days):
        days = (permit.valid_to - as_of).days
        return for_permit(
            "permit_expiring",
            ProblemType.PERMIT_EXPIRED,
            Severity.WARNING,
            permit,
            intakes,
            as_of,
            f"取水许可证{permit.permit_no}将于{permit.valid_to}到期（剩余{days}天），请及时办理延续",
            {"valid_to": permit.valid_to.isoformat(), "days_left": days},
        )
    return []


def unpermitted(intake: Intake, withdrawn_m3: Decimal, since: date, as_of: date) -> list[Finding]:
    """Withdrawing with no permit, or from an intake registered as decommissioned (报废)."""
    if withdrawn_m3 <= 0:
        return []
    evidence = {"withdrawn_m3": str(withdrawn_m3), "since": since.isoformat()}
    findings = []
    if intake.permit_no is None:
        findings.append(
            Finding(
                "no_permit",
                ProblemType.UNAUTHORIZED,
                Severity.ALERT,
                intake.code,
                as_of,
                f"取水口{intake.code}无取水许可证，自{since}起计量取水{withdrawn_m3}m³",
                evidence,
            )
        )
    if intake.status is ConstructionStatus.DECOMMISSIONED:
        findings.append(
            Finding(
                "decommissioned_withdrawal",
                ProblemType.UNAUTHORIZED,
                Severity.ALERT,
                intake.code,
                as_of,
                f"取水口{intake.code}已登记为报废，自{since}起仍计量取水{withdrawn_m3}m³",
                evidence,
                intake.permit_no,
            )
        )
    return findings


def online_monitoring_missing(
    permit: Permit,
    intakes: Sequence[Intake],
    active_meters: Mapping[str, Sequence[Meter]],
    as_of: date,
    th: Thresholds,
) -> list[Finding]:
    """Surface-water permits ≥ 50万 m³/yr and groundwater permits ≥ 5万 m³/yr need online-capable
    metering: an intake with no meter is a finding, and so is each of its meters that cannot report."""
    findings = []
    for intake in intakes:
        limit = (
            th.online_required_groundwater_m3
            if intake.source_type.is_groundwater
            else th.online_required_surface_m3
        )
        if permit.annual_volume_m3 < limit:
            continue
        water = "地下水" if intake.source_type.is_groundwater else "地表水"
        meters: Sequence[Meter | None] = active_meters.get(intake.code) or [None]
        for meter in meters:
            if meter is not None and meter.online_capable:
                continue
            what = "未安装计量设施" if meter is None else f"计量设施{meter.meter_id}不能在线监测"
            findings.append(
                Finding(
                    "online_monitoring_missing",
                    ProblemType.METERING,
                    Severity.ALERT,
                    intake.code,
                    as_of,
                    f"许可水量{wan(permit.annual_volume_m3)}万m³（{water}应不低于{wan(limit)}万m³即实现在线监测），{what}",
                    {
                        "permitted_m3": str(permit.annual_volume_m3),
                        "required_from_m3": str(limit),
                        "meter_id": meter.meter_id if meter else "",
                        "online_capable": bool(meter and meter.online_capable),
                    },
                    permit.permit_no,
                    meter.meter_id if meter else None,
                )
            )
    return findings
