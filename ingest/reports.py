"""What operators and tests read back: a meter's daily volumes and every meter's state."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg

STATUS_COLUMNS = [
    "meter_id",
    "last_reading_ts",
    "last_seen",
    "last_total_m3",
    "last_status",
    "last_status_at",
]

# volume_m3 is what the register says; reported_m3 what reports count (migration 0014); method says
# "corrected" or "invalid" when a person's correction is in force, with its reason.
DAILY = """
SELECT d.day, d.volume_m3, d.reported_m3,
       CASE WHEN d.invalid THEN 'invalid' WHEN d.corrected_m3 IS NOT NULL THEN 'corrected' ELSE d.method END,
       d.readings, d.coverage, d.flags, d.flow_m3, d.known, d.credible, c.id, c.reason
FROM daily_volumes d LEFT JOIN volume_corrections c ON c.id = d.correction_id
WHERE d.meter_id = %s AND d.day BETWEEN %s AND %s ORDER BY d.day"""
DAILY_KEYS = (
    "day",
    "volume_m3",
    "reported_m3",
    "method",
    "readings",
    "coverage",
    "flags",
    "flow_m3",
    "known",
    "credible",
    "correction_id",
    "reason",
)
# What `intake volumes daily` prints: the day as stored, and the correction in force (number: reason).
DAILY_COLUMNS = [*DAILY_KEYS[:8], "correction"]
STATUS = """
SELECT m.meter_id, s.last_reading_ts, s.last_received_at, s.last_total_m3, s.last_status, s.last_status_at
FROM meters m LEFT JOIN meter_state s ON s.meter_id = m.meter_id
WHERE m.removed_on IS NULL AND (%(meter)s::text IS NULL OR m.meter_id = %(meter)s)
ORDER BY m.meter_id"""


def daily_volumes(
    conn: psycopg.Connection[Any], meter_id: str, since: date, until: date
) -> list[dict[str, Any]]:
    return [
        {
            "day": row["day"].isoformat(),
            "volume_m3": str(row["volume_m3"]),
            "reported_m3": str(row["reported_m3"]),
            "method": row["method"],
            "readings": row["readings"],
            "coverage": round(row["coverage"], 4),
            "flags": ",".join(row["flags"]),
            "flow_m3": "" if row["flow_m3"] is None else str(row["flow_m3"]),
            "correction": "" if row["correction_id"] is None else f"#{row['correction_id']}: {row['reason']}",
        }
        for row in daily_rows(conn, meter_id, since, until)
    ]


def daily_rows(
    conn: psycopg.Connection[Any], meter_id: str, since: date, until: date
) -> list[dict[str, Any]]:
    """A meter's days as stored, with the correction in force (the API and the CLI both read this)."""
    return [dict(zip(DAILY_KEYS, r, strict=True)) for r in conn.execute(DAILY, (meter_id, since, until))]


def _iso(value: Any) -> str:
    return value.isoformat() if value is not None else ""


def meter_status(conn: psycopg.Connection[Any], meter_id: str | None) -> list[dict[str, Any]]:
    return [
        {
            "meter_id": m,
            "last_reading_ts": _iso(ts),
            "last_seen": _iso(seen),
            "last_total_m3": "" if total is None else str(total),
            "last_status": status or "",
            "last_status_at": _iso(status_at),
        }
        for m, ts, seen, total, status, status_at in conn.execute(STATUS, {"meter": meter_id}).fetchall()
    ]
