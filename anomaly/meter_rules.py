"""Rules about metering (计量设施安装及运维不规范): calibration, silence, totalizer faults, implausible
days, clock skew. Pure functions over plain values; each returns findings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from anomaly.findings import Finding, ProblemType, Severity
from anomaly.thresholds import Thresholds
from devices.model import Intake, Meter, MeterType


@dataclass(frozen=True, slots=True)
class MeterDay:
    """One local day of a meter as the rules need it (from daily_volumes and the day's readings)."""

    day: date
    volume_m3: Decimal
    coverage: float
    flow_reported: bool = False  # some reading of the day reported a flow above zero
    integrated_flow_m3: Decimal | None = None  # the flow readings integrated over the day, if reported
    implausible: bool = False  # the register rose more than the meter could pass (ingest/volumes.py)


@dataclass(frozen=True, slots=True)
class TotalizerEvent:
    ts: datetime
    kind: str  # "reset" or "rollover"
    total_before: Decimal
    total_after: Decimal


def _metering(
    rule: str,
    meter: Meter,
    as_of: date,
    description: str,
    evidence: dict[str, str | int | float],
    severity: Severity = Severity.ALERT,
) -> Finding:
    return Finding(
        rule,
        ProblemType.METERING,
        severity,
        meter.intake_code,
        as_of,
        description,
        evidence,
        meter_id=meter.meter_id,
    )


def calibration_overdue(meter: Meter, due: date, as_of: date) -> list[Finding]:
    if as_of <= due:
        return []
    return [
        _metering(
            "calibration_overdue",
            meter,
            as_of,
            f"计量设施{meter.meter_id}应于{due}前检定，已逾期{(as_of - due).days}天",
            {"due": due.isoformat(), "days_overdue": (as_of - due).days},
        )
    ]


def offline_too_long(
    meter: Meter, last_seen: datetime | None, now: datetime, th: Thresholds
) -> list[Finding]:
    """No reading for longer than the allowed silence (never reported counts from installation)."""
    if last_seen is not None:
        silent = now - last_seen
        since = last_seen.isoformat()
    else:
        silent = now - datetime.combine(meter.installed_on, datetime.min.time(), tzinfo=now.tzinfo)
        since = f"never reported (installed {meter.installed_on})"
    if silent <= th.offline_after:
        return []
    hours = silent.total_seconds() / 3600
    return [
        _metering(
            "meter_offline",
            meter,
            now.date(),
            f"计量设施{meter.meter_id}已{hours:.0f}小时未上报数据（{since}）",
            {"last_seen": since, "silent_hours": round(hours, 1)},
        )
    ]


def totalizer_resets(meter: Meter, events: Sequence[TotalizerEvent], as_of: date) -> list[Finding]:
    """A totalizer that went backwards other than by rolling over: replaced, reset or tampered with."""
    resets = [e for e in events if e.kind == "reset"]
    if not resets:
        return []
    last = max(resets, key=lambda e: e.ts)
    return [
        _metering(
            "totalizer_reset",
            meter,
            as_of,
            f"计量设施{meter.meter_id}累计流量于{last.ts.isoformat()}由{last.total_before}降至"
            f"{last.total_after}m³（共{len(resets)}次），该时段水量无法计量",
            {
                "resets": len(resets),
                "last_at": last.ts.isoformat(),
                "total_before": str(last.total_before),
                "total_after": str(last.total_after),
            },
        )
    ]


def stuck_totalizer(meter: Meter, days: Sequence[MeterDay], as_of: date, th: Thresholds) -> list[Finding]:
    """The totalizer stood still while the meter reported flow, for more than ``stuck_days`` days in a row."""
    run: list[MeterDay] = []
    longest: list[MeterDay] = []
    for day in sorted(days, key=lambda d: d.day):
        if (
            day.volume_m3 == 0
            and day.flow_reported
            and (not run or day.day == run[-1].day + timedelta(days=1))
        ):
            run.append(day)
        else:
            run = [day] if day.volume_m3 == 0 and day.flow_reported else []
        if len(run) > len(longest):
            longest = list(run)
    if len(longest) <= th.stuck_days:
        return []
    return [
        _metering(
            "totalizer_stuck",
            meter,
            as_of,
            f"计量设施{meter.meter_id}自{longest[0].day}至{longest[-1].day}连续{len(longest)}天累计流量不变，"
            "但瞬时流量不为零",
            {"from": longest[0].day.isoformat(), "to": longest[-1].day.isoformat(), "days": len(longest)},
        )
    ]


def over_design_capacity(
    intake: Intake, meter: Meter, days: Sequence[MeterDay], as_of: date
) -> list[Finding]:
    """A day's volume above the intake's design maximum daily capacity (设计日最大取水能力), or a day
    the register rose by more than the meter could pass (flagged implausible by the volume arithmetic,
    whether or not a design capacity is registered)."""
    capacity = intake.design_daily_capacity_m3
    over = [d for d in days if d.implausible or (capacity is not None and d.volume_m3 > capacity)]
    if not over:
        return []
    worst = max(over, key=lambda d: d.volume_m3)
    limit = f"设计日最大取水能力{capacity}m³/d" if capacity is not None else "计量设施可能通过的最大水量"
    return [
        _metering(
            "over_design_capacity",
            meter,
            as_of,
            f"{len(over)}天日取水量超过{limit}，最大{worst.volume_m3}m³（{worst.day}）",
            {
                "days": len(over),
                "worst_day": worst.day.isoformat(),
                "worst_m3": str(worst.volume_m3),
                "capacity_m3_per_day": "" if capacity is None else str(capacity),
                "implausible_days": sum(d.implausible for d in over),
            },
        )
    ]


def flow_mismatch(meter: Meter, days: Sequence[MeterDay], as_of: date, th: Thresholds) -> list[Finding]:
    """On well-covered days, the totalizer's volume and the integrated flow disagree beyond tolerance."""
    tolerance = (
        th.flow_mismatch_open_channel if meter.meter_type is MeterType.OPEN_CHANNEL else th.flow_mismatch_pipe
    )
    bad = []
    for day in days:
        if day.integrated_flow_m3 is None or day.coverage < th.flow_check_min_coverage:
            continue
        larger = max(day.volume_m3, day.integrated_flow_m3)
        if larger > 0 and abs(day.volume_m3 - day.integrated_flow_m3) / larger > tolerance:
            bad.append(day)
    if not bad:
        return []
    first = bad[0]
    assert first.integrated_flow_m3 is not None
    return [
        _metering(
            "flow_mismatch",
            meter,
            as_of,
            f"{len(bad)}天累计水量与瞬时流量积分相差超过{tolerance * 100:.0f}%，如{first.day}："
            f"{first.volume_m3}m³对{first.integrated_flow_m3}m³",
            {"days": len(bad), "tolerance": str(tolerance), "first_day": first.day.isoformat()},
        )
    ]


def clock_skew(meter: Meter, skew: timedelta, as_of: date, th: Thresholds) -> list[Finding]:
    """The meter's clock (device time minus receive time, typically the median) is off by too much."""
    if abs(skew) <= th.clock_skew:
        return []
    seconds = skew.total_seconds()
    direction = "快" if seconds > 0 else "慢"
    return [
        _metering(
            "clock_skew",
            meter,
            as_of,
            f"计量设施{meter.meter_id}时钟{direction}{abs(seconds):.0f}秒（允许{th.clock_skew.total_seconds():.0f}秒）",
            {"skew_s": round(seconds, 1)},
            Severity.WARNING,
        )
    ]


# Alarms a meter or its RTU reports that need someone on site (devices/szy206.py names an RTU's
# alarm bits; an MQTT meter may say the same): the 中文 name for the finding, and how serious.
FAULT_ALARMS: dict[str, tuple[str, Severity]] = {
    "flow_meter_fault": ("流量仪表故障", Severity.ALERT),
    "memory_fault": ("存储器异常", Severity.ALERT),
    "ac_power_off": ("交流电停电", Severity.WARNING),
    "battery_low": ("蓄电池电压低", Severity.WARNING),
    "low_battery": ("蓄电池电压低", Severity.WARNING),
    "box_door_open": ("终端箱门开启", Severity.WARNING),
}


@dataclass(frozen=True, slots=True)
class AlarmSeen:
    alarm: str
    readings: int  # readings of the last day that carried it
    last_ts: datetime


def meter_alarms(meter: Meter, seen: Sequence[AlarmSeen], as_of: date) -> list[Finding]:
    """Readings of the last day carried a fault alarm (a flow-meter fault, a power cut, ...)."""
    faults = sorted((a for a in seen if a.alarm in FAULT_ALARMS), key=lambda a: a.alarm)
    if not faults:
        return []
    severity = (
        Severity.ALERT
        if any(FAULT_ALARMS[a.alarm][1] is Severity.ALERT for a in faults)
        else Severity.WARNING
    )
    evidence: dict[str, str | int | float] = {a.alarm: a.readings for a in faults}
    evidence["last_at"] = max(a.last_ts for a in faults).isoformat()
    what = "、".join(
        f"{FAULT_ALARMS[a.alarm][0]}（{a.readings}次，最近{a.last_ts.isoformat()}）" for a in faults
    )
    return [
        _metering(
            "meter_alarm",
            meter,
            as_of,
            f"计量设施{meter.meter_id}近一天报警：{what}",
            evidence,
            severity,
        )
    ]
