"""The registry's SQL, and the data-layer lookups other packages call (collector, monitoring, API)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

import psycopg

from devices.calibration import CalibrationPeriods, is_due_within, is_overdue, next_due
from devices.divisions import Division, Divisions
from devices.model import (
    Calibration,
    CalibrationResult,
    ConstructionStatus,
    Intake,
    Meter,
    MeterType,
    Permit,
    SourceType,
    WaterUse,
)

Conn = psycopg.Connection[Any]
T = TypeVar("T", Permit, Intake, Meter, Calibration)

PERMIT_COLUMNS = tuple(f.name for f in fields(Permit))
INTAKE_COLUMNS = tuple(f.name for f in fields(Intake))
METER_COLUMNS = tuple(f.name for f in fields(Meter))
CALIBRATION_COLUMNS = tuple(f.name for f in fields(Calibration))

TABLE_OF: dict[type, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    # record type: (table, its columns, its key)
    Permit: ("permits", PERMIT_COLUMNS, ("permit_no",)),
    Intake: ("intakes", INTAKE_COLUMNS, ("code",)),
    Meter: ("meters", METER_COLUMNS, ("meter_id",)),
    Calibration: ("calibrations", CALIBRATION_COLUMNS, ("meter_id", "calibrated_on")),
}
_ENUMS: dict[str, type[StrEnum]] = {
    "status": ConstructionStatus,
    "source_type": SourceType,
    "water_use": WaterUse,
    "meter_type": MeterType,
    "result": CalibrationResult,
}


def record_from_row(kind: type[T], row: Sequence[Any]) -> T:
    _table, columns, _key = TABLE_OF[kind]
    values: dict[str, Any] = {
        c: (_ENUMS[c](v) if c in _ENUMS and v is not None else v) for c, v in zip(columns, row, strict=True)
    }
    return kind(**values)


def row_from_record(record: Permit | Intake | Meter | Calibration) -> tuple[Any, ...]:
    _table, columns, _key = TABLE_OF[type(record)]
    return tuple(str(v) if isinstance(v, StrEnum) else v for v in (getattr(record, c) for c in columns))


def select_by_keys(kind: type[T]) -> str:
    table, columns, key = TABLE_OF[kind]
    if len(key) == 1:
        return f"SELECT {', '.join(columns)} FROM {table} WHERE {key[0]} = ANY(%s)"
    pairs = "(SELECT * FROM unnest(%s::text[], %s::date[]))"
    return f"SELECT {', '.join(columns)} FROM {table} WHERE ({', '.join(key)}) IN {pairs}"


def select_all(kind: type[T]) -> str:
    table, columns, key = TABLE_OF[kind]
    return f"SELECT {', '.join(columns)} FROM {table} ORDER BY {', '.join(key)}"


def staging_sql(kind: type[T]) -> tuple[str, str, str]:
    """SQL to create a staging table, COPY into it, and upsert from it into the real table."""
    table, columns, key = TABLE_OF[kind]
    cols = ", ".join(columns)
    updates = [f"{c} = EXCLUDED.{c}" for c in columns if c not in key]
    if kind is not Calibration:
        updates.append("updated_at = now()")
    create = (
        f"DROP TABLE IF EXISTS stage_{table}; "
        f"CREATE TEMP TABLE stage_{table} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    copy = f"COPY stage_{table} ({cols}) FROM STDIN"
    upsert = (
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM stage_{table} "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join(updates)}"
    )
    return create, copy, upsert


ALL_KEYS = """
SELECT 'permit', permit_no FROM permits
UNION ALL SELECT 'intake', code FROM intakes
UNION ALL SELECT 'meter', meter_id FROM meters"""
ACTIVE_METERS_ON = (
    f"SELECT {', '.join(METER_COLUMNS)} FROM meters WHERE removed_on IS NULL AND intake_code = ANY(%s)"
)
CLOSE_METER = "UPDATE meters SET removed_on = %s, updated_at = now() WHERE meter_id = %s"
ACTIVE_RTU_CHANNELS = """
SELECT meter_id, rtu_address, rtu_channel FROM meters WHERE removed_on IS NULL AND rtu_address IS NOT NULL"""
DIVISIONS = "SELECT code, name, short_name, kind FROM divisions ORDER BY code"
DIVISIONS_INSIDE = "SELECT code FROM divisions WHERE in_scope(code, %s) ORDER BY code"
UPSERT_DIVISION = """
INSERT INTO divisions (code, name, short_name, level, parent_code, kind) VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, short_name = EXCLUDED.short_name, kind = EXCLUDED.kind
WHERE (divisions.name, divisions.short_name, divisions.kind)
      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.short_name, EXCLUDED.kind)"""
# Who the registry's audit trail names for this transaction's changes (migration 0018).
SET_ACTOR = "SELECT set_config('intake.actor', %s, true)"
INTAKE_DIVISIONS = "SELECT code, division_code FROM intakes"
METER_INTAKES = "SELECT meter_id, intake_code FROM meters"
UNMAPPED_INTAKES = "SELECT code, name, county FROM intakes WHERE division_code IS NULL ORDER BY code"
LAST_CALIBRATIONS = """
SELECT DISTINCT ON (meter_id) meter_id, calibrated_on
FROM calibrations ORDER BY meter_id, calibrated_on DESC"""

METER_CONTEXT = f"""
SELECT {", ".join("m." + c for c in METER_COLUMNS)},
       {", ".join("i." + c for c in INTAKE_COLUMNS)},
       {", ".join("p." + c for c in PERMIT_COLUMNS)}
