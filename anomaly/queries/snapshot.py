"""What a compliance sweep reads (a few set-based queries), the sweep itself, annual volumes."""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from anomaly import sweep
from anomaly.annual import AnnualVolume, MonthMeasured, annual_volume
from anomaly.ledger import (
    plan_sweep,
)
from anomaly.meter_rules import AlarmSeen, MeterDay, TotalizerEvent
from anomaly.queries import signoffs
from anomaly.queries.ledger import SWEEP_LOCK, apply_sweep, load_open, sweep_lock
from anomaly.signoff import signed_view
from anomaly.sweep import Snapshot
from anomaly.thresholds import Thresholds
from devices import queries as dq
from devices.calibration import CalibrationPeriods
from devices.model import Intake, Meter, Permit

Conn = psycopg.Connection[Any]
# Per meter and month (the caller maps meters to intakes): grouping without the join is ~40 % faster.
# What a day counts as is the table's own rule (daily_volumes.known / credible / reported_m3, 0014).
MONTHS = """
SELECT meter_id, date_trunc('month', day)::date AS month, count(*) FILTER (WHERE known),
       coalesce(sum(reported_m3) FILTER (WHERE known), 0), sum(reported_m3),
       count(*) FILTER (WHERE credible), coalesce(sum(reported_m3) FILTER (WHERE credible), 0),
       count(*) FILTER (WHERE correction_id IS NOT NULL), count(*) FILTER (WHERE flags && '{implausible,stuck}')
FROM daily_volumes WHERE day BETWEEN %(first)s AND %(last)s
GROUP BY 1, 2"""
# Whole months from the monthly rollup (its trigger sums the same columns).
CLOSED_MONTHS = """
SELECT meter_id, month, measured_days, measured_m3, volume_m3, credible_days, credible_m3, corrected_days,
       flagged_days
FROM monthly_volumes WHERE month >= %(first)s AND month < %(last)s AND days > 0"""
LAST_SEEN = "SELECT meter_id, last_received_at FROM meter_state WHERE last_received_at IS NOT NULL"
# The recent daily rate from credible days only (metered in full, nothing flagged, not corrected).
RECENT_RATE = """
SELECT m.intake_code, sum(d.reported_m3) / count(DISTINCT d.day)
FROM daily_volumes d JOIN meters m ON m.meter_id = d.meter_id
WHERE d.day > %(as_of)s::date - %(days)s AND d.day <= %(as_of)s AND d.credible GROUP BY 1"""
SINCE_EXPIRY = """
SELECT i.code, sum(d.reported_m3)
FROM permits p JOIN intakes i ON i.permit_no = p.permit_no JOIN meters m ON m.intake_code = i.code
JOIN daily_volumes d ON d.meter_id = m.meter_id AND d.day > p.valid_to AND d.day <= %(as_of)s
                     AND d.day > %(as_of)s::date - 400
WHERE p.valid_to < %(as_of)s
GROUP BY 1 HAVING sum(d.reported_m3) > 0"""
RESETS = (
    "SELECT meter_id, ts, kind, total_before, total_after FROM meter_events WHERE kind = 'reset' AND ts >= %s"
)
# The meter-fault rules (stuck, over capacity, flow mismatch) look at the last two weeks of days.
METER_RULE_DAYS = 14
RECENT_DAYS = """
SELECT meter_id, day, volume_m3, coverage, coalesce(flow_m3 > 0, false), flow_m3, flags && '{implausible}'
FROM daily_volumes WHERE day > %(as_of)s::date - %(days)s AND day <= %(as_of)s
ORDER BY meter_id, day"""
# A device clock ahead of the collector's shows as readings refused for a time in the future (the codec
# records by how much); a clock behind cannot be told from a late delivery, so it is not judged.
CLOCK_AHEAD = """
SELECT meter_id, max(clock_ahead_s)
FROM rejected_messages WHERE reason = 'ts_in_future' AND received_at >= %s AND meter_id IS NOT NULL
GROUP BY 1"""

# The alarms readings of the last day carried (a partial index keeps this to the few that carry any).
ALARMS = """
SELECT meter_id, alarm, count(*), max(ts)
FROM readings CROSS JOIN LATERAL unnest(alarms) AS alarm
WHERE ts >= %s AND cardinality(alarms) > 0
GROUP BY 1, 2"""


