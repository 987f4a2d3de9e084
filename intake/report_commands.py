"""`intake report ...`: the forms' reports as XLSX or CSV, with the forms' Chinese headers."""

from __future__ import annotations

import argparse
import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl

from anomaly import queries, reports
from anomaly.annual import four_year_average
from anomaly.thresholds import Thresholds
from devices.settings import RegistrySettings
from infra.database import connect
from intake.args import day

SHEETS = {
    "registration": "取水口基础信息登记表",
    "summary": "取水口核查登记汇总表",
    "ledger": "取水口整改提升情况表",
    "compliance": "取水许可执行情况",
}


def write_report(path: Path, sheet: str, headers: list[str], rows: list[list[Any]]) -> None:
    """XLSX (by suffix) or CSV in UTF-8 with a BOM, so Excel opens either correctly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".xlsx":
        book = openpyxl.Workbook(write_only=True)
        ws = book.create_sheet(sheet)
        ws.append(headers)
        for row in rows:
            ws.append(row)
        book.save(path)
        return
    with path.open("w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow(headers)
        writer.writerows(rows)


def cmd_report(args: argparse.Namespace) -> int:
    from intake.cli import load_settings

    settings = load_settings(RegistrySettings)
    now = datetime.now(UTC)
    today = args.as_of or now.astimezone(settings.zone).date()
    year = args.year or today.year
    as_of = reports.as_of_for(year, today)
    with connect(settings.database_url, "intake-report", autocommit=True) as conn:
        snapshot = queries.load_snapshot(conn, as_of, now, settings.timezone)
        if args.kind == "registration":
            years = reports.years_ending(year)
            annual = queries.annual_by_intake(conn, years, as_of)
            headers = reports.registration_headers(years)
            rows = reports.registration_rows(snapshot.intakes, snapshot.permits, annual)
        elif args.kind == "summary":
            years = reports.years_ending(year - 1)  # 近4年: the four full years before
            annual = queries.annual_by_intake(conn, years, as_of)
            averages = {code: four_year_average(vs) for code, vs in annual.items()}
            open_rules: dict[str, set[str]] = {}
            for f in queries.list_findings(conn):
                if f["state"] != "closed":
                    open_rules.setdefault(f["intake_code"], set()).add(f["rule"])
            headers = reports.SUMMARY_HEADERS
            rows = reports.summary_rows(snapshot, averages, reports.running_normally(snapshot, open_rules))
        elif args.kind == "ledger":
            headers = reports.LEDGER_HEADERS
            rows = reports.ledger_rows(queries.list_findings(conn), {i.code: i for i in snapshot.intakes})
        else:
            headers = reports.COMPLIANCE_HEADERS
            rows = reports.compliance_rows(snapshot, Thresholds())
    out = Path(args.out)
    write_report(out, SHEETS[args.kind], headers, rows)
    print(f"{args.kind}: {len(rows)} row(s) as of {as_of} -> {out}")
    return 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "report", help="the forms' reports: registration, summary, ledger, compliance"
    )
    parser.add_argument(
        "kind",
        choices=list(SHEETS),
        help="registration: Annex 1 annual volumes for 4 years; "
        "summary: Annex 2; ledger: Annex 3; compliance: per permit",
    )
    parser.add_argument("--year", type=int, help="the report's year (default: this year, up to today)")
    parser.add_argument("--as-of", type=day, help="report as of this local day (default: today)")
    parser.add_argument("--out", required=True, help="FILE.xlsx or FILE.csv")
    parser.set_defaults(handler=cmd_report)
