"""The monitoring package's one module that touches the database: the findings ledger."""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from anomaly import sweep
from anomaly.annual import AnnualVolume, MonthMeasured, annual_volume
from anomaly.findings import Finding
from anomaly.ledger import (
    LedgerError,
    OpenFinding,
    State,
    SweepPlan,
    check_closing,
    check_rectifying,
    plan_sweep,
)
from anomaly.meter_rules import MeterDay, TotalizerEvent
from anomaly.status import MeterStatus, Observed, changes, completeness, judge, online_share
from anomaly.sweep import Snapshot
from anomaly.thresholds import Thresholds
from devices import queries as dq
from devices.calibration import CalibrationPeriods
from devices.model import Intake, Meter, Permit

Conn = psycopg.Connection[Any]
SWEEP_LOCK = 0x66696E64  # "find": one sweep writes the ledger at a time, however many monitors run

INSERT_FINDINGS = """
INSERT INTO findings (rule, problem, severity, intake_code, permit_no, meter_id, description, evidence,
                      first_detected, last_confirmed)
SELECT r, p, s, i, pn, m, d, e, day, day
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::jsonb[],
            %s::date[]) AS u(r, p, s, i, pn, m, d, e, day)
RETURNING id, intake_code, rule"""
INSERT_EVENTS = """
INSERT INTO finding_events (finding_id, at, actor, action, details)
SELECT id, %s, %s, %s, details FROM unnest(%s::bigint[], %s::jsonb[]) AS u(id, details)"""
OPEN_FINDINGS = """
SELECT id, rule, intake_code, state, severity, description, evidence, last_confirmed
FROM findings WHERE state <> 'closed'"""
UPDATE_FINDING = """
UPDATE findings SET severity = %s, description = %s, evidence = %s, last_confirmed = %s,
                    permit_no = %s, meter_id = %s
WHERE id = %s"""
RESOLVE_FINDING = """
UPDATE findings SET state = 'closed', closed_on = %s, closed_by = 'system',
                    close_note = '条件已消除（自动销号）: the condition cleared'
WHERE id = %s"""
INSERT_EVENT = (
    "INSERT INTO finding_events (finding_id, at, actor, action, details) VALUES (%s, %s, %s, %s, %s)"
)
STATE_OF = "SELECT state FROM findings WHERE id = %s FOR UPDATE"
RECTIFY = (
    "UPDATE findings SET state = 'rectifying', measure = %s, responsible = %s, deadline = %s WHERE id = %s"
)
CLOSE = "UPDATE findings SET state = 'closed', closed_on = %s, closed_by = %s, close_note = %s WHERE id = %s"
LIST = """
SELECT id, state, problem, severity, rule, intake_code, permit_no, meter_id, description, first_detected,
       last_confirmed, measure, responsible, deadline, closed_on, closed_by, close_note
FROM findings
WHERE (%(state)s::text IS NULL OR state = %(state)s) AND (%(problem)s::text IS NULL OR problem = %(problem)s)
  AND (%(intake)s::text IS NULL OR intake_code = %(intake)s)
ORDER BY first_detected, id"""
LIST_COLUMNS = [
    "id",
    "state",
    "problem",
    "severity",
    "rule",
    "intake_code",
    "permit_no",
    "meter_id",
    "description",
    "first_detected",
    "last_confirmed",
    "measure",
    "responsible",
    "deadline",
    "closed_on",
    "closed_by",
    "close_note",
]
HISTORY = "SELECT at, actor, action, details FROM finding_events WHERE finding_id = %s ORDER BY at, id"


def load_open(conn: Conn) -> dict[tuple[str, str], OpenFinding]:
    rows = conn.execute(OPEN_FINDINGS).fetchall()
    found = [
        OpenFinding(i, rule, intake, State(state), sev, desc, ev, confirmed)
        for i, rule, intake, state, sev, desc, ev, confirmed in rows
    ]
    return {f.key: f for f in found}


