"""Which meters the collector knows: the registry's meters as the store needs them, cached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from devices.model import MeterType, max_flow_m3h
from infra.calendar import day_start
from ingest import queries as q
from ingest.store import MeterInfo
from ingest.tails import Tail

DAY = timedelta(days=1)
Conn = psycopg.Connection[Any]


def load_meters(conn: Conn, zone: ZoneInfo) -> dict[str, MeterInfo]:
    """Every registered meter, removed ones too (a reading taken before its removal day ended is its own)."""
    return {
        m: MeterInfo(
            m,
            cap,
            interval,
            None if removed is None else day_start(removed + DAY, zone),
            max_flow_m3h(MeterType(kind), dn, design),
        )
        for m, cap, interval, removed, kind, dn, design in conn.execute(q.METERS).fetchall()
    }


class MeterDirectory:
    """Registered meters, cached; reloaded every ``refresh_s``, and when an unknown id shows up in a
    message received after the last reload (at most once a second: a meter registered a moment before
    its first reading is found, a flood of unknown ids costs one reload a second). Also each meter's
    tail for the store's in-order fast path, dropped when the meter's registration changes."""

    UNKNOWN_RELOAD_S = 1.0

    def __init__(self, zone: ZoneInfo, refresh_s: float) -> None:
        self.zone = zone
        self.refresh_s = refresh_s
        self.meters: dict[str, MeterInfo] = {}
        self.tails: dict[str, Tail] = {}
        self.loaded_at = datetime.min.replace(tzinfo=UTC)

    def refresh(self, conn: Conn) -> None:
        meters = load_meters(conn, self.zone)
        for meter_id in [m for m in self.tails if meters.get(m) != self.meters.get(m)]:
            del self.tails[meter_id]
        self.meters = meters
        self.loaded_at = datetime.now(UTC)

    def reload_due(self, meter_id: str, received_at: datetime) -> float | None:
        """None when the cache may answer for ``meter_id``; else how many seconds to wait before reloading."""
        age = (datetime.now(UTC) - self.loaded_at).total_seconds()
        if age > self.refresh_s:
            return 0.0
        if meter_id in self.meters or self.loaded_at > received_at:
            return None
        return max(0.0, self.UNKNOWN_RELOAD_S - age)
