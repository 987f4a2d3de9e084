"""From the cells of a registry workbook to intakes, permits, meters and calibrations, or to a list of
every problem found (sheet, row, column, value, reason). Pure: no database, no files."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from devices.errors import InvalidValue
from devices.forms import COLUMNS, DEFAULT_REPORT_INTERVAL_MIN, Column, Table, is_ignored_header, match_header
from devices.model import Calibration, Intake, Meter, Permit, check_latitude, check_longitude
from devices.workbook import RawTable


@dataclass(frozen=True, slots=True)
class Problem:
    source: str
    row: int | None
    column: str | None
    value: object
    reason: str

    def __str__(self) -> str:
        where = self.source + (f" row {self.row}" if self.row is not None else "")
        if self.column:
            where += f", {self.column}"
            if self.value is not None:
                shown = (
                    int(self.value)
                    if isinstance(self.value, float) and self.value.is_integer()
                    else self.value
                )
                where += f" = {str(shown)!r}"
        return f"{where}: {self.reason}"


@dataclass
class Parsed:
    """What the files say, each record with the place it came from (source, row)."""

    permits: dict[str, tuple[str, int, Permit]] = field(default_factory=dict)
    intakes: dict[str, tuple[str, int, Intake]] = field(default_factory=dict)
    meters: dict[str, tuple[str, int, Meter]] = field(default_factory=dict)
    calibrations: dict[tuple[str, date], tuple[str, int, Calibration]] = field(default_factory=dict)
    unreadable: set[Table] = field(default_factory=set)  # tables refused whole (a column missing)
    refused: dict[Table, set[Any]] = field(default_factory=dict)  # keys of rows refused (already reported)


@dataclass(frozen=True, slots=True)
class KnownKeys:
    """Keys already in the database, so a file may refer to records it does not itself carry."""

    permits: frozenset[str] = frozenset()
    intakes: frozenset[str] = frozenset()
    meters: frozenset[str] = frozenset()


def _columns(raw: RawTable, problems: list[Problem], warnings: list[str]) -> dict[int, Column]:
    by_index: dict[int, Column] = {}
    seen: dict[str, str] = {}
    for index, header in enumerate(raw.headers):
        if not header or is_ignored_header(header):
            continue
        column = match_header(raw.table, header)
        if column is None:
            warnings.append(f"{raw.source}: column {header!r} is not part of the registry and was ignored")
        elif column.field in seen:
            problems.append(Problem(raw.source, None, header, None, f"same column as {seen[column.field]!r}"))
        elif not column.computed:
            by_index[index] = column
            seen[column.field] = header
    present = {c.field for c in by_index.values()}
    for column in COLUMNS[raw.table]:
        if column.required and column.field not in present:
            problems.append(
                Problem(
                    raw.source,
                    None,
                    column.header,
                    None,
                    f"required column is missing (header {column.header} or {column.english})",
                )
            )
    if (
        raw.table is Table.INTAKES
        and "coordinates" not in present
        and not {"longitude", "latitude"} <= present
    ):
        problems.append(
            Problem(
                raw.source,
                None,
                "取水口坐标",
                None,
                "required column is missing (取水口坐标, or 经度 and 纬度)",
            )
        )
    return by_index


def _cells(
    raw: RawTable, number: int, values: Iterable[object], columns: dict[int, Column], problems: list[Problem]
) -> tuple[dict[str, Any], bool]:
    """One row's readable values by field, and whether every cell was usable (problems recorded)."""
    out: dict[str, Any] = {}
    ok = True
    cells = list(values)
    for index, column in columns.items():
        value = cells[index] if index < len(cells) else None
        if value is None or (isinstance(value, str) and not value.strip()):
            if column.required:
                problems.append(Problem(raw.source, number, column.header, None, "required value is missing"))
                ok = False
            continue
        try:
            out[column.field] = column.read(value)
        except InvalidValue as exc:
            problems.append(Problem(raw.source, number, column.header, value, str(exc)))
            ok = False
    return out, ok


def _coordinates(raw: RawTable, number: int, cells: dict[str, Any], problems: list[Problem]) -> bool:
    if "coordinates" in cells:
        cells["longitude"], cells["latitude"] = cells.pop("coordinates")
        where, value = "取水口坐标", f"{cells['longitude']},{cells['latitude']}"
    elif "longitude" in cells and "latitude" in cells:
        where, value = "经度/纬度", f"{cells['longitude']},{cells['latitude']}"
    else:
        problems.append(Problem(raw.source, number, "取水口坐标", None, "required value is missing"))
        return False
    try:
        check_longitude(cells["longitude"])
        check_latitude(cells["latitude"])
    except InvalidValue as exc:
        problems.append(Problem(raw.source, number, where, value, f"{exc} (write longitude first: lon,lat)"))
        return False
    return True


_OPTIONAL: dict[Table, tuple[str, ...]] = {
    Table.INTAKES: (
        "credit_code",
        "township",
        "design_daily_capacity_m3",
        "source_name",
        "water_resource_zone",
        "industry_code",
        "permit_no",
        "division_code",
    ),
    Table.METERS: ("dn", "serial", "totalizer_capacity_m3", "removed_on", "rtu_address", "rtu_channel"),
    Table.CALIBRATIONS: ("certificate_no",),
    Table.PERMITS: (),
}
_KEY = {Table.INTAKES: "code", Table.PERMITS: "permit_no", Table.METERS: "meter_id"}
_BUILD: dict[Table, type] = {
    Table.INTAKES: Intake,
    Table.PERMITS: Permit,
    Table.METERS: Meter,
    Table.CALIBRATIONS: Calibration,
}


