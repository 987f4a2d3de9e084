"""The CLI's exports never write a formula: the registry (XLSX and CSV, and it re-imports unchanged),
the forms' reports (XLSX and CSV) and the CSV the listing commands print."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import psycopg
import pytest

from devices.forms import Table
from infra.cells import FORMULA_STARTS
from tests.devices.registry_files import good_rows, write_workbook
from tests.intake.test_cli import intake

NAME = '=HYPERLINK("http://evil.example/","click")'
OWNER = "@SUM(1+1)*cmd|' /C calc'!A0"
TOWNSHIP = "-1+1"
COUNTY_FOR_CSV = "+建平县"


@pytest.fixture
def hostile_registry(database_url: str, tmp_path: Path) -> str:
    rows = good_rows()
    rows[Table.INTAKES][0][1] = NAME
    rows[Table.INTAKES][0][2] = OWNER
    rows[Table.INTAKES][0][5] = TOWNSHIP
    done = intake("registry", "import", str(write_workbook(tmp_path, rows)), INTAKE_DATABASE_URL=database_url)
    assert done.returncode == 0, done.stdout + done.stderr
    return database_url


def texts_of(path: Path) -> list[str]:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig") as handle:
            return [v for row in csv.reader(handle) for v in row]
    book = openpyxl.load_workbook(path)
    out = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{path.name} {cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    out.append(cell.value)
    return out


def assert_safe(texts: list[str], *typed: str) -> None:
    assert not [t for t in texts if t.startswith(FORMULA_STARTS)]
    for text in typed:
        assert "'" + text in texts


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_registry_export_is_safe_and_reimports_unchanged(
    hostile_registry: str, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / ("registry.xlsx" if fmt == "xlsx" else "registry")
    done = intake(
        "registry", "export", "--format", fmt, "--out", str(out), INTAKE_DATABASE_URL=hostile_registry
    )
    assert done.returncode == 0, done.stderr
    files = [out] if fmt == "xlsx" else sorted(out.glob("*.csv"))
    assert_safe([t for f in files for t in texts_of(f)], NAME, OWNER, TOWNSHIP)
    again = intake("registry", "import", str(out), INTAKE_DATABASE_URL=hostile_registry)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "intakes             0 created       0 updated       3 unchanged" in again.stdout
    with psycopg.connect(hostile_registry) as conn:
        assert conn.execute("SELECT name, owner, township FROM intakes WHERE code = 'I-JP-1'").fetchone() == (
            NAME,
            OWNER,
            TOWNSHIP,
        )


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
@pytest.mark.parametrize("kind", ["registration", "summary"])
def test_the_forms_reports_are_safe(hostile_registry: str, tmp_path: Path, kind: str, suffix: str) -> None:
    out = tmp_path / f"{kind}{suffix}"
    done = intake("report", kind, "--out", str(out), INTAKE_DATABASE_URL=hostile_registry)
    assert done.returncode == 0, done.stderr
    assert_safe(texts_of(out), NAME)


def test_the_listing_commands_print_safe_csv(hostile_registry: str) -> None:
    with psycopg.connect(hostile_registry) as conn:
        conn.execute("UPDATE intakes SET county = %s WHERE code = 'I-JP-1'", (COUNTY_FOR_CSV,))
    done = intake("meters", "summary", "--format", "csv", INTAKE_DATABASE_URL=hostile_registry)
    assert done.returncode == 0, done.stderr
    fields = [v for row in csv.reader(io.StringIO(done.stdout)) for v in row]
    assert_safe(fields, COUNTY_FOR_CSV)
