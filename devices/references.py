"""Reference lists (核查依据), pure: the lists a county checks its registry against, their columns, and
their rows read into entries.

The campaign (审核排查) names them: the permit ledger (取水许可台账), the water census (水利普查), the
rural drinking-water project list (农村饮水安全工程名录), other departments' project lists (建设工程项目
名录) and the development zones' enterprise lists (入驻开发区企业名录). Each kind's columns are mapped
once, here (docs/REGISTRY.md lists them); a file's headers are matched to them ignoring spaces and
full-width forms. A file with any bad row is refused whole, every problem listed with its row.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from devices.divisions import Divisions, Level, check_division_code, level_of

WAN = Decimal(10_000)  # lists give volumes in 万m³


class ListKind(StrEnum):
    PERMIT_LEDGER = "permit_ledger"  # 取水许可台账
    CENSUS = "census"  # 水利普查取水口
    RURAL_WATER = "rural_water"  # 农村饮水安全工程名录
    PROJECTS = "projects"  # 建设工程项目名录
    ENTERPRISES = "enterprises"  # 入驻开发区企业名录


KIND_LABELS: dict[ListKind, str] = {
    ListKind.PERMIT_LEDGER: "取水许可台账",
    ListKind.CENSUS: "水利普查取水口",
    ListKind.RURAL_WATER: "农村饮水安全工程名录",
    ListKind.PROJECTS: "建设工程项目名录",
    ListKind.ENTERPRISES: "入驻开发区企业名录",
}

# Columns every kind may have: where the entry is, and the division it belongs to.
_PLACE = {
    "经度": "longitude",
    "纬度": "latitude",
    "所在乡镇": "township",
    "乡镇": "township",
    "所在县区": "county",
    "县区": "county",
    "行政区划代码": "division_code",
}
# header -> field, per kind; the first header of each field is the one documented and exported.
COLUMNS: dict[ListKind, dict[str, str]] = {
    ListKind.PERMIT_LEDGER: {
        "取水许可证编号": "permit_no",
        "取水权人名称": "owner",
        "统一社会信用代码": "credit_code",
        "取水地点": "name",
        "许可水量(万m³)": "permitted_wan_m3",
        "有效期起": "valid_from",
        "有效期止": "valid_to",
        **_PLACE,
    },
    ListKind.CENSUS: {
        "取水口名称": "name",
        "取水单位名称": "owner",
        "统一社会信用代码": "credit_code",
        **_PLACE,
    },
    ListKind.RURAL_WATER: {
        "工程名称": "name",
        "管理单位": "owner",
        "统一社会信用代码": "credit_code",
        **_PLACE,
    },
    ListKind.PROJECTS: {"项目名称": "name", "建设单位": "owner", "统一社会信用代码": "credit_code", **_PLACE},
    ListKind.ENTERPRISES: {"企业名称": "owner", "统一社会信用代码": "credit_code", "地址": "name", **_PLACE},
}
REQUIRED: dict[ListKind, tuple[str, ...]] = {
    ListKind.PERMIT_LEDGER: ("permit_no", "owner", "permitted_wan_m3", "valid_from", "valid_to"),
    ListKind.CENSUS: ("name", "owner", "longitude", "latitude"),
    ListKind.RURAL_WATER: ("name", "owner"),
    ListKind.PROJECTS: ("name", "owner"),
    ListKind.ENTERPRISES: ("owner",),
}
_CREDIT_CODE = re.compile(r"^[0-9A-Z]{18}$")  # 18 characters; the check digit is not verified
_NOT_HEADER = re.compile(r"[\s（）()]+")


class ReferenceRejected(ValueError):
    """A list that cannot be read as its kind: every problem, with its row or column."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(f"{len(problems)} problem(s): " + "; ".join(problems[:5]))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class ReferenceEntry:
    """One row of a reference list, as the check compares it."""

    row: int
    division_code: str
    name: str | None = None
    owner: str | None = None
    credit_code: str | None = None
    permit_no: str | None = None
    township: str | None = None
    longitude: float | None = None
    latitude: float | None = None
    permitted_m3: Decimal | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    cells: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_division_code(self.division_code)
        if (self.longitude is None) != (self.latitude is None):
            raise ValueError("an entry has both coordinates or neither")

    @property
    def label(self) -> str:
        """How a person recognises the entry: its name and owner as the list writes them."""
        parts = [p for p in (self.name, self.owner) if p]
        return " · ".join(parts) or f"row {self.row}"


def _header_key(text: str) -> str:
    return _NOT_HEADER.sub("", unicodedata.normalize("NFKC", text)).replace("m3", "m³")


