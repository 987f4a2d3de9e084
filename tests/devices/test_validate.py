"""The pure validation core, on hand-made tables (no files, no database)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from devices.forms import Table
from devices.validate import KnownKeys, check_references, parse
from devices.workbook import RawTable, headers_for
from tests.devices.registry_files import good_rows


def table(kind: Table, rows: list[list[object]]) -> RawTable:
    return RawTable(kind, kind.value, headers_for(kind), [(n + 2, r) for n, r in enumerate(rows)])


def test_good_rows_become_records() -> None:
    rows = good_rows()
    parsed, problems, warnings = parse(table(t, r) for t, r in rows.items())
    assert (problems, warnings) == ([], [])
    intake = parsed.intakes["I-BP-1"][2]
    assert (intake.longitude, intake.latitude, intake.design_daily_capacity_m3) == (
        120.81,
        41.79,
        Decimal(6000),
    )
    meter = parsed.meters["M-JP-2"][2]
    assert (meter.report_interval_s, meter.online_capable, meter.dn) == (1440 * 60, False, 25)
    assert parsed.calibrations[("M-BP-1", date(2025, 7, 3))][2].certificate_no == "JD-2"


def test_two_active_meters_on_one_intake_in_one_file_are_two_pumps() -> None:
    meters = good_rows()[Table.METERS]
    meters.append(["M-JP-1B", "I-JP-1", "水表", 80, None, "是", 60, None, date(2025, 1, 1), None, None])
    parsed, problems, _ = parse([table(Table.METERS, meters)])
    references = check_references(parsed, KnownKeys(intakes=frozenset({"I-JP-1", "I-JP-2", "I-BP-1"})))
    assert problems == [] and references == []
    assert sorted(m for m, (_s, _r, meter) in parsed.meters.items() if meter.intake_code == "I-JP-1") == [
        "M-JP-1",
        "M-JP-1B",
    ]


def test_meter_id_must_be_usable_on_mqtt() -> None:
    meters = [["M/1#", "I-JP-1", "水表", 80, None, "是", 60, None, date(2025, 1, 1), None, None]]
    _parsed, problems, _ = parse([table(Table.METERS, meters)])
    assert [str(p) for p in problems] == [
        "meters row 2: meter id 'M/1#' must be 1-64 letters, digits, '_', '.' or '-', "
        "starting with a letter or digit"
    ]


def test_calibration_of_an_unknown_meter() -> None:
    parsed, problems, _ = parse([table(Table.CALIBRATIONS, [["M-GONE", date(2024, 1, 1), "合格", None]])])
    assert problems == []
    assert [str(p) for p in check_references(parsed, KnownKeys())] == [
        "calibrations row 2, 计量设施编号 = 'M-GONE': no such meter in the file or the registry"
    ]


def test_unknown_column_is_a_warning_not_an_error() -> None:
    raw = table(Table.PERMITS, good_rows()[Table.PERMITS])
    raw.headers = [*raw.headers, "联系人"]
    _parsed, problems, warnings = parse([raw])
    assert problems == []
    assert warnings == ["permits: column '联系人' is not part of the registry and was ignored"]
