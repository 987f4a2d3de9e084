"""The forms' reports as tables read from the database, for the CLI and the API alike.

``build`` picks the report's data (snapshot, annual volumes, ledger); ``to_xlsx`` and ``to_csv``
write it with the forms' Chinese headers. CSV is UTF-8 with a BOM so Excel opens it correctly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from anomaly import queries, reports
from anomaly.annual import four_year_average
from anomaly.findings import covered_intakes
from anomaly.provenance import SHEET as PROVENANCE_SHEET
from anomaly.provenance import Provenance
from anomaly.thresholds import Thresholds
from devices import queries as dq
from devices.model import Intake
from infra.cells import safe_row, safe_text

SHEETS = {
    "registration": "取水口基础信息登记表",
    "summary": "取水口核查登记汇总表",
    "ledger": "取水口整改提升情况表",
    "compliance": "取水许可执行情况",
}
# Sheets of the other reports (the monthly progress report: anomaly/progress.py).
SHEET_NAMES = {**SHEETS, "progress": "专项整治行动进展情况", "progress_notes": "进展情况说明"}


@dataclass(frozen=True, slots=True)
class Table:
    kind: str
    as_of: date
    headers: list[str]
    rows: list[list[Any]]

    @property
    def sheet(self) -> str:
        return SHEET_NAMES[self.kind]


def build(
    conn: queries.Conn,
    kind: str,
    year: int,
    today: date,
    now: datetime,
    zone: str,
    inside: frozenset[str] | None = None,
    scope: str | None = None,
) -> Table:
    """The report ``kind`` (a key of SHEETS) for ``year``, as of ``today`` or the year's end.
    ``inside``: only these intakes (a division's; None: all), ``scope`` that division (for findings
    about no intake). A permit's figures stay the whole permit's; its row lists only the intakes inside."""

    def kept(code: str) -> bool:
        return inside is None or code in inside

    as_of = reports.as_of_for(year, today)
    if kind == "ledger":
        intakes = {
            i.code: i for i in (dq.record_from_row(Intake, r) for r in conn.execute(dq.select_all(Intake)))
        }
        findings = queries.list_findings(conn, scope=scope)
        return Table(kind, as_of, reports.LEDGER_HEADERS, reports.ledger_rows(findings, intakes, inside))
    whole = queries.load_snapshot(conn, as_of, now, zone)
    snapshot = replace(whole, intakes=[i for i in whole.intakes if kept(i.code)])
    if kind == "registration":
        years = reports.years_ending(year)
        annual = queries.annual_by_intake(conn, years, as_of)
        rows = reports.registration_rows(snapshot.intakes, snapshot.permits, annual)
        return Table(kind, as_of, reports.registration_headers(years), rows)
    if kind == "summary":
        annual = queries.annual_by_intake(conn, reports.years_ending(year - 1), as_of)  # 近4年: full years
        averages = {code: four_year_average(vs) for code, vs in annual.items()}
        open_rules: dict[str, set[str]] = {}
        for f in queries.list_findings(conn):
            if f["state"] != "closed":
                for code in covered_intakes(f):
                    open_rules.setdefault(code, set()).add(f["rule"])
        running = reports.running_normally(snapshot, open_rules)
        return Table(kind, as_of, reports.SUMMARY_HEADERS, reports.summary_rows(snapshot, averages, running))
    if kind == "compliance":
        rows = []
        for row in reports.compliance_rows(whole, Thresholds()):
            codes = [c for c in str(row[3] or "").split("、") if c and kept(c)]
            if inside is None or codes:
                rows.append([*row[:3], "、".join(codes), *row[4:]])
        return Table(kind, as_of, reports.COMPLIANCE_HEADERS, rows)
    raise ValueError(f"unknown report {kind!r}; one of {', '.join(SHEETS)}")


def to_xlsx(table: Table, provenance: Provenance | None = None) -> bytes:
    """The report's sheet, and (given) a 数据来源 sheet saying where it comes from."""
    return to_xlsx_book([table], provenance)


def to_xlsx_book(tables: Sequence[Table], provenance: Provenance | None = None) -> bytes:
    """A sheet per table, and (given) a 数据来源 sheet saying where they come from."""
    book = openpyxl.Workbook(write_only=True)
    for table in tables:
        ws = book.create_sheet(table.sheet)
        ws.append(table.headers)
        for row in table.rows:
            ws.append([_cell(v) for v in row])
    if provenance is not None:
        source = book.create_sheet(PROVENANCE_SHEET)
        for label, english, value in provenance.rows():
            source.append([label, english, _cell(value)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: Any) -> Any:
    # A note typed with a control character (pasted from elsewhere) must not break the whole file,
    # and nothing typed may run as a formula (infra/cells.py).
    return safe_text(ILLEGAL_CHARACTERS_RE.sub("", value)) if isinstance(value, str) else value


def to_csv(table: Table) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(table.headers)
    writer.writerows(safe_row(list(row)) for row in table.rows)
    return text.getvalue().encode("utf-8-sig")