def map_headers(kind: ListKind, headers: Sequence[str]) -> dict[int, str]:
    """Column index -> field; refused when a required column is missing or a field appears twice."""
    wanted = {_header_key(h): f for h, f in COLUMNS[kind].items()}
    mapped: dict[int, str] = {}
    problems = []
    for n, header in enumerate(headers):
        name = wanted.get(_header_key(header)) if header else None
        if name is None:
            continue
        if name in mapped.values():
            problems.append(f"column {header!r}: {name} is already given by another column")
        mapped[n] = name
    for name in REQUIRED[kind]:
        if name not in mapped.values():
            header = next(h for h, f in COLUMNS[kind].items() if f == name)
            problems.append(f"no column {header!r}: a {KIND_LABELS[kind]} needs it")
    if problems:
        raise ReferenceRejected(problems)
    return mapped


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{what} {text!r} must be a number of zero or more")
    return value


_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")


def _day(value: object, what: str) -> date:
    """A date cell: a spreadsheet date, or 2024-01-31, 2024/1/31, 2024.1.31, 2024年1月31日."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    found = _DATE.match(text[:10] if len(text) > 10 and text[10] in " T" else text)
    try:
        if found is None:
            raise ValueError
        return date(*(int(part) for part in found.groups()))
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a date (YYYY-MM-DD)") from None


def _division(fields: Mapping[str, str], default: str | None, divisions: Divisions) -> str:
    code, county = fields.get("division_code"), fields.get("county", "")
    if code is not None or county:
        return divisions.resolve(county, check_division_code(code) if code is not None else None)
    if default is None or level_of(default) is not Level.COUNTY:
        raise ValueError("no 所在县区 or 行政区划代码, and the list was not imported by a county")
    return default


def read_entries(
    kind: ListKind,
    headers: Sequence[str],
    rows: Sequence[tuple[int, Sequence[object]]],
    divisions: Divisions,
    default_division: str | None,
) -> list[ReferenceEntry]:
    """The entries of a list; ReferenceRejected with every bad row's number and reason."""
    mapped = map_headers(kind, headers)
    entries, problems = [], []
    for number, values in rows:
        cells = {headers[n]: t for n, v in enumerate(values) if n < len(headers) and (t := _text(v))}
        fields = {mapped[n]: t for n, v in enumerate(values) if n in mapped and (t := _text(v)) is not None}
        raw = {mapped[n]: v for n, v in enumerate(values) if n in mapped}
        try:
            missing = [f for f in REQUIRED[kind] if f not in fields]
            if missing:
                headers_of = {f: h for h, f in reversed(COLUMNS[kind].items())}
                raise ValueError("empty " + ", ".join(headers_of[f] for f in missing))
            credit = fields.get("credit_code")
            if credit is not None and not _CREDIT_CODE.match(credit.upper()):
                raise ValueError(f"统一社会信用代码 {credit!r} is not 18 letters and digits")
            lon = float(_number(fields["longitude"], "经度")) if "longitude" in fields else None
            lat = float(_number(fields["latitude"], "纬度")) if "latitude" in fields else None
            if (lon is not None and not 73.4 <= lon <= 135.1) or (
                lat is not None and not 18.1 <= lat <= 53.6
            ):
                raise ValueError(f"coordinates {lon}, {lat} are not in China")
            wan = fields.get("permitted_wan_m3")
            valid_from = _day(raw["valid_from"], "有效期起") if "valid_from" in fields else None
            valid_to = _day(raw["valid_to"], "有效期止") if "valid_to" in fields else None
            if valid_from and valid_to and valid_to < valid_from:
                raise ValueError(f"有效期止 {valid_to} is before 有效期起 {valid_from}")
            entries.append(
                ReferenceEntry(
                    row=number,
                    division_code=_division(fields, default_division, divisions),
                    name=fields.get("name"),
                    owner=fields.get("owner"),
                    credit_code=credit.upper() if credit else None,
                    permit_no=fields.get("permit_no"),
                    township=fields.get("township"),
                    longitude=lon,
                    latitude=lat,
                    permitted_m3=_number(wan, "许可水量(万m³)") * WAN if wan is not None else None,
                    valid_from=valid_from,
                    valid_to=valid_to,
                    cells=cells,
                )
            )
        except ValueError as exc:
            problems.append(f"row {number}: {exc}")
    if problems:
        raise ReferenceRejected(problems)
    if not entries:
        raise ReferenceRejected(["the list has no rows under its headers"])
    return entries
