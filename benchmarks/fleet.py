"""Registering meters straight into a database, for tests and benchmarks (not the registry import)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import psycopg

INTAKE = """
INSERT INTO intakes (code, name, owner, county, longitude, latitude, engineering_type, status, source_type,
                     water_use)
VALUES (%s, %s, 'test', '建平县', 119.6, 41.4, '机井', 'built', 'shallow_groundwater', 'irrigation')
ON CONFLICT DO NOTHING"""
METER = """
INSERT INTO meters (meter_id, intake_code, meter_type, online_capable, report_interval_s,
                    totalizer_capacity_m3, installed_on, removed_on)
VALUES (%s, %s, 'electromagnetic', true, %s, %s, '2020-01-01', %s)"""


def register_meters(
    url: str,
    meter_ids: Sequence[str],
    interval_s: int = 900,
    capacity: Decimal | None = Decimal(10) ** 8,
    removed: bool = False,
) -> None:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(INTAKE, [(f"I-{m}", f"intake of {m}") for m in meter_ids])
        cur.executemany(
            METER, [(m, f"I-{m}", interval_s, capacity, "2021-01-01" if removed else None) for m in meter_ids]
        )
