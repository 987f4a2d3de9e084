"""Which meters the pipeline knows: the registry's meters as the store needs them, cached."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from devices.model import MeterType, max_flow_m3h
from infra.calendar import day_start
from ingest import queries as q
from ingest.message import MeterInfo
from ingest.tails import Tail

DAY = timedelta(days=1)
Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class Registered:
    """Every registered meter, removed ones too (a reading taken before its removal day ended is its
    own), by meter id and by RTU address and channel. A :class:`ingest.message.Lookup`."""

    meters: dict[str, MeterInfo] = field(default_factory=dict)
    rtus: dict[str, dict[int, list[MeterInfo]]] = field(default_factory=dict)

    def meter(self, meter_id: str) -> MeterInfo | None:
        return self.meters.get(meter_id)

    def rtu(self, address: str) -> Mapping[int, Sequence[MeterInfo]]:
        return self.rtus.get(address, {})


def load_registered(conn: Conn, zone: ZoneInfo, only: Sequence[str] | None = None) -> Registered:
    """Every registered meter, or (``only``) those named."""
    found = Registered()
    for row in conn.execute(q.METERS, {"only": None if only is None else list(only)}).fetchall():
        meter_id, cap, interval, installed, removed, kind, dn, design, intake, address, channel = row
        info = MeterInfo(
            meter_id,
            cap,
            interval,
            None if removed is None else day_start(removed + DAY, zone),
            max_flow_m3h(MeterType(kind), dn, design),
            intake,
            day_start(installed, zone),
        )
        found.meters[meter_id] = info
        if address is not None:
            found.rtus.setdefault(address, {}).setdefault(channel, []).append(info)
    return found


def load_meters(conn: Conn, zone: ZoneInfo, only: Sequence[str] | None = None) -> dict[str, MeterInfo]:
    return load_registered(conn, zone, only).meters


class MeterDirectory:
    """Registered meters, cached; reloaded every ``refresh_s``, and when an unknown name (meter id or
    RTU address) shows up in a message received after the last reload (at most once a second: a
    meter registered a moment before its first reading is found, a flood of unknown ids costs one
    reload a second). Also each meter's tail for the store's in-order fast path, dropped when the
    meter's registration changes."""

    UNKNOWN_RELOAD_S = 1.0

    def __init__(self, zone: ZoneInfo, refresh_s: float) -> None:
        self.zone = zone
        self.refresh_s = refresh_s
        self.registered = Registered()
        self.tails: dict[str, Tail] = {}
        self.loaded_at = datetime.min.replace(tzinfo=UTC)

    @property
    def meters(self) -> dict[str, MeterInfo]:
        return self.registered.meters

    def refresh(self, conn: Conn) -> None:
        registered = load_registered(conn, self.zone)
        for meter_id in [m for m in self.tails if registered.meters.get(m) != self.meters.get(m)]:
            del self.tails[meter_id]
        self.registered = registered
        self.loaded_at = datetime.now(UTC)

    def reload_due(self, known: bool, received_at: datetime) -> float | None:
        """None when the cache may answer (``known``: it has the name asked for); else how many
        seconds to wait before reloading."""
        age = (datetime.now(UTC) - self.loaded_at).total_seconds()
        if age > self.refresh_s:
            return 0.0
        if known or self.loaded_at > received_at:
            return None
        return max(0.0, self.UNKNOWN_RELOAD_S - age)
