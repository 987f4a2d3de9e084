"""Checking an .xlsx workbook before anything expands it: a few kilobytes can ask for gigabytes.

A workbook is a zip of XML parts. Two cells, at A1 and XFD1048576, make a reader that builds a dense
grid (calamine does) allocate 17 billion cells and abort the process; a zip bomb inflates a small
upload into gigabytes. So before the workbook is read:

- the parts' uncompressed sizes (as the zip declares them; Python stops reading a part at its
  declared size and checks its CRC, so a part cannot inflate past it) must add up to at most
  ``MAX_UNCOMPRESSED_BYTES``;
- each sheet that will be read is scanned as a stream for where its cells are (the ``r="XFD1048576"``
  references, and the count of rows and cells where references are left out), and refused when a row
  lies beyond ``max_rows`` or a column beyond ``max_columns``.

Pure apart from reading the file; the caller turns :class:`WorkbookTooLarge` into its message.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from xml.etree import ElementTree

from devices.errors import DeviceError

MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024
_NS = rb"(?:[A-Za-z_][\w.-]*:)?"  # a namespace prefix some writers use (x:c)
_TAG = re.compile(rb"<" + _NS + rb"(row|c)\b([^>]*)>")
# A cell or row tag without an r="..." reference (its place is implied by what came before).
_IMPLICIT = re.compile(rb"<" + _NS + rb'(?:c|row)\b(?![^>]*\sr=")[^>]*>')
_TALL_REFS = re.compile(rb'\sr="[A-Z]{0,3}([0-9]{6,})"')  # rows from 100,000 on (row limits are above)
_LAST_ROW = re.compile(rb"<" + _NS + rb'row\b[^>]*?\sr="([0-9]+)"')
_R = re.compile(rb'\sr="([A-Z]{0,3})([0-9]*)"')
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


class WorkbookTooLarge(DeviceError):
    """The workbook asks for more than the registry reads; the message says which sheet and why."""


@dataclass(frozen=True, slots=True)
class Extent:
    rows: int  # the highest row number a cell sits in (0: within the limit)
    columns: int  # the highest column number (0: within the limit)


def column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def column_letters(n: int) -> str:
    out = ""
    while n:
        n, rest = divmod(n - 1, 26)
        out = chr(65 + rest) + out
    return out


def sheet_parts(book: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> the zip part holding it (from xl/workbook.xml and its relationships)."""
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))  # noqa: S314 - size checked first
    rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))  # noqa: S314
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_RELS}Relationship")}
    parts = {}
    for sheet in workbook.iter(f"{_MAIN}sheet"):
        target = targets.get(sheet.get(_OFFICE_REL), "")
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
        parts[sheet.get("name", "")] = part
    return parts


def extent(chunks: Iterable[bytes], max_rows: int, max_columns: int) -> Extent:
    """How far a sheet's cells reach beyond ``max_rows`` and ``max_columns``, scanning its XML as a
    stream of chunks: 0 for a bound it keeps within, else the furthest row or column found."""
    reach = Extent(0, 0)
    at = (0, 0)  # the row and column the previous chunk ended at (for tags without references)
    rest = b""
    wide = len(column_letters(max_columns))  # references with fewer letters are within the columns
    long_refs = re.compile(rb'\sr="([A-Z]{%d,3})[0-9]' % wide)
    for chunk in [*chunks, b""]:
        data = rest + chunk
        cut = data.rfind(b"<") if chunk else -1  # a tag may straddle chunks: keep the last one
        data, rest = (data[:cut], data[cut:]) if cut > 0 else (data, b"")
        if _implicit(data):  # some cell or row leaves its reference out: walk them one by one
            found, at = _walk(data, at)
        else:  # the usual case (Excel, WPS, openpyxl): a few scans in C, no walk
            rows = [int(n) for n in _TALL_REFS.findall(data)]
            columns = [column_number(c) for c in set(long_refs.findall(data))]
            found = Extent(max(rows, default=0), max(columns, default=0))
            at = _walk(data[max(0, data.rfind(b"<row")) :], at)[1] if data else at
        reach = Extent(
            max(reach.rows, found.rows if found.rows > max_rows else 0),
            max(reach.columns, found.columns if found.columns > max_columns else 0),
        )
    return reach


def _implicit(data: bytes) -> bool:
    """Some cell or row tag has no reference: counted first (fast, for the usual r-first writers)."""
    cells = data.count(b"<c ") + data.count(b"<c>")
    rows = data.count(b"<row ") + data.count(b"<row>")
    if cells == data.count(b'<c r="') and rows == data.count(b'<row r="') and b":c " not in data:
        return False
    return _IMPLICIT.search(data) is not None


def _walk(data: bytes, at: tuple[int, int]) -> tuple[Extent, tuple[int, int]]:
    """The slow way, for sheets that leave references out: count rows and cells as they come."""
    (row, column), max_row, max_column = at, 0, 0
    for match in _TAG.finditer(data):
        kind, attributes = match.group(1), match.group(2) or b""
        ref = _R.search(attributes)
        if kind == b"row":
            row = int(ref.group(2)) if ref and ref.group(2) else row + 1
            column = 0
        elif kind == b"c":
            if ref and ref.group(1):
                column = column_number(ref.group(1))
                if ref.group(2):
                    max_row = max(max_row, int(ref.group(2)))
            else:
                column += 1
            max_column = max(max_column, column)
        max_row = max(max_row, row)
    return Extent(max_row, max_column), (row, column)


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(1 << 20):
        yield chunk


def check_workbook(path: Path, limits: Callable[[str], tuple[int, int] | None]) -> None:
    """Refuse a workbook too large to read safely. ``limits``: for a sheet name, the (max rows, max
    columns) of a sheet that will be read, None for one that will not."""
    try:
        book = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WorkbookTooLarge(f"{path}: not a readable .xlsx workbook (not a zip archive: {exc})") from None
    with book:
        declared = sum(info.file_size for info in book.infolist())
        if declared > MAX_UNCOMPRESSED_BYTES:
            raise WorkbookTooLarge(
                f"{path}: unpacks to {declared / 2**20:,.0f} MiB, more than the "
                f"{MAX_UNCOMPRESSED_BYTES / 2**20:,.0f} MiB a registry workbook may (a zip bomb?)"
            )
        try:
            parts = sheet_parts(book)
        except (KeyError, ElementTree.ParseError) as exc:
            raise WorkbookTooLarge(f"{path}: not a readable .xlsx workbook ({exc})") from None
        for name, part in parts.items():
            limit = limits(name)
            if limit is None or part not in book.namelist():
                continue
            max_rows, max_columns = limit
            try:
                with book.open(part) as stream:
                    reach = extent(_chunks(stream), max_rows, max_columns)
            except (zipfile.BadZipFile, OSError) as exc:  # a CRC mismatch: a part bigger than declared
                raise WorkbookTooLarge(f"{path}: sheet {name!r} is damaged ({exc})") from None
            if reach.rows:
                raise WorkbookTooLarge(
                    f"{path}: sheet {name!r} has a cell in row {reach.rows:,}; "
                    f"the registry reads at most {max_rows:,} rows a sheet"
                )
            if reach.columns:
                raise WorkbookTooLarge(
                    f"{path}: sheet {name!r} has a cell in column {column_letters(reach.columns)} "
                    f"({reach.columns:,}); the registry's sheet has {max_columns} columns at most"
                )
