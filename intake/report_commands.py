"""`intake report ...`: the forms' reports as XLSX or CSV, with the forms' Chinese headers, each recorded
by its SHA-256 with its provenance; `intake verify FILE` checks a file against that record."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from anomaly import tables
from anomaly.progress import month_end, render
from anomaly.provenance import sha256
from anomaly.queries import exports as eq
from anomaly.queries import progress as qp
from devices.settings import RegistrySettings
from infra.database import connect
from intake.args import day, division, month
from intake.settings import cli_actor, load_settings


def cmd_progress(args: argparse.Namespace, settings: RegistrySettings) -> int:
    """`intake report progress --month YYYY-MM`: the month's figures per county (and their total)."""
    if args.month is None:
        print("intake report progress needs --month YYYY-MM", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    out = Path(args.out)
    fmt = {".xlsx": "xlsx", ".html": "html", ".htm": "html"}.get(out.suffix.lower(), "csv")
    with connect(settings.database_url, "intake-report", autocommit=True) as conn:
        title, rows = qp.report(conn, args.division, args.month, settings.timezone)
        issued = eq.provenance(
            conn, "progress", args.month.year, month_end(args.month), args.division, cli_actor(), now
        )
        body = render(fmt, title, args.month, rows, issued)
        digest = eq.record(conn, issued, fmt, body)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    print(f"progress {args.month:%Y-%m}: {len(rows)} row(s) -> {out} (SHA-256 {digest})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    settings = load_settings(RegistrySettings)
    if args.kind == "progress":
        return cmd_progress(args, settings)
    now = datetime.now(UTC)
    today = args.as_of or now.astimezone(settings.zone).date()
    out = Path(args.out)
    fmt = "xlsx" if out.suffix.lower() == ".xlsx" else "csv"
    with connect(settings.database_url, "intake-report", autocommit=True) as conn:
        year = args.year or today.year
        table = tables.build(conn, args.kind, year, today, now, settings.timezone)
        provenance = eq.provenance(conn, args.kind, year, table.as_of, None, cli_actor(), now)
        body = tables.to_xlsx(table, provenance) if fmt == "xlsx" else tables.to_csv(table)
        digest = eq.record(conn, provenance, fmt, body)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    print(f"{args.kind}: {len(table.rows)} row(s) as of {table.as_of} -> {out} (SHA-256 {digest})")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    settings = load_settings(RegistrySettings)
    try:
        body = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"intake: cannot read {args.file}: {exc.strerror}")
        return 2
    digest = sha256(body)
    with connect(settings.database_url, "intake-verify") as conn:
        found = eq.find(conn, digest)
    if found is None:
        print(
            f"{args.file}: NOT issued by this service (SHA-256 {digest} is in no record): "
            "it was changed after it was exported, or comes from elsewhere"
        )
        return 1
    where = found["division_code"] or "all divisions"
    print(
        f"{args.file}: issued by this service, unchanged: {found['report']} {found['year']} as of "
        f"{found['as_of']} for {where}, by {found['issued_by']} at {found['issued_at']:%Y-%m-%d %H:%M:%S %z},"
        " "
        f"data up to {found['cutoff'] or '—'} (SHA-256 {digest})"
    )
    return 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = commands.add_parser(
        "verify",
        help="whether a file is exactly a report this service issued, and its provenance (exit 1: not)",
    )
    verify.add_argument("file", help="an exported report (.xlsx or .csv)")
    verify.set_defaults(handler=cmd_verify)
    parser = commands.add_parser(
        "report", help="the forms' reports: registration, summary, ledger, compliance"
    )
    parser.add_argument(
        "kind",
        choices=[*tables.SHEETS, "progress"],
        help="registration: Annex 1 annual volumes for 4 years; "
        "summary: Annex 2; ledger: Annex 3; compliance: per permit; "
        "progress: a month's progress per county (--month), as .xlsx, .csv or .html",
    )
    parser.add_argument("--month", type=month, help="progress: the month (YYYY-MM)")
    parser.add_argument("--division", type=division, help="progress: only this division (default: all)")
    parser.add_argument("--year", type=int, help="the report's year (default: this year, up to today)")
    parser.add_argument("--as-of", type=day, help="report as of this local day (default: today)")
    parser.add_argument("--out", required=True, help="FILE.xlsx or FILE.csv (progress: also FILE.html)")
    parser.set_defaults(handler=cmd_report)
