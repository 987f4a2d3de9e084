"""What operators and tests read back: a meter's daily volumes and every meter's state."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg

DAILY_COLUMNS = ["day", "volume_m3", "method", "readings", "coverage", "flags", "flow_m3"]
STATUS_COLUMNS = [
    "meter_id",
    "last_reading_ts",
    "last_seen",
    "last_total_m3",
    "last_status",
    "last_status_at",
]

DAILY = """
SELECT day, volume_m3, method, readings, coverage, flags, flow_m3 FROM daily_volumes
WHERE meter_id = %s AND day BETWEEN %s AND %s ORDER BY day"""
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
            "day": d.isoformat(),
            "volume_m3": str(v),
            "method": m,
            "readings": n,
            "coverage": round(c, 4),
            "flags": ",".join(f),
            "flow_m3": "" if flow is None else str(flow),
        }
        for d, v, m, n, c, f, flow in conn.execute(DAILY, (meter_id, since, until)).fetchall()
    ]


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