def _details(finding: Finding) -> Jsonb:
    return Jsonb(
        {
            "severity": str(finding.severity),
            "description": finding.description,
            "evidence": dict(finding.evidence),
        }
    )


def _finding_row(f: Finding) -> tuple[Any, ...]:
    return (
        f.rule,
        str(f.problem),
        str(f.severity),
        f.intake_code,
        f.permit_no,
        f.meter_id,
        f.description,
        Jsonb(dict(f.evidence)),
        f.detected_on,
    )


def apply_sweep(conn: Conn, plan: SweepPlan, now: datetime) -> dict[str, int]:
    """Write a sweep's plan in one transaction, with an event for every change."""
    with conn.transaction(), conn.cursor() as cur:
        if plan.create:  # set-based: a county's first sweep may open tens of thousands of findings
            columns = [list(c) for c in zip(*(_finding_row(f) for f in plan.create), strict=True)]
            ids = {(i, r): n for n, i, r in cur.execute(INSERT_FINDINGS, columns).fetchall()}
            cur.execute(
                INSERT_EVENTS,
                (
                    now,
                    "system",
                    "detected",
                    [ids[f.key] for f in plan.create],
                    [_details(f) for f in plan.create],
                ),
            )
        for finding_id, f in plan.update:
            cur.execute(
                UPDATE_FINDING,
                (
                    str(f.severity),
                    f.description,
                    Jsonb(dict(f.evidence)),
                    f.detected_on,
                    f.permit_no,
                    f.meter_id,
                    finding_id,
                ),
            )
            cur.execute(INSERT_EVENT, (finding_id, now, "system", "updated", _details(f)))
        for held in plan.resolve:
            cur.execute(RESOLVE_FINDING, (now, held.id))
            cur.execute(INSERT_EVENT, (held.id, now, "system", "resolved", Jsonb({"rule": held.rule})))
    return {"created": len(plan.create), "updated": len(plan.update), "resolved": len(plan.resolve)}


def sweep_lock(conn: Conn) -> bool:
    """Take the ledger's sweep lock for this session; False when another monitor holds it."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (SWEEP_LOCK,)).fetchone()
    return bool(row and row[0])


def _state(conn: Conn, finding_id: int) -> State:
    row = conn.execute(STATE_OF, (finding_id,)).fetchone()
    if row is None:
        raise LedgerError(f"no finding {finding_id}")
    return State(row[0])


def start_rectifying(
    conn: Conn, finding_id: int, measure: str, responsible: str, deadline: date, actor: str, now: datetime
) -> None:
    with conn.transaction():
        check_rectifying(_state(conn, finding_id), measure, responsible)
        conn.execute(RECTIFY, (measure.strip(), responsible.strip(), deadline, finding_id))
        conn.execute(
            INSERT_EVENT,
            (
                finding_id,
                now,
                actor,
                "rectifying",
                Jsonb({"measure": measure, "responsible": responsible, "deadline": deadline.isoformat()}),
            ),
        )


def close_finding(conn: Conn, finding_id: int, note: str, actor: str, now: datetime) -> None:
    with conn.transaction():
        check_closing(_state(conn, finding_id), note, actor)
        conn.execute(CLOSE, (now, actor.strip(), note.strip(), finding_id))
        conn.execute(INSERT_EVENT, (finding_id, now, actor, "closed", Jsonb({"note": note})))


def list_findings(
    conn: Conn, state: str | None = None, problem: str | None = None, intake: str | None = None
) -> list[dict[str, Any]]:
    rows = conn.execute(LIST, {"state": state, "problem": problem, "intake": intake}).fetchall()
    return [dict(zip(LIST_COLUMNS, row, strict=True)) for row in rows]


def history(conn: Conn, finding_id: int) -> list[dict[str, Any]]:
    return [
        {"at": at, "actor": actor, "action": action, "details": details}
        for at, actor, action, details in conn.execute(HISTORY, (finding_id,)).fetchall()
    ]


# --- the sweep's snapshot --------------------------------------------------------------------------------
MEASURED_DAY = "(method = 'metered' OR (flags && '{gap}' AND NOT flags && '{reset}'))"
# Per meter and month (the caller maps meters to intakes): grouping without the join is ~40 % faster.
MONTHS = f"""
SELECT meter_id, date_trunc('month', day)::date AS month, count(*) FILTER (WHERE {MEASURED_DAY}),
       coalesce(sum(volume_m3) FILTER (WHERE {MEASURED_DAY}), 0), sum(volume_m3)