def _key(table: Table, cells: dict[str, Any]) -> Any:
    if table is Table.CALIBRATIONS:
        if "meter_id" in cells and "calibrated_on" in cells:
            return (cells["meter_id"], cells["calibrated_on"])
        return None
    return cells.get(_KEY[table])


# Order between two dates of one row: (table, earlier field, later field, later column's header).
_DATE_ORDER = {
    Table.PERMITS: ("valid_from", "valid_to", "有效期止", "有效期起"),
    Table.METERS: ("installed_on", "removed_on", "拆除日期", "安装日期"),
}


def _record(raw: RawTable, number: int, cells: dict[str, Any], problems: list[Problem]) -> Any:
    """The record one row's readable cells make, or None with the reason recorded in ``problems``."""
    if raw.table is Table.INTAKES and not _coordinates(raw, number, cells, problems):
        return None
    if raw.table in _DATE_ORDER:
        early, late, late_header, early_header = _DATE_ORDER[raw.table]
        if cells.get(late) is not None and cells.get(early) is not None and cells[late] < cells[early]:
            problems.append(
                Problem(
                    raw.source, number, late_header, cells[late], f"is before {early_header} {cells[early]}"
                )
            )
            return None
    if raw.table is Table.METERS:
        cells["report_interval_s"] = 60 * cells.get("report_interval_s", DEFAULT_REPORT_INTERVAL_MIN)
    for name in _OPTIONAL[raw.table]:
        cells.setdefault(name, None)
    try:
        return _BUILD[raw.table](**cells)
    except InvalidValue as exc:
        problems.append(Problem(raw.source, number, None, None, str(exc)))
        return None


def parse(tables: Iterable[RawTable]) -> tuple[Parsed, list[Problem], list[str]]:
    """Every record the tables describe, every problem, and warnings (ignored columns and sheets)."""
    parsed = Parsed()
    problems: list[Problem] = []
    warnings: list[str] = []
    for raw in tables:
        before = len(problems)
        columns = _columns(raw, problems, warnings)
        if len(problems) > before:
            parsed.unreadable.add(raw.table)
            continue  # without its columns, row-by-row messages would only repeat the same fault
        key_header = next(
            c.header for c in COLUMNS[raw.table] if c.field in ("meter_id", _KEY.get(raw.table))
        )
        target: dict[Any, tuple[str, int, Any]] = getattr(parsed, raw.table.value)
        first_row: dict[Any, int] = {}
        for number, values in raw.rows:
            cells, ok = _cells(raw, number, values, columns, problems)
            key = _key(raw.table, cells)
            if key is not None:
                if key in first_row:
                    shown = key if isinstance(key, str) else key[0]
                    problems.append(
                        Problem(raw.source, number, key_header, shown, f"duplicate of row {first_row[key]}")
                    )
                    continue
                first_row[key] = number
            record = _record(raw, number, cells, problems) if ok else None
            if record is None:
                parsed.refused.setdefault(raw.table, set()).add(key)
                continue
            target[key] = (raw.source, number, record)
    return parsed, problems, warnings


class _Everything(frozenset[str]):
    def __contains__(self, _item: object) -> bool:
        return True


def check_references(parsed: Parsed, known: KnownKeys) -> list[Problem]:
    """Links between records: each must point at something in the files or already registered."""
    problems = []
    # Rows refused for their own faults still exist in the file: do not report their dependants too.
    refused = parsed.refused
    permits: frozenset[str] = known.permits | parsed.permits.keys() | refused.get(Table.PERMITS, set())
    intakes: frozenset[str] = known.intakes | parsed.intakes.keys() | refused.get(Table.INTAKES, set())
    meters: frozenset[str] = known.meters | parsed.meters.keys() | refused.get(Table.METERS, set())
    # A table refused whole says nothing about its keys: do not blame the rows that point at it.
    if Table.PERMITS in parsed.unreadable:
        permits = _Everything()
    if Table.INTAKES in parsed.unreadable:
        intakes = _Everything()
    if Table.METERS in parsed.unreadable:
        meters = _Everything()
    for source, row, intake in parsed.intakes.values():
        if intake.permit_no is not None and intake.permit_no not in permits:
            problems.append(
                Problem(
                    source,
                    row,
                    "许可证号",
                    intake.permit_no,
                    "no such permit in the file's permits or the registry",
                )
            )
    reached: dict[tuple[str, int], tuple[int, str]] = {}  # an active meter's RTU address and channel
    for source, row, meter in parsed.meters.values():
        if meter.is_active and meter.rtu_address is not None and meter.rtu_channel is not None:
            where = (meter.rtu_address, meter.rtu_channel)
            if where in reached:
                other_row, other = reached[where]
                problems.append(
                    Problem(
                        source,
                        row,
                        "遥测终端地址",
                        meter.rtu_address,
                        f"channel {meter.rtu_channel} of RTU {meter.rtu_address} is already active meter "
                        f"{other}'s (row {other_row}): give one another channel or a 拆除日期",
                    )
                )
            else:
                reached[where] = (row, meter.meter_id)
        if meter.intake_code not in intakes:
            problems.append(
                Problem(
                    source,
                    row,
                    "取水口编号",
                    meter.intake_code,
                    f"meter {meter.meter_id} is on an intake that is neither in the file nor registered",
                )
            )
    for source, row, calibration in parsed.calibrations.values():
        if calibration.meter_id not in meters:
            problems.append(
                Problem(
                    source,
                    row,
                    "计量设施编号",
                    calibration.meter_id,
                    "no such meter in the file or the registry",
                )
            )
    return problems
