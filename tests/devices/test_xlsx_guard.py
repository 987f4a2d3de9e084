"""Workbooks that ask for more than the registry reads are refused before anything expands them.

Each hostile file is imported by the real CLI in its own process: before the guard, the two-cell
workbook aborted the process (calamine allocating ~550 GB), which no ``except`` can catch.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import psycopg
import pytest

from devices.forms import COLUMNS
from devices.xlsx_guard import Extent, extent
from tests.devices.registry_files import good_rows, write_workbook
from tests.intake.test_cli import intake


def two_cells(path: Path, far: str) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "取水口"
    sheet["A1"] = "取水口编号"
    sheet[far] = "x"
    book.save(path)
    return path


def with_sheet_part(source: Path, target: Path, part: str, xml: bytes | None, stored_size: int = 0) -> Path:
    """``source`` with one part replaced by ``xml`` (or by ``stored_size`` bytes of spaces, streamed)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename != part:
                new.writestr(info, old.read(info.filename))
            elif xml is not None:
                new.writestr(part, xml)
            else:
                with new.open(part, "w") as out:
                    block = b" " * (1 << 20)
                    for _ in range(stored_size // len(block)):
                        out.write(block)
    return target


@pytest.mark.parametrize(
    ("far", "says"),
    [
        ("XFD1048576", "has a cell in row 1,048,576; the registry reads at most 300,000 rows a sheet"),
        (
            "XFD1",
            "has a cell in column XFD (16,384); the registry's sheet has "
            f"{max(len(c) for c in COLUMNS.values()) + 20} columns at most",
        ),
    ],
)
def test_a_two_cell_workbook_is_refused_not_a_crash(
    database_url: str, tmp_path: Path, far: str, says: str
) -> None:
    done = intake(
        "registry", "import", str(two_cells(tmp_path / "two.xlsx", far)), INTAKE_DATABASE_URL=database_url
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"two.xlsx: sheet '取水口' {says}" in done.stderr


def test_a_zip_bomb_is_refused_before_it_is_inflated(database_url: str, tmp_path: Path) -> None:
    good = write_workbook(tmp_path, good_rows())
    bomb = with_sheet_part(good, tmp_path / "bomb.xlsx", "xl/worksheets/sheet1.xml", None, 300 << 20)
    assert bomb.stat().st_size < 2 << 20  # a small upload ...
    done = intake("registry", "import", str(bomb), INTAKE_DATABASE_URL=database_url)
    assert done.returncode == 1
    assert "bomb.xlsx: unpacks to 300 MiB, more than the 256 MiB a registry workbook may" in done.stderr
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM intakes").fetchone() == (0,)


def test_cells_without_references_are_counted() -> None:
    """A sheet may leave r="..." out; each cell then sits one column right of the one before."""
    row = b"<row>" + b"<c><v>1</v></c>" * 200 + b"</row>"
    xml = b"<sheetData>" + row * 3 + b"</sheetData>"
    chunks = [xml[i : i + 97] for i in range(0, len(xml), 97)]  # tags cut across chunks
    assert extent(chunks, 300_000, 38) == Extent(0, 200)
    assert extent([b'<row r="5"><c r="B5"/></row>'], 300_000, 38) == Extent(0, 0)
    assert extent([b'<row r="2"><c r="C400000"/></row>'], 300_000, 38) == Extent(400_000, 0)