FROM daily_volumes WHERE day BETWEEN %(first)s AND %(last)s
GROUP BY 1, 2"""
LAST_SEEN = "SELECT meter_id, last_received_at FROM meter_state WHERE last_received_at IS NOT NULL"
RECENT_RATE = """
SELECT m.intake_code, sum(d.volume_m3) / %(days)s
FROM daily_volumes d JOIN meters m ON m.meter_id = d.meter_id
WHERE d.day > %(as_of)s::date - %(days)s AND d.day <= %(as_of)s GROUP BY 1"""
SINCE_EXPIRY = """
SELECT i.code, sum(d.volume_m3)
FROM permits p JOIN intakes i ON i.permit_no = p.permit_no JOIN meters m ON m.intake_code = i.code
JOIN daily_volumes d ON d.meter_id = m.meter_id AND d.day > p.valid_to AND d.day <= %(as_of)s
                     AND d.day > %(as_of)s::date - 400
WHERE p.valid_to < %(as_of)s
GROUP BY 1 HAVING sum(d.volume_m3) > 0"""
RESETS = (
    "SELECT meter_id, ts, kind, total_before, total_after FROM meter_events WHERE kind = 'reset' AND ts >= %s"
)
RECENT_DAYS = """
SELECT meter_id, day, volume_m3, coverage, coalesce(flow_m3 > 0, false), flow_m3
FROM daily_volumes WHERE day > %(as_of)s::date - %(days)s AND day <= %(as_of)s
ORDER BY meter_id, day"""
# A device clock ahead of the collector's shows as readings refused for a time in the future (the codec
# says by how much); a clock behind cannot be told from a late delivery, so it is not judged.
CLOCK_AHEAD = """
SELECT split_part(topic, '/', 2), max(substring(message FROM 'is ([0-9]+) s ahead')::integer)
FROM rejected_messages WHERE reason = 'ts_in_future' AND received_at >= %s
GROUP BY 1"""


def month_sums(
    conn: Conn, first: date, last: date, intake_of: dict[str, str]
) -> dict[tuple[str, date], list[Any]]:
    """Per intake and month: [measured days, measured volume, all volume] (a replaced and a replacing
    meter in the same month add up)."""
    sums: dict[tuple[str, date], list[Any]] = {}
    for meter_id, month, days, measured, volume in conn.execute(MONTHS, {"first": first, "last": last}):
        slot = sums.setdefault((intake_of[meter_id], month), [0, Decimal(0), Decimal(0)])
        slot[0] += days
        slot[1] += measured
        slot[2] += volume
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
    for (code, month), (measured_days, measured, volume) in sorted(sums.items()):
        if month.year == as_of.year:
            ytd_m3[code] += volume
            ytd_months[code].append(MonthMeasured(month.month, measured_days, measured))
        else:
            month_end = date(month.year, month.month, calendar.monthrange(month.year, month.month)[1])
            earlier[code][month.year][month_end] = volume
    resets: dict[str, list[TotalizerEvent]] = defaultdict(list)
    for meter_id, ts, kind, before, after in conn.execute(
        RESETS, (datetime.combine(year_start, time.min, ZoneInfo(zone)),)
    ):
        resets[meter_id].append(TotalizerEvent(ts, kind, before, after))
    recent: dict[str, list[MeterDay]] = defaultdict(list)
    for meter_id, day, volume, coverage, flowing, flow in conn.execute(
        RECENT_DAYS, {"as_of": as_of, "days": 7}
    ):
        recent[meter_id].append(MeterDay(day, volume, coverage, flowing, flow))
    clock_ahead = {
        m: timedelta(seconds=s)
        for m, s in conn.execute(CLOCK_AHEAD, (now - timedelta(days=1),))
        if s is not None
    }
    return Snapshot(
        as_of=as_of,
        now=now,
        permits=permits,
        intakes=intakes,
        active_meters={m.intake_code: m for m in meters if m.is_active},
        last_calibrated=dict(conn.execute(dq.LAST_CALIBRATIONS).fetchall()),
        last_seen=dict(conn.execute(LAST_SEEN).fetchall()),
        ytd_m3=dict(ytd_m3),
        ytd_months=dict(ytd_months),
        earlier_months={c: [years[y] for y in sorted(years)] for c, years in earlier.items()},
        recent_rate=dict(conn.execute(RECENT_RATE, {"as_of": as_of, "days": recent_days}).fetchall()),
        since_expiry_m3=dict(conn.execute(SINCE_EXPIRY, {"as_of": as_of}).fetchall()),
        resets=dict(resets),
        recent_days=dict(recent),
        clock_ahead=clock_ahead,
    )


def run_sweep(
    conn: Conn, snapshot: Snapshot, periods: CalibrationPeriods, th: Thresholds
) -> dict[str, int] | None:
    """Evaluate every rule and bring the ledger up to date; None when another sweep holds the lock."""
    if not sweep_lock(conn):
        return None
    try:
        found = sweep.evaluate(snapshot, periods, th)
        counts = apply_sweep(conn, plan_sweep(load_open(conn), found, sweep.RULES), snapshot.now)
        return {**counts, "findings": len(found)}
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (SWEEP_LOCK,))


def annual_by_intake(conn: Conn, years: list[int], today: date) -> dict[str, list[AnnualVolume]]:
    """Each intake's volume and 数据获取方式 for ``years`` (the current year up to ``today``)."""
    intakes = [dq.record_from_row(Intake, r) for r in conn.execute(dq.select_all(Intake))]
    periods: dict[str, list[tuple[date, date | None]]] = defaultdict(list)
    intake_of: dict[str, str] = {}
    for meter in (dq.record_from_row(Meter, r) for r in conn.execute(dq.select_all(Meter))):
        intake_of[meter.meter_id] = meter.intake_code
        periods[meter.intake_code].append((meter.installed_on, meter.removed_on))
    measured: dict[tuple[str, int], list[MonthMeasured]] = defaultdict(list)
    last = min(date(years[-1], 12, 31), today)
    for (code, month), (days, volume, _all) in sorted(
        month_sums(conn, date(years[0], 1, 1), last, intake_of).items()
    ):
        measured[(code, month.year)].append(MonthMeasured(month.month, days, volume))
    return {
        i.code: [
            annual_volume(
                y, today, measured.get((i.code, y), []), periods.get(i.code, []), i.design_daily_capacity_m3
            )
            for y in years
        ]
        for i in intakes
    }


