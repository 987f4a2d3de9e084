"""Meter status in the database: the status sweep, the fleet summary, a meter's days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from anomaly.ledger import (
    LedgerError,
)
from anomaly.status import (
    MeterStatus,
    Observed,
    changes,
    completeness,
    judge,
    observed_share,
    online_share,
)
from infra.calendar import day_bounds, day_start

Conn = psycopg.Connection[Any]
STATUS_LOCK = 0x73746174  # "stat"
STATUS_INPUT = """
SELECT m.meter_id, m.installed_on, m.report_interval_s, s.last_received_at,
       CASE WHEN s.last_status = 'offline' THEN s.last_status_at END, s.status
FROM meters m LEFT JOIN meter_state s ON s.meter_id = m.meter_id
WHERE meter_in_service(m.removed_on, %(today)s)"""
INSERT_CHANGE = """
INSERT INTO meter_status_changes (meter_id, at, status, reason) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"""
UPSERT_STATUS = """
INSERT INTO meter_state (meter_id, status, status_since) VALUES (%s, %s, %s)
ON CONFLICT (meter_id) DO UPDATE SET status = EXCLUDED.status, status_since = EXCLUDED.status_since,
                                     updated_at = now()"""
FLEET = """
SELECT i.county, coalesce(s.status, 'never_reported'), count(*)
FROM meters m JOIN intakes i ON i.code = m.intake_code LEFT JOIN meter_state s ON s.meter_id = m.meter_id
WHERE meter_in_service(m.removed_on, current_date) AND i.status <> 'decommissioned'
  AND in_scope(i.division_code, %(scope)s)
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
        today = now.astimezone(tz).date()
        rows = conn.execute(STATUS_INPUT, {"today": today}).fetchall()
        for meter_id, installed, interval, received, will, status in rows:
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


def fleet_summary(conn: Conn, scope: str | None = None) -> list[dict[str, Any]]:
    """Per county (of division ``scope``; None: all): how many active meters are online, offline,
    never reported."""
    table: dict[str, dict[str, Any]] = {}
    for county, status, n in conn.execute(FLEET, {"scope": scope}).fetchall():
        row = table.setdefault(county, {"county": county, **{str(s): 0 for s in MeterStatus}})
        row[status] = n
    for row in table.values():
        row["total"] = sum(row[str(s)] for s in MeterStatus)
    return list(table.values())


def meter_days(
    conn: Conn, meter_id: str, since: date, until: date, zone: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Per day: the share of it the meter was online (None for time the status machine did not
    watch: before the meter's first recorded status), how much of it was watched, and 到报率
    (readings received ÷ expected, against the part of today that has passed: ``partial``)."""
    tz = ZoneInfo(zone)
    now = now or datetime.now(tz)
    row = conn.execute(INTERVAL, (meter_id,)).fetchone()
    if row is None:
        raise LedgerError(f"no meter {meter_id}")
    interval = timedelta(seconds=row[0])
    end_ts = day_start(until + timedelta(days=1), tz)
    transitions = [(at, MeterStatus(s)) for at, s in conn.execute(TRANSITIONS, (meter_id, end_ts)).fetchall()]
    readings = dict(conn.execute(DAYS_READ, (meter_id, since, until)).fetchall())
    out = []
    day = since
    while day <= until:
        start, stop = day_bounds(day, tz)  # in UTC: a daylight-saving day has 23 or 25 hours
        until_now = min(stop, max(start, now))
        out.append(
            {
                "day": day.isoformat(),
                "online_share": online_share(transitions, start, until_now),
                "observed_share": observed_share(transitions, start, until_now),
                "readings": readings.get(day, 0),
                "completeness": completeness(readings.get(day, 0), interval, until_now - start),
                "partial": until_now < stop,
            }
        )
        day += timedelta(days=1)
    return out
