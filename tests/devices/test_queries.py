"""The lookups other packages call: meter with intake and permit, meters by county, calibrations due."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg

from devices import queries
from devices.calibration import CalibrationPeriods
from devices.forms import Table
from tests.devices.registry_files import good_rows, unpermitted_intake, write_workbook
from tests.devices.test_registry import import_file


def load(database_url: str, tmp_path: Path) -> psycopg.Connection[tuple[object, ...]]:
    conn = psycopg.connect(database_url)
    rows = good_rows()
    rows[Table.INTAKES].append(unpermitted_intake("I-JP-3"))
    rows[Table.METERS].append(
        ["M-JP-3", "I-JP-3", "水表", 50, None, "否", 1440, None, date(2020, 1, 1), date(2021, 1, 1), None]
    )
    import_file(conn, write_workbook(tmp_path, rows))
    return conn


def test_meter_context_joins_intake_and_permit(database_url: str, tmp_path: Path) -> None:
    with load(database_url, tmp_path) as conn:
        context = queries.meter_context(conn, "M-BP-1")
        no_permit = queries.meter_context(conn, "M-JP-3")
        missing = queries.meter_context(conn, "M-NONE")
    assert context is not None
    assert (context.meter.meter_id, context.intake.code, context.intake.county) == (
        "M-BP-1",
        "I-BP-1",
        "北票市",
    )
    assert context.permit is not None and context.permit.annual_volume_m3 == Decimal(800000)
    assert no_permit is not None and no_permit.permit is None
    assert missing is None


def test_meters_by_county(database_url: str, tmp_path: Path) -> None:
    with load(database_url, tmp_path) as conn:
        active = [m.meter_id for m in queries.meters_by_county(conn, "建平县")]
        every = [m.meter_id for m in queries.meters_by_county(conn, "建平县", active_only=False)]
        none = queries.meters_by_county(conn, "双塔区")
    assert active == ["M-JP-1", "M-JP-2"]
    assert every == ["M-JP-1", "M-JP-2", "M-JP-3"]
    assert none == []


def test_calibrations_due(database_url: str, tmp_path: Path) -> None:
    # M-JP-1: DN80 water meter calibrated 2024-04-02 -> due 2026-04-02 (2 years)
    # M-JP-2: DN25 water meter never calibrated, installed 2022-04-01 -> due 2028-04-01 (6 years)
    # M-BP-1: electromagnetic calibrated 2025-07-03 -> due 2027-07-03
    # M-JP-3: removed, never listed
    with load(database_url, tmp_path) as conn:
        due = queries.calibrations_due(conn, date(2026, 3, 20), 30, CalibrationPeriods())
        later = queries.calibrations_due(conn, date(2027, 6, 10), 30, CalibrationPeriods())
    assert [(d.meter.meter_id, d.due, d.overdue, d.last_calibrated) for d in due] == [
        ("M-JP-1", date(2026, 4, 2), False, date(2024, 4, 2))
    ]
    assert [(d.meter.meter_id, d.due, d.overdue) for d in later] == [
        ("M-JP-1", date(2026, 4, 2), True),
        ("M-BP-1", date(2027, 7, 3), False),
    ]