# --- meter status ------------------------------------------------------------------------------------------
STATUS_LOCK = 0x73746174  # "stat"
STATUS_INPUT = """
SELECT m.meter_id, m.installed_on, m.report_interval_s, s.last_received_at,
       CASE WHEN s.last_status = 'offline' THEN s.last_status_at END, s.status
FROM meters m LEFT JOIN meter_state s ON s.meter_id = m.meter_id
WHERE m.removed_on IS NULL"""
INSERT_CHANGE = """
INSERT INTO meter_status_changes (meter_id, at, status, reason) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"""
UPSERT_STATUS = """
INSERT INTO meter_state (meter_id, status, status_since) VALUES (%s, %s, %s)
ON CONFLICT (meter_id) DO UPDATE SET status = EXCLUDED.status, status_since = EXCLUDED.status_since,
                                     updated_at = now()"""
FLEET = """
SELECT i.county, coalesce(s.status, 'never_reported'), count(*)
FROM meters m JOIN intakes i ON i.code = m.intake_code LEFT JOIN meter_state s ON s.meter_id = m.meter_id
WHERE m.removed_on IS NULL AND i.status <> 'decommissioned'
GROUP BY 1, 2 ORDER BY 1, 2"""
TRANSITIONS = """
SELECT at, status FROM meter_status_changes WHERE meter_id = %s AND at < %s ORDER BY at"""
DAYS_READ = "SELECT day, readings FROM daily_volumes WHERE meter_id = %s AND day BETWEEN %s AND %s"
INTERVAL = "SELECT report_interval_s FROM meters WHERE meter_id = %s"


