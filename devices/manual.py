"""Manual readings (人工抄表), pure: what a person copied from a meter's display, read from a form or
from the rows of a CSV/XLSX batch into entries, each bad row refused with its number and why.

A time without a UTC offset is the inspector's local time (``INTAKE_TIMEZONE``); the totalizer keeps
the digits written (a decimal, never a float). Whether the reading itself is acceptable (not in the
future, not after the meter's removal, within its register) is the collector's own judgement, made
when it is stored (ingest/manual.py), exactly as for a reading that came over MQTT.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from zoneinfo import ZoneInfo

MAX_TEXT = 200  # read_by, photo_ref


class Channel(StrEnum):
    """How a manual reading was entered (manual_readings.channel)."""

    FORM = "form"  # one reading, the dashboard's form or the API
    UPLOAD = "upload"  # a batch file through the API
    CLI = "cli"  # a batch file through `intake manual import`


@dataclass(frozen=True, slots=True)
class ManualEntry:
    row: int  # the row of the file (or the position in a request) it came from
    meter_id: str
    ts: datetime  # aware
    total_m3: Decimal
    read_by: str
    photo_ref: str | None = None


@dataclass(frozen=True, slots=True)
class RowProblem:
    row: int
    meter_id: str | None
    reason: str  # a code: bad_row, unknown_meter, ts_in_future, conflict, ...
    message: str


# header -> field; the first header of each field is the one documented (docs/API.md) and templated.
COLUMNS: dict[str, str] = {
    "计量设施编号": "meter_id",
    "meter_id": "meter_id",
    "抄表时间": "read_at",
    "read_at": "read_at",
    "表底数(m³)": "totalizer_m3",
    "表底数": "totalizer_m3",
    "totalizer_m3": "totalizer_m3",
    "抄表人": "read_by",
    "read_by": "read_by",
    "照片编号": "photo_ref",
    "photo_ref": "photo_ref",
}
REQUIRED = ("meter_id", "read_at", "totalizer_m3")
TEMPLATE_HEADERS = ["计量设施编号", "抄表时间", "表底数(m³)", "抄表人", "照片编号"]


def _key(header: str) -> str:
    text = unicodedata.normalize("NFKC", header).replace("m3", "m³")
    return re.sub(r"\s+", "", text).lower()


_FIELDS = {_key(h): f for h, f in COLUMNS.items()}


class BatchRefused(ValueError):
    """The file as a whole cannot be read as manual readings (its headers)."""


def field_of(headers: Sequence[str]) -> dict[int, str]:
    """Column index -> field; raises :class:`BatchRefused` naming what is missing or repeated."""
    found: dict[int, str] = {}
    for index, header in enumerate(headers):
        name = _FIELDS.get(_key(header))
        if name is None:
            continue
        if name in found.values():
            raise BatchRefused(f"column {header!r} repeats the field {name}")
        found[index] = name
    missing = [f for f in REQUIRED if f not in found.values()]
    if missing:
        wanted = ", ".join(next(h for h, f in COLUMNS.items() if f == m) for m in missing)
        raise BatchRefused(f"the header row lacks {wanted} (expected {', '.join(TEMPLATE_HEADERS)})")
    return found


def read_time(value: object, zone: ZoneInfo) -> datetime:
    """A reading's time: an ISO 8601 text (an offset, or local time) or a spreadsheet's datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        raise ValueError(f"抄表时间 {value} has no time of day: write it as {value} 09:30")
    elif isinstance(value, str) and value.strip():
        text = unicodedata.normalize("NFKC", value).strip().replace("/", "-")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"抄表时间 {value!r} is not a time (2026-12-01 09:30, or with +08:00)") from None
    else:
        raise ValueError("抄表时间 is empty")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def read_total(value: object) -> Decimal:
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("表底数 is empty")
    if isinstance(value, float):
        total = Decimal(repr(value))  # the spreadsheet's shortest form: the digits typed
    elif isinstance(value, int | Decimal):
        total = Decimal(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "")
        try:
            total = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"表底数 {value!r} is not a number") from None
    if not total.is_finite():
        raise ValueError(f"表底数 {value!r} is not a number")
    return total


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if len(text) > MAX_TEXT:
        raise ValueError(f"{text[:20]}… is longer than {MAX_TEXT} characters")
    return text or None


def read_rows(
    headers: Sequence[str],
    rows: Sequence[tuple[int, Sequence[object]]],
    zone: ZoneInfo,
    read_by: str | None,
) -> tuple[list[ManualEntry], list[RowProblem]]:
    """The entries of a batch and its refused rows; ``read_by`` fills rows that do not name the reader.
    Raises :class:`BatchRefused` when the headers are not a manual-readings table."""
    fields = field_of(headers)
    entries: list[ManualEntry] = []
    problems: list[RowProblem] = []
    seen: dict[tuple[str, datetime], int] = {}
    for number, values in rows:
        cells = {name: values[i] if i < len(values) else None for i, name in fields.items()}
        meter_id = _text(cells.get("meter_id")) if isinstance(cells.get("meter_id"), str | int) else None
        try:
            if meter_id is None:
                raise ValueError("计量设施编号 is empty")
            ts = read_time(cells.get("read_at"), zone)
            total = read_total(cells.get("totalizer_m3"))
            reader = _text(cells.get("read_by")) or read_by
            if reader is None:
                raise ValueError("抄表人 is empty (give it per row, or one for the file)")
            entry = ManualEntry(number, meter_id, ts, total, reader, _text(cells.get("photo_ref")))
        except ValueError as exc:
            problems.append(RowProblem(number, meter_id, "bad_row", str(exc)))
            continue
        earlier = seen.setdefault((entry.meter_id, entry.ts), number)
        if earlier != number:
            problems.append(
                RowProblem(number, meter_id, "repeated", f"the same meter and time as row {earlier}")
            )
            continue
        entries.append(entry)
    return entries, problems