FROM meters m JOIN intakes i ON i.code = m.intake_code LEFT JOIN permits p ON p.permit_no = i.permit_no
WHERE m.meter_id = %s"""

METERS_BY_COUNTY = f"""
SELECT {", ".join("m." + c for c in METER_COLUMNS)}
FROM meters m JOIN intakes i ON i.code = m.intake_code
WHERE i.county = %(county)s AND (NOT %(active_only)s OR m.removed_on IS NULL)
ORDER BY m.meter_id"""

ACTIVE_METERS_WITH_LAST_CALIBRATION = f"""
SELECT {", ".join("m." + c for c in METER_COLUMNS)}, i.county, lc.calibrated_on
FROM meters m
JOIN intakes i ON i.code = m.intake_code
LEFT JOIN LATERAL (SELECT max(c.calibrated_on) AS calibrated_on FROM calibrations c
                   WHERE c.meter_id = m.meter_id) lc ON true
WHERE m.removed_on IS NULL AND i.status <> 'decommissioned'"""


@dataclass(frozen=True, slots=True)
class MeterContext:
    """A meter with its intake and the intake's permit (None when it has none)."""

    meter: Meter
    intake: Intake
    permit: Permit | None


def load_registry(conn: Conn) -> tuple[list[Meter], dict[str, Intake], dict[str, Permit]]:
    """Every meter, and the intakes and permits by their keys."""
    meters = [record_from_row(Meter, r) for r in conn.execute(select_all(Meter))]
    intakes = {i.code: i for i in (record_from_row(Intake, r) for r in conn.execute(select_all(Intake)))}
    permits = {p.permit_no: p for p in (record_from_row(Permit, r) for r in conn.execute(select_all(Permit)))}
    return meters, intakes, permits


def load_divisions(conn: Conn) -> Divisions:
    return Divisions(Division(*row) for row in conn.execute(DIVISIONS))


def divisions_inside(conn: Conn, scope: str | None) -> list[Division]:
    """``scope`` and every division inside it (None: all), by code."""
    known = load_divisions(conn).by_code
    return [known[code] for (code,) in conn.execute(DIVISIONS_INSIDE, (scope,))]


def meter_context(conn: Conn, meter_id: str) -> MeterContext | None:
    row = conn.execute(METER_CONTEXT, (meter_id,)).fetchone()
    if row is None:
        return None
    m, i = len(METER_COLUMNS), len(INTAKE_COLUMNS)
    permit_row = row[m + i :]
    return MeterContext(
        meter=record_from_row(Meter, row[:m]),
        intake=record_from_row(Intake, row[m : m + i]),
        permit=record_from_row(Permit, permit_row) if permit_row[0] is not None else None,
    )


def meters_by_county(conn: Conn, county: str, active_only: bool = True) -> list[Meter]:
    rows = conn.execute(METERS_BY_COUNTY, {"county": county, "active_only": active_only}).fetchall()
    return [record_from_row(Meter, r) for r in rows]


@dataclass(frozen=True, slots=True)
class CalibrationDue:
    meter: Meter
    county: str
    last_calibrated: date | None
    due: date
    overdue: bool


def calibrations_due(
    conn: Conn, today: date, within_days: int, periods: CalibrationPeriods
) -> list[CalibrationDue]:
    """Active meters (on intakes still in use) overdue or due within ``within_days``, soonest first."""
    out = []
    n = len(METER_COLUMNS)
    for row in conn.execute(ACTIVE_METERS_WITH_LAST_CALIBRATION).fetchall():
        meter = record_from_row(Meter, row[:n])
        county, last = row[n], row[n + 1]
        due = next_due(meter, last, periods)
        if is_overdue(due, today) or is_due_within(due, today, within_days):
            out.append(CalibrationDue(meter, county, last, due, is_overdue(due, today)))
    return sorted(out, key=lambda d: (d.due, d.meter.meter_id))