@dataclass
class MonthSum:
    """One intake's month (its meters added up: a replaced and a replacing meter in one month)."""

    known_days: int = 0
    known_m3: Decimal = Decimal(0)
    reported_m3: Decimal = Decimal(0)  # every day as reports show it (daily_volumes.reported_m3)
    credible_days: int = 0
    credible_m3: Decimal = Decimal(0)
    corrected_days: int = 0
    flagged_days: int = 0

    def measured(self, month: int) -> MonthMeasured:
        return MonthMeasured(
            month,
            self.known_days,
            self.known_m3,
            self.credible_days,
            self.credible_m3,
            self.corrected_days,
            self.flagged_days,
        )


def month_sums(
    conn: Conn, first: date, last: date, intake_of: dict[str, str]
) -> dict[tuple[str, date], MonthSum]:
    """Per intake and month, from the monthly rollup for whole months and the days of the last one."""
    assert first.day == 1, "month sums start on a month's first day"
    sums: dict[tuple[str, date], MonthSum] = {}
    open_month = last.replace(day=1)  # before it, whole months from the rollup; in it, days up to ``last``
    rows = [
        *conn.execute(CLOSED_MONTHS, {"first": first, "last": open_month}),
        *conn.execute(MONTHS, {"first": max(first, open_month), "last": last}),
    ]
    for meter_id, month, known, known_m3, reported, credible, credible_m3, corrected, flagged in rows:
        slot = sums.setdefault((intake_of[meter_id], month), MonthSum())
        slot.known_days += known
        slot.known_m3 += known_m3
        slot.reported_m3 += reported
        slot.credible_days += credible
        slot.credible_m3 += credible_m3
        slot.corrected_days += corrected
        slot.flagged_days += flagged
    return sums


