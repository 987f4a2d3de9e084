"""The monthly progress report (进展情况), pure: a month's figures per county-level division, the total
of a city's counties, the report as a table and as one page of HTML.

From July 2020 every county reports the month before to the city before the 5th: 工作开展情况、取得的
主要成果、存在的困难和问题、有关意见和建议. The figures come from the registry, the ledger, the meters
and the submissions (anomaly/queries/progress.py); the words come from the county.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from anomaly.provenance import Provenance
from anomaly.tables import Table, to_csv, to_xlsx_book

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> date:
    """``YYYY-MM`` as the month's first day."""
    found = _MONTH.match(text.strip())
    if found is None or not 1 <= int(found.group(2)) <= 12 or not 2000 <= int(found.group(1)) <= 2100:
        raise ValueError(f"{text!r} is not a month (YYYY-MM)")
    return date(int(found.group(1)), int(found.group(2)), 1)


def month_end(first: date) -> date:
    """The month's last day."""
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Progress:
    """One division's month. Counts "at end" are as of the month's last day; the others are in it."""

    division_code: str
    division_name: str
    intakes_total: int = 0  # registered by the month's end
    intakes_new: int = 0  # registered in the month
    intakes_reviewed: int = 0  # in the division's accepted annual submission, as of the month's end
    intakes_reviewed_new: int = 0  # the same, when that submission was accepted in the month
    findings_opened: int = 0
    findings_rectifying: int = 0  # moved to rectifying in the month
    findings_closed: int = 0  # closed (销号) by a person in the month
    findings_closed_on_time: int = 0  # of those, by their deadline
    findings_resolved: int = 0  # status findings that cleared by themselves in the month
    findings_open_at_end: int = 0  # open or rectifying at the month's end
    meters_active: int = 0
    meters_online: int = 0  # online at the month's end
    readings_expected: int = 0  # of online-capable meters, from their report interval
    readings_received: int = 0  # of those, up to the expected number per meter
    meter_days: int = 0
    measured_days: int = 0
    metered_m3: Decimal = Decimal(0)  # on fully measured days
    known_m3: Decimal = Decimal(0)  # all the registers say (days with gaps included)
    annual_submission: str = ""  # the year's submission: its state, or none
    progress_submission: str = ""  # this month's progress report: its state, or none

    @property
    def on_time_share(self) -> float | None:
        return self.findings_closed_on_time / self.findings_closed if self.findings_closed else None

    @property
    def arrival_rate(self) -> float | None:
        """到报率: readings received of those expected."""
        return self.readings_received / self.readings_expected if self.readings_expected else None

    @property
    def estimated_days(self) -> int:
        return self.meter_days - self.measured_days


_SUMMED = [
    f.name
    for f in fields(Progress)
    if f.name not in ("division_code", "division_name") and "submission" not in f.name
]


def total(code: str, name: str, rows: Sequence[Progress]) -> Progress:
    """The divisions' figures added up (a city's counties): every count and volume is a sum."""
    sums: dict[str, Any] = {
        n: sum((getattr(r, n) for r in rows), Decimal(0) if n.endswith("_m3") else 0) for n in _SUMMED
    }
    return Progress(code, name, **sums)


COLUMNS: list[tuple[str, str]] = [
    ("division_name", "单位"),
    ("intakes_total", "已登记取水口（个）"),
    ("intakes_new", "本月新登记"),
    ("intakes_reviewed", "已审核"),
    ("intakes_reviewed_new", "本月审核"),
    ("findings_opened", "本月发现问题"),
    ("findings_rectifying", "本月进入整改"),
    ("findings_closed", "本月销号"),
    ("on_time_share", "按期销号率"),
    ("findings_resolved", "本月自动消除"),
    ("findings_open_at_end", "月末未销号"),
    ("meters_active", "计量设施（套）"),
    ("meters_online", "月末在线"),
    ("arrival_rate", "到报率"),
    ("metered_m3", "监测计量水量（m³）"),
    ("known_m3", "计量读数水量（m³）"),
    ("measured_days", "完整计量日（表·日）"),
    ("estimated_days", "需推算日（表·日）"),
    ("annual_submission", "年度成果报送"),
    ("progress_submission", "本月进展报送"),
]
SECTIONS: list[tuple[str, str]] = [
    ("work", "工作开展情况"),
    ("achievements", "取得的主要成果"),
    ("difficulties", "存在的困难和问题"),
    ("proposals", "有关意见和建议"),
]


def _cell(row: Progress, name: str) -> object:
    value = getattr(row, name)
    if isinstance(value, float):
        return f"{value:.1%}"
    return value if value is not None else "—"


def to_tables(month: date, rows: Sequence[Progress], words: Mapping[str, str] | None = None) -> list[Table]:
    """The figures (one row per division, then the total if more than one) and the words."""
    body = [[_cell(r, n) for n, _ in COLUMNS] for r in rows]
    tables = [Table("progress", month_end(month), [h for _, h in COLUMNS], body)]
    if words is not None:
        tables.append(
            Table(
                "progress_notes",
                month_end(month),
                ["事项", "内容"],
                [[h, words.get(k, "")] for k, h in SECTIONS],
            )
        )
    return tables


def to_html(title: str, month: date, rows: Sequence[Progress], words: Mapping[str, str] | None = None) -> str:
    """One page a person reads: the month's figures and, when given, the county's words."""
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for _, h in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(str(_cell(r, n)))}</td>" for n, _ in COLUMNS) + "</tr>" for r in rows
    )
    notes = ""
    if words is not None:
        notes = "".join(
            f"<h2>{esc(h)}</h2><p>{esc(words.get(k, '')).replace(chr(10), '<br>') or '（无）'}</p>"
            for k, h in SECTIONS
        )
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em;font-size:13px}table{border-collapse:collapse}"
        "th,td{border:1px solid #999;padding:3px 6px;text-align:right}td:first-child{text-align:left}"
        "@media print{body{margin:0}}</style></head><body>"
        f"<h1>{esc(title)}</h1><p>{month:%Y年%m月}（{month:%Y-%m-%d} 至 {month_end(month):%Y-%m-%d}）</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{notes}</body></html>"
    )


def render(fmt: str, title: str, month: date, rows: Sequence[Progress], provenance: Provenance) -> bytes:
    """The report as a file: ``html`` (one page), ``xlsx`` (with its 数据来源 sheet) or ``csv``."""
    if fmt == "html":
        return to_html(title, month, rows).encode()
    if fmt == "xlsx":
        return to_xlsx_book(to_tables(month, rows), provenance)
    return to_csv(to_tables(month, rows)[0])
