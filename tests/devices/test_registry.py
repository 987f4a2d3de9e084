"""Importing and exporting the registry against a real database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from devices import registry
from devices.calibration import CalibrationPeriods
from devices.errors import RegistryRejected
from devices.forms import COLUMNS, Table
from devices.workbook import read_files, write_csv_folder
from tests.devices.registry_files import good_rows, write_workbook

COUNT_ALL = """SELECT (SELECT count(*) FROM permits), (SELECT count(*) FROM intakes),
                      (SELECT count(*) FROM meters), (SELECT count(*) FROM calibrations)"""


def import_file(conn: psycopg.Connection[tuple[object, ...]], *paths: Path) -> registry.Plan:
    tables, _warnings = read_files(list(paths), lambda *_: None)
    plan = registry.plan_import(conn, tables)
    registry.apply_plan(conn, plan)
    return plan


def counts(plan: registry.Plan) -> dict[str, tuple[int, int, int]]:
    return {
        name: (len(c.created), len(c.updated), c.unchanged)
        for name, c in (
            ("permits", plan.permits),
            ("intakes", plan.intakes),
            ("meters", plan.meters),
            ("calibrations", plan.calibrations),
        )
    }


def test_import_then_reimport_changes_nothing(database_url: str, tmp_path: Path) -> None:
    path = write_workbook(tmp_path, good_rows())
    with psycopg.connect(database_url) as conn:
        first = import_file(conn, path)
        second = import_file(conn, path)
        permit = conn.execute(
            "SELECT annual_volume_m3 FROM permits WHERE authority = '建平县水利局'"
        ).fetchone()
        intake = conn.execute(
            "SELECT longitude, latitude, source_type, water_use FROM intakes WHERE code = 'I-BP-1'"
        )
        intake_row = intake.fetchone()
    assert counts(first) == {
        "permits": (2, 0, 0),
        "intakes": (3, 0, 0),
        "meters": (3, 0, 0),
        "calibrations": (2, 0, 0),
    }
    assert counts(second) == {
        "permits": (0, 0, 2),
        "intakes": (0, 0, 3),
        "meters": (0, 0, 3),
        "calibrations": (0, 0, 2),
    }
    assert permit == (Decimal(125000),)  # 12.5 万m³
    assert intake_row == (120.81, 41.79, "reservoir", "industry")


def test_a_changed_row_is_updated_and_only_it(database_url: str, tmp_path: Path) -> None:
    rows = good_rows()
    with psycopg.connect(database_url) as conn:
        import_file(conn, write_workbook(tmp_path, rows))
        rows[Table.PERMITS][1][4] = 95  # the permitted volume rises to 95 万m³
        plan = import_file(conn, write_workbook(tmp_path, rows, "v2.xlsx"))
        volume = conn.execute(
            "SELECT annual_volume_m3 FROM permits WHERE authority = '朝阳市水务局'"
        ).fetchone()
    assert counts(plan)["permits"] == (0, 1, 1)
    assert counts(plan)["intakes"] == (0, 0, 3)
    assert volume == (Decimal(950000),)


def test_workbook_with_mistakes_is_refused_whole(database_url: str, tmp_path: Path) -> None:
    rows = good_rows()
    rows[Table.INTAKES][0][6] = "41.52,119.71"  # bad coordinates: latitude first
    rows[Table.INTAKES][1][10] = "海水"  # unknown source type
    rows[Table.PERMITS][0][3] = date(2021, 12, 31)  # permit ends before it starts
    rows[Table.INTAKES].append(list(rows[Table.INTAKES][2]))  # duplicate intake code I-BP-1
    rows[Table.PERMITS][1][4] = -80  # negative volume
    rows[Table.INTAKES][2][1] = None  # a missing required field (取水口名称)
    rows[Table.METERS].append(
        ["M-X-1", "I-NOWHERE", "水表", 50, None, "是", 60, None, date(2024, 1, 1), None, None]
    )
    with psycopg.connect(database_url) as conn:
        import_file(conn, write_workbook(tmp_path, good_rows(), "before.xlsx"))
        before = conn.execute(COUNT_ALL).fetchone()
        tables, _ = read_files([write_workbook(tmp_path, rows)], lambda *_: None)
        with pytest.raises(RegistryRejected) as refused:
            registry.plan_import(conn, tables)
        after = conn.execute(COUNT_ALL).fetchone()
    messages = sorted(str(p) for p in refused.value.problems)
    assert messages == sorted(
        [
            "registry.xlsx:取水口 row 2, 取水口坐标 = '41.52,119.71': longitude 41.52 is outside China "
            "(73.4–135.1°E) (write longitude first: lon,lat)",
            "registry.xlsx:取水口 row 3, 水源类型 = '海水': unknown source type; use one of 地表水-江河 / "
            "地表水-湖泊 / 地表水-水库 / 地下水-浅层 / 地下水-深层",
            "registry.xlsx:取水口 row 4, 取水口名称: required value is missing",
            "registry.xlsx:取水口 row 5, 取水口编号 = 'I-BP-1': duplicate of row 4",
            "registry.xlsx:取水许可 row 2, 有效期止 = '2021-12-31': is before 有效期起 2022-01-01",
            "registry.xlsx:取水许可 row 3, 许可水量(万m³) = '-80': must not be negative",
            "registry.xlsx:监测计量设施 row 5, 取水口编号 = 'I-NOWHERE': meter M-X-1 is on an intake that is "
            "neither in the file nor registered",
        ]
    )
    assert after == before
    assert before == (2, 3, 3, 2)


def test_missing_column_is_one_message_not_one_per_row(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    rows = good_rows()
    write_csv_folder(folder, rows)
    text = (folder / "permits.csv").read_text(encoding="utf-8-sig").splitlines()
    (folder / "permits.csv").write_text(
        "\n".join(",".join(line.split(",")[:4]) for line in text), encoding="utf-8"
    )
    tables, _ = read_files([folder], lambda *_: None)
    with psycopg.connect(database_url) as conn, pytest.raises(RegistryRejected) as refused:
        registry.plan_import(conn, tables)
    assert [str(p) for p in refused.value.problems] == [
        "permits.csv, 许可水量(万m³): required column is missing "
        "(header 许可水量(万m³) or annual_volume_10k_m3)"
    ]


def test_export_then_import_changes_nothing(database_url: str, tmp_path: Path) -> None:
    periods = CalibrationPeriods()
    with psycopg.connect(database_url) as conn:
        import_file(conn, write_workbook(tmp_path, good_rows()))
        exported = registry.export_rows(conn, periods)
        xlsx = write_workbook(tmp_path, exported, "export.xlsx")
        csv_folder = tmp_path / "export-csv"
        write_csv_folder(csv_folder, exported)
        from_xlsx = import_file(conn, xlsx)
        from_csv = import_file(conn, csv_folder)
        again = registry.export_rows(conn, periods)
    unchanged = {"permits": (0, 0, 2), "intakes": (0, 0, 3), "meters": (0, 0, 3), "calibrations": (0, 0, 2)}
    assert counts(from_xlsx) == unchanged
    assert counts(from_csv) == unchanged
    assert again == exported
    assert exported[Table.PERMITS][0][4] == Decimal("80")  # 万m³ again in the form
    # 下次检定日期: M-JP-1 is a DN80 water meter calibrated 2024-04-02, due two years later
    next_due = [c.field for c in COLUMNS[Table.METERS]].index("next_due")
    assert exported[Table.METERS][1][0] == "M-JP-1" and exported[Table.METERS][1][next_due] == date(
        2026, 4, 2
    )


def test_new_active_meter_replaces_the_old_one_which_keeps_its_history(
    database_url: str, tmp_path: Path
) -> None:
    rows = good_rows()
    with psycopg.connect(database_url) as conn:
        import_file(conn, write_workbook(tmp_path, rows))
        replacement = {
            Table.METERS: [
                [
                    "M-JP-1B",
                    "I-JP-1",
                    "电磁流量计",
                    80,
                    "SN9",
                    "是",
                    15,
                    1_000_000_000,
                    date(2026, 6, 1),
                    None,
                    None,
                ]
            ]
        }
        plan = import_file(conn, write_workbook(tmp_path, replacement, "swap.xlsx"))
        meters = conn.execute(
            "SELECT meter_id, removed_on FROM meters WHERE intake_code = 'I-JP-1' ORDER BY meter_id"
        ).fetchall()
        calibrations = conn.execute("SELECT count(*) FROM calibrations WHERE meter_id = 'M-JP-1'").fetchone()
    assert plan.summary()[-1] == "meter M-JP-1 on intake I-JP-1 replaced by M-JP-1B (removed on 2026-06-01)"
    assert meters == [("M-JP-1", date(2026, 6, 1)), ("M-JP-1B", None)]
    assert calibrations == (1,)


def test_replacement_older_than_the_active_meter_is_refused(database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(database_url) as conn:
        import_file(conn, write_workbook(tmp_path, good_rows()))
        older = {
            Table.METERS: [
                ["M-OLD", "I-JP-1", "水表", 80, None, "是", 60, None, date(2019, 1, 1), None, None]
            ]
        }
        tables, _ = read_files([write_workbook(tmp_path, older, "older.xlsx")], lambda *_: None)
        with pytest.raises(RegistryRejected) as refused:
            registry.plan_import(conn, tables)
    assert "which was installed later (2021-04-01)" in str(refused.value.problems[0])


def test_english_headers_and_two_coordinate_columns(database_url: str, tmp_path: Path) -> None:
    csv = tmp_path / "intakes.csv"
    csv.write_text(
        "intake_code,intake_name,owner,county,longitude,latitude,engineering_type,construction_status,"
        "source_type,water_use,序号\n"
        "I-1,Well 1,Someone,建平县,119.7,41.5,机井,built,shallow_groundwater,irrigation,1\n",
        encoding="utf-8",
    )
    with psycopg.connect(database_url) as conn:
        plan = import_file(conn, csv)
        row = conn.execute("SELECT longitude, latitude, status FROM intakes WHERE code = 'I-1'").fetchone()
    assert counts(plan)["intakes"] == (1, 0, 0)
    assert row == (119.7, 41.5, "built")


def test_gbk_csv_from_excel_is_read(database_url: str, tmp_path: Path) -> None:
    csv = tmp_path / "permits.csv"
    csv.write_bytes(
        "许可证号,审批机关,有效期起,有效期止,许可水量（万m³）\nP-1,凌源市水利局,2024/1/1,2028/12/31,3.5\n".encode(
            "gb18030"
        )
    )
    with psycopg.connect(database_url) as conn:
        import_file(conn, csv)
        row = conn.execute("SELECT authority, annual_volume_m3 FROM permits").fetchone()
    assert row == ("凌源市水利局", Decimal(35000))
