"""One compliance and status sweep over the whole registry: a snapshot in, findings out. Pure.

The snapshot is read by :func:`anomaly.queries.load_snapshot`; the findings go to the ledger
through :func:`anomaly.ledger.plan_sweep`. The rules evaluated here are in RULES.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from anomaly import meter_rules, permit_rules
from anomaly.annual import MonthMeasured
from anomaly.findings import Finding, strongest
from anomaly.meter_rules import AlarmSeen, MeterDay, TotalizerEvent
from anomaly.thresholds import Thresholds
from devices.calibration import CalibrationPeriods, next_due
from devices.model import ConstructionStatus, Intake, Meter, Permit

RULES = (
    "over_permit",
    "projected_over_permit",
    "permit_expired",
    "permit_expiring",
    "no_permit",
    "decommissioned_withdrawal",
    "online_monitoring_missing",
    "calibration_overdue",
    "meter_offline",
    "totalizer_reset",
    "totalizer_stuck",
    "over_design_capacity",
    "flow_mismatch",
    "clock_skew",
    "meter_alarm",
)


@dataclass
class Snapshot:
    """What the sweep needs to know, as of one day."""

    as_of: date
    now: datetime
    permits: dict[str, Permit]
    intakes: list[Intake]
    active_meters: dict[str, list[Meter]]  # intake code -> its active meters (one per pump or outlet)
    last_calibrated: dict[str, date]  # meter id -> last calibration
    last_seen: dict[str, datetime]  # meter id -> last reading received
    ytd_m3: dict[str, Decimal]  # intake code -> volume stored for this year so far (all of it metered)
    ytd_months: dict[str, list[MonthMeasured]]  # intake code -> this year's measured days, by month
    earlier_months: dict[str, list[dict[date, Decimal]]]  # intake code -> earlier years' month volumes
    recent_rate: dict[str, Decimal]  # intake code -> mean daily volume of the recent days
    since_expiry_m3: dict[str, Decimal]  # intake code -> volume withdrawn after its permit expired
    resets: dict[str, list[TotalizerEvent]] = field(default_factory=dict)  # meter id -> this year's resets
    recent_days: dict[str, list[MeterDay]] = field(default_factory=dict)  # meter id -> last days
    clock_ahead: dict[str, timedelta] = field(default_factory=dict)  # meter id -> its clock's lead, last day
    alarms: dict[str, list[AlarmSeen]] = field(default_factory=dict)  # meter id -> alarms of the last day


def _ytd(snapshot: Snapshot, code: str) -> Decimal:
    return snapshot.ytd_m3.get(code, Decimal(0))


def _permit_findings(snapshot: Snapshot, th: Thresholds) -> list[Finding]:
    by_permit: dict[str, list[Intake]] = defaultdict(list)
    for intake in snapshot.intakes:
        if intake.permit_no is not None and intake.permit_no in snapshot.permits:
            by_permit[intake.permit_no].append(intake)
    found: list[Finding] = []
    as_of = snapshot.as_of
    for number, intakes in sorted(by_permit.items()):
        permit = snapshot.permits[number]
        ytd = {i.code: _ytd(snapshot, i.code) for i in intakes}
        found += permit_rules.over_permit(permit, intakes, ytd, as_of)
        total = sum(ytd.values(), Decimal(0))
        earlier = sum_years([snapshot.earlier_months.get(i.code, []) for i in intakes])  # the permit's shape
        rate = sum((snapshot.recent_rate.get(i.code, Decimal(0)) for i in intakes), Decimal(0))
        projected, method = permit_rules.project_annual(total, as_of, earlier, rate, th)
        found += permit_rules.projected_over_permit(permit, intakes, total, projected, method, as_of, th)
        found += permit_rules.permit_expiry(permit, intakes, snapshot.since_expiry_m3, as_of, th)
        found += permit_rules.online_monitoring_missing(
            permit, intakes, {i.code: snapshot.active_meters.get(i.code, []) for i in intakes}, as_of, th
        )
    for intake in snapshot.intakes:
        found += permit_rules.unpermitted(intake, _ytd(snapshot, intake.code), date(as_of.year, 1, 1), as_of)
    return found


def sum_years(per_intake: Sequence[Sequence[Mapping[date, Decimal]]]) -> list[dict[date, Decimal]]:
    years: dict[int, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for intake_years in per_intake:
        for year in intake_years:
            for day, volume in year.items():
                years[day.year][day] += volume
    return [dict(years[y]) for y in sorted(years)]


def _meter_findings(snapshot: Snapshot, periods: CalibrationPeriods, th: Thresholds) -> list[Finding]:
    found: list[Finding] = []
    for intake in snapshot.intakes:
        if intake.status is not ConstructionStatus.DECOMMISSIONED:
            for meter in snapshot.active_meters.get(intake.code, []):
                found += _one_meter(snapshot, intake, meter, periods, th)
    return found


def _one_meter(
    snapshot: Snapshot, intake: Intake, meter: Meter, periods: CalibrationPeriods, th: Thresholds
) -> list[Finding]:
    """The meter rules on one active meter: status, calibration and findings stay per meter."""
    found: list[Finding] = []
    as_of = snapshot.as_of
    found += meter_rules.calibration_overdue(
        meter, next_due(meter, snapshot.last_calibrated.get(meter.meter_id), periods), as_of
    )
    if meter.online_capable:
        found += meter_rules.offline_too_long(meter, snapshot.last_seen.get(meter.meter_id), snapshot.now, th)
    found += meter_rules.totalizer_resets(meter, snapshot.resets.get(meter.meter_id, []), as_of)
    days = snapshot.recent_days.get(meter.meter_id, [])
    found += meter_rules.stuck_totalizer(meter, days, as_of, th)
    found += meter_rules.over_design_capacity(intake, meter, days, as_of)
    found += meter_rules.flow_mismatch(meter, days, as_of, th)
    if meter.meter_id in snapshot.clock_ahead:
        found += meter_rules.clock_skew(meter, snapshot.clock_ahead[meter.meter_id], as_of, th)
    found += meter_rules.meter_alarms(meter, snapshot.alarms.get(meter.meter_id, []), as_of)
    return found


def evaluate(snapshot: Snapshot, periods: CalibrationPeriods, th: Thresholds) -> list[Finding]:
    """Every finding the registry and the stored volumes support today, but those a stronger one
    about the same subject supersedes."""
    return strongest(_permit_findings(snapshot, th) + _meter_findings(snapshot, periods, th))
