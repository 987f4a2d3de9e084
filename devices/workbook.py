"""Reading and writing the registry's tables as an .xlsx workbook (one sheet per table) or CSV files.

Only cells travel through here: turning them into intakes, permits and meters is
:mod:`devices.validate`'s job.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from python_calamine import CalamineWorkbook

from devices.errors import DeviceError
from devices.forms import COLUMNS, SHEET_NAMES, Table, match_header, table_for_name
from devices.xlsx_guard import WorkbookTooLarge, check_workbook
from infra.cells import safe_row, unguard

Progress = Callable[[str, int], None]


class UnreadableFile(DeviceError):
    """A file is not a workbook or CSV the registry can read; the message says which and why."""


@dataclass
class RawTable:
    """One table's cells as read: headers and numbered rows (row numbers as the user sees them)."""

    table: Table
    source: str
    headers: list[str]
    rows: list[tuple[int, Sequence[object]]] = field(default_factory=list)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


Numbered = list[tuple[int, Sequence[object]]]


def _numbered(
    rows: Iterable[Sequence[object]], source: str, progress: Progress
) -> tuple[list[str], Numbered]:
    """The first non-blank row as headers, and the non-blank rows under it with their numbers."""
    iterator: Iterator[Sequence[object]] = ([unguard(v) for v in values] for values in rows)
    number = 0
    headers: list[str] = []
    for values in iterator:
        number += 1
        if not all(_blank(v) for v in values):
            headers = ["" if v is None else str(v).strip() for v in values]
            break
    found: Numbered = []
    for values in iterator:
        number += 1
        if all(_blank(v) for v in values):
            continue
        found.append((number, values))
        if len(found) % 5000 == 0:
            progress(source, len(found))
    return headers, found


def _collect(rows: Iterable[Sequence[object]], table: Table, source: str, progress: Progress) -> RawTable:
    headers, found = _numbered(rows, source, progress)
    return RawTable(table, source, headers, found)


# A registry sheet is read only within these bounds (devices/xlsx_guard.py says why): rows, and columns
# beyond the form's own (room for a few of the county's own notes).
MAX_ROWS = 300_000
EXTRA_COLUMNS = 20


def sheet_limits(name: str) -> tuple[int, int] | None:
    table = table_for_name(name)
    return None if table is None else (MAX_ROWS, len(COLUMNS[table]) + EXTRA_COLUMNS)


def read_xlsx(path: Path, progress: Progress) -> tuple[list[RawTable], list[str]]:
    """Tables from a workbook's sheets, and warnings about sheets that are not registry tables.

    Checked first for size (:func:`devices.xlsx_guard.check_workbook`), then read with calamine
    (Rust): about 12 times faster than openpyxl on the registry's workbooks (docs/BENCHMARKS.md);
    openpyxl still writes them.
    """
    try:
        check_workbook(path, sheet_limits)
    except WorkbookTooLarge as exc:
        raise UnreadableFile(str(exc)) from None
    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own errors for a damaged or foreign file
        raise UnreadableFile(f"{path}: not a readable .xlsx workbook ({exc})") from None
    tables, warnings = [], []
    for title in book.sheet_names:
        table = table_for_name(title)
        if table is None:
            names = ", ".join(SHEET_NAMES.values())
            warnings.append(f"{path.name}: sheet {title!r} ignored (registry sheets are {names})")
            continue
        rows = book.get_sheet_by_name(title).to_python(skip_empty_area=False)
        tables.append(_collect(rows, table, f"{path.name}:{title}", progress))
    return tables, warnings


def _decode(path: Path) -> str:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK unless told otherwise
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile(f"{path}: neither UTF-8 nor GB18030 text")


def _guess_table(headers: list[str]) -> Table | None:
    scores = {t: sum(1 for h in headers if match_header(t, h)) for t in Table}
    best = max(scores.values())
    winners = [t for t, s in scores.items() if s == best]
    return winners[0] if best and len(winners) == 1 else None


def read_csv(path: Path, progress: Progress) -> RawTable:
    rows = list(csv.reader(_decode(path).splitlines()))
    table = table_for_name(path.name)
    if table is None:
        first = next((r for r in rows if any(c.strip() for c in r)), [])
        table = _guess_table(first)
    if table is None:
        raise UnreadableFile(
            f"{path}: cannot tell which registry table this CSV holds; name the file after it "
            f"({', '.join(f'{t.value}.csv' for t in Table)}) or use the form's headers"
        )
    return _collect(rows, table, path.name, progress)


def read_files(paths: Sequence[Path], progress: Progress) -> tuple[list[RawTable], list[str]]:
    """Every table in the given .xlsx / .csv files (a folder means every .csv in it)."""
    tables: list[RawTable] = []
    warnings: list[str] = []
    for path in paths:
        if path.is_dir():
            found, more = read_files(sorted(path.glob("*.csv")), progress)
            tables += found
            warnings += more
        elif not path.exists():
            raise UnreadableFile(f"{path}: no such file")
        elif path.suffix.lower() == ".xlsx":
            found, more = read_xlsx(path, progress)
            tables += found
            warnings += more
        elif path.suffix.lower() == ".csv":
            tables.append(read_csv(path, progress))
        else:
            raise UnreadableFile(f"{path}: only .xlsx workbooks and .csv files can be imported")
    seen: dict[Table, str] = {}
    for raw in tables:
        if raw.table in seen:
            raise UnreadableFile(f"{raw.source} and {seen[raw.table]} both hold table {raw.table.value}")
        seen[raw.table] = raw.source
    return tables, warnings


REFERENCE_COLUMNS = 60  # a reference list's sheet is read this wide at most


def read_list(path: Path) -> tuple[list[str], Numbered]:
    """A list that is not a registry table (a reference list): the first sheet of an .xlsx, or a CSV
    (UTF-8 or GB18030), as headers and numbered non-blank rows."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows: Iterable[Sequence[object]] = csv.reader(_decode(path).splitlines())
    elif suffix == ".xlsx":
        try:
            check_workbook(path, lambda _name: (MAX_ROWS, REFERENCE_COLUMNS))
            book = CalamineWorkbook.from_path(str(path))
            rows = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
        except WorkbookTooLarge as exc:
            raise UnreadableFile(str(exc)) from None
        except Exception as exc:  # calamine raises its own errors for a damaged or foreign file
            raise UnreadableFile(f"{path.name}: not a readable .xlsx workbook ({exc})") from None
    else:
        raise UnreadableFile(f"{path.name}: a list is read from an .xlsx workbook or a .csv file")
    return _numbered(rows, path.name, lambda _source, _rows: None)


def headers_for(table: Table) -> list[str]:
    return [c.header for c in COLUMNS[table] if c.exported]


def write_xlsx(path: Path, tables: dict[Table, list[list[object]]]) -> None:
    book = openpyxl.Workbook(write_only=True)
    for table, rows in tables.items():
        sheet = book.create_sheet(SHEET_NAMES[table])
        sheet.append(headers_for(table))
        for row in rows:
            sheet.append(safe_row(row))
    tmp = path.with_name(f".{path.name}.tmp")
    book.save(tmp)
    tmp.replace(path)


def write_csv_folder(folder: Path, tables: dict[Table, list[list[object]]]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table, rows in tables.items():
        path = folder / f"{table.value}.csv"
        with path.open("w", newline="", encoding="utf-8-sig") as out:  # BOM: Excel opens it as UTF-8
            writer = csv.writer(out)
            writer.writerow(headers_for(table))
            writer.writerows(["" if v is None else v for v in safe_row(row)] for row in rows)
        written.append(path)
    return written