def load_snapshot(conn: Conn, as_of: date, now: datetime, zone: str, recent_days: int = 30) -> Snapshot:
    """Everything a sweep reads, in a few set-based queries (bounded by date: no full scans of readings)."""
    permits = {
        p.permit_no: p for p in (dq.record_from_row(Permit, r) for r in conn.execute(dq.select_all(Permit)))
    }
    intakes = [dq.record_from_row(Intake, r) for r in conn.execute(dq.select_all(Intake))]
    meters = [dq.record_from_row(Meter, r) for r in conn.execute(dq.select_all(Meter))]
    year_start = date(as_of.year, 1, 1)
    ytd_m3: dict[str, Decimal] = defaultdict(Decimal)
    ytd_months: dict[str, list[MonthMeasured]] = defaultdict(list)
    earlier: dict[str, dict[int, dict[date, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    intake_of = {m.meter_id: m.intake_code for m in meters}
    sums = month_sums(conn, date(as_of.year - 3, 1, 1), as_of, intake_of)
    for (code, month), got in sums.items():
        if month.year == as_of.year:
            ytd_m3[code] += got.reported_m3
            ytd_months[code].append(got.measured(month.month))
        else:
            month_end = date(month.year, month.month, calendar.monthrange(month.year, month.month)[1])
            earlier[code][month.year][month_end] = got.reported_m3
    resets: dict[str, list[TotalizerEvent]] = defaultdict(list)
    for meter_id, ts, kind, before, after in conn.execute(
        RESETS, (datetime.combine(year_start, time.min, ZoneInfo(zone)),)
    ):
        resets[meter_id].append(TotalizerEvent(ts, kind, before, after))
    recent: dict[str, list[MeterDay]] = defaultdict(list)
    for meter_id, day, volume, coverage, flowing, flow, implausible in conn.execute(
        RECENT_DAYS, {"as_of": as_of, "days": METER_RULE_DAYS}
    ):
        recent[meter_id].append(MeterDay(day, volume, coverage, flowing, flow, implausible))
    clock_ahead = {
        m: timedelta(seconds=s)
        for m, s in conn.execute(CLOCK_AHEAD, (now - timedelta(days=1),))
        if s is not None
    }
    alarms: dict[str, list[AlarmSeen]] = defaultdict(list)
    for meter_id, alarm, count, last_ts in conn.execute(ALARMS, (now - timedelta(days=1),)):
        alarms[meter_id].append(AlarmSeen(alarm, count, last_ts))
    return Snapshot(
        as_of=as_of,
        now=now,
        permits=permits,
        intakes=intakes,
        active_meters=_in_service(meters, as_of),
        last_calibrated=dict(conn.execute(dq.LAST_CALIBRATIONS).fetchall()),
        last_seen=dict(conn.execute(LAST_SEEN).fetchall()),
        ytd_m3=dict(ytd_m3),
        ytd_months={c: sorted(months, key=lambda m: m.month) for c, months in ytd_months.items()},
        earlier_months={c: [years[y] for y in sorted(years)] for c, years in earlier.items()},
        recent_rate=dict(conn.execute(RECENT_RATE, {"as_of": as_of, "days": recent_days}).fetchall()),
        since_expiry_m3=dict(conn.execute(SINCE_EXPIRY, {"as_of": as_of}).fetchall()),
        resets=dict(resets),
        recent_days=dict(recent),
        clock_ahead=clock_ahead,
        alarms=dict(alarms),
    )


def _in_service(meters: list[Meter], as_of: date) -> dict[str, list[Meter]]:
    """Each intake's meters in service on ``as_of`` (one per pump or outlet). On a swap day the meter
    being replaced is still in service too: a removed meter counts only while no meter installed
    later on the same intake is, so a swap is not taken for a second pump."""
    by_intake: dict[str, list[Meter]] = defaultdict(list)
    for meter in sorted(meters, key=lambda m: (m.installed_on, m.meter_id)):
        if meter.in_service_on(as_of):
            by_intake[meter.intake_code].append(meter)
    for code, found in by_intake.items():
        active = [m for m in found if m.removed_on is None]
        if active and len(active) < len(found):  # a swap on this day: the replacing meters stand
            by_intake[code] = active
    return dict(by_intake)


def run_sweep(
    conn: Conn, snapshot: Snapshot, periods: CalibrationPeriods, th: Thresholds
) -> dict[str, int] | None:
    """Evaluate every rule and bring the ledger up to date; None when another sweep holds the lock."""
    if not sweep_lock(conn):
        return None
    try:
        found = sweep.evaluate(snapshot, periods, th)
        counts = apply_sweep(conn, plan_sweep(load_open(conn, sweep.RULES), found, sweep.RULES), snapshot.now)
        return {**counts, "findings": len(found)}
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (SWEEP_LOCK,))


def annual_by_intake(
    conn: Conn, years: list[int], today: date, signed: bool = True
) -> dict[str, list[AnnualVolume]]:
    """Each intake's volume and 数据获取方式 for ``years`` (the current year up to ``today``); a year
    signed off shows its signed value beside the computed one (``signed=False``: as computed)."""
    computed = _computed_annual(conn, years, today)
    return signed_view(computed, signoffs.current(conn)) if signed else computed


# Readings entered by hand per intake and year (人工抄表): a reading's local day is the stored day
# whose first and last readings enclose it (no time zone arithmetic here).
MANUAL_READINGS = """
SELECT m.intake_code, extract(year FROM d.day)::int, count(*)
FROM manual_readings mr JOIN meters m ON m.meter_id = mr.meter_id
JOIN daily_volumes d ON d.meter_id = mr.meter_id AND mr.ts BETWEEN d.first_ts AND d.last_ts
WHERE d.day BETWEEN %(first)s AND %(last)s
GROUP BY 1, 2"""


def _computed_annual(conn: Conn, years: list[int], today: date) -> dict[str, list[AnnualVolume]]:
    intakes = [dq.record_from_row(Intake, r) for r in conn.execute(dq.select_all(Intake))]
    periods: dict[str, list[tuple[date, date | None]]] = defaultdict(list)
    intake_of: dict[str, str] = {}
    for meter in (dq.record_from_row(Meter, r) for r in conn.execute(dq.select_all(Meter))):
        intake_of[meter.meter_id] = meter.intake_code
        periods[meter.intake_code].append((meter.installed_on, meter.removed_on))
    measured: dict[tuple[str, int], list[MonthMeasured]] = defaultdict(list)
    last = min(date(years[-1], 12, 31), today)
    for (code, month), got in sorted(month_sums(conn, date(years[0], 1, 1), last, intake_of).items()):
        measured[(code, month.year)].append(got.measured(month.month))
    span = {"first": date(years[0], 1, 1), "last": last}
    by_hand = {(code, year): n for code, year, n in conn.execute(MANUAL_READINGS, span)}
    return {
        i.code: [
            annual_volume(
                y,
                today,
                measured.get((i.code, y), []),
                periods.get(i.code, []),
                i.design_daily_capacity_m3,
                manual_readings=by_hand.get((i.code, y), 0),
            )
            for y in years
        ]
        for i in intakes
    }


def review_signoffs(conn: Conn, today: date, zone: str) -> int:
    """Record a revision for every signed-off year whose computed volume has moved; how many are new."""
    current = signoffs.current(conn)
    years = sorted({year for _code, year in current if year <= today.year})
    if not years:
        return 0
    computed = _computed_annual(conn, list(range(years[0], years[-1] + 1)), today)
    return signoffs.check_revisions(conn, computed, current, zone)