def run_status_sweep(conn: Conn, now: datetime, zone: str) -> dict[str, int] | None:
    """Judge every active meter's status and record the transitions; None when another sweep runs."""
    if not conn.execute("SELECT pg_try_advisory_lock(%s)", (STATUS_LOCK,)).fetchone()[0]:  # type: ignore[index]
        return None
    try:
        tz = ZoneInfo(zone)
        current: dict[str, MeterStatus | None] = {}
        observed: dict[str, Observed] = {}
        for meter_id, installed, interval, received, will, status in conn.execute(STATUS_INPUT).fetchall():
            current[meter_id] = MeterStatus(status) if status else None
            observed[meter_id] = judge(
                now, datetime.combine(installed, time.min, tz), timedelta(seconds=interval), received, will
            )
        moves = changes(current, observed)
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                INSERT_CHANGE,
                [(c.meter_id, c.observed.since, str(c.observed.status), c.observed.reason) for c in moves],
            )
            cur.executemany(
                UPSERT_STATUS, [(c.meter_id, str(c.observed.status), c.observed.since) for c in moves]
            )
        counts = {str(s): 0 for s in MeterStatus}
        for o in observed.values():
            counts[str(o.status)] += 1
        return {**counts, "changed": len(moves)}
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (STATUS_LOCK,))


def fleet_summary(conn: Conn) -> list[dict[str, Any]]:
    """Per county: how many active meters are online, offline, never reported."""
    table: dict[str, dict[str, Any]] = {}
    for county, status, n in conn.execute(FLEET).fetchall():
        row = table.setdefault(county, {"county": county, **{str(s): 0 for s in MeterStatus}})
        row[status] = n
    for row in table.values():
        row["total"] = sum(row[str(s)] for s in MeterStatus)
    return list(table.values())


def meter_days(conn: Conn, meter_id: str, since: date, until: date, zone: str) -> list[dict[str, Any]]:
    """Per day: the share of it the meter was online, and 到报率 (readings received ÷ expected)."""
    tz = ZoneInfo(zone)
    row = conn.execute(INTERVAL, (meter_id,)).fetchone()
    if row is None:
        raise LedgerError(f"no meter {meter_id}")
    interval = timedelta(seconds=row[0])
    end_ts = datetime.combine(until + timedelta(days=1), time.min, tz)
    transitions = [(at, MeterStatus(s)) for at, s in conn.execute(TRANSITIONS, (meter_id, end_ts)).fetchall()]
    readings = dict(conn.execute(DAYS_READ, (meter_id, since, until)).fetchall())
    out = []
    day = since
    while day <= until:
        start = datetime.combine(day, time.min, tz)
        stop = datetime.combine(day + timedelta(days=1), time.min, tz)
        out.append(
            {
                "day": day.isoformat(),
                "online_share": online_share(transitions, start, stop),
                "readings": readings.get(day, 0),
                "completeness": completeness(readings.get(day, 0), interval, stop - start),
            }
        )
        day += timedelta(days=1)
    return out
