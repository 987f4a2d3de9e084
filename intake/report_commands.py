"""`intake report ...`: the forms' reports as XLSX or CSV, with the forms' Chinese headers."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from anomaly import tables
from devices.settings import RegistrySettings
from infra.database import connect
from intake.args import day
from intake.settings import load_settings


def cmd_report(args: argparse.Namespace) -> int:
    settings = load_settings(RegistrySettings)
    now = datetime.now(UTC)
    today = args.as_of or now.astimezone(settings.zone).date()
    with connect(settings.database_url, "intake-report", autocommit=True) as conn:
        table = tables.build(conn, args.kind, args.year or today.year, today, now, settings.timezone)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(tables.to_xlsx(table) if out.suffix.lower() == ".xlsx" else tables.to_csv(table))
    print(f"{args.kind}: {len(table.rows)} row(s) as of {table.as_of} -> {out}")
    return 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "report", help="the forms' reports: registration, summary, ledger, compliance"
    )
    parser.add_argument(
        "kind",
        choices=list(tables.SHEETS),
        help="registration: Annex 1 annual volumes for 4 years; "
        "summary: Annex 2; ledger: Annex 3; compliance: per permit",
    )
    parser.add_argument("--year", type=int, help="the report's year (default: this year, up to today)")
    parser.add_argument("--as-of", type=day, help="report as of this local day (default: today)")
    parser.add_argument("--out", required=True, help="FILE.xlsx or FILE.csv")
    parser.set_defaults(handler=cmd_report)
