"""`intake manual import FILE`: readings copied from meters' displays (人工抄表), stored as the API does."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devices.errors import DeviceError
from devices.manual import TEMPLATE_HEADERS, BatchRefused, Channel, read_rows
from devices.workbook import read_list
from infra.database import connect
from ingest.manual import store_manual
from ingest.message import Limits
from ingest.settings import CollectorSettings
from intake.output import say
from intake.settings import cli_actor, load_settings


def cmd_import(args: argparse.Namespace) -> int:
    settings = load_settings(CollectorSettings)
    limits = Limits(timedelta(seconds=settings.collector_max_future_skew_s), zone=settings.zone)
    try:
        headers, rows = read_list(args.file)
        entries, problems = read_rows(headers, rows, settings.zone, args.read_by)
    except (BatchRefused, DeviceError) as exc:
        print(f"{args.file}: not read: {exc}; nothing was stored", file=sys.stderr)
        return 1
    say(f"read {len(rows)} row(s) of {args.file}; storing {len(entries)}...")
    with connect(settings.database_url, "intake-manual", autocommit=True) as conn:
        done = store_manual(conn, entries, settings.zone, limits, cli_actor(), Channel.CLI, datetime.now(UTC))
    refused = sorted([*problems, *done.problems], key=lambda p: p.row)
    print(
        f"stored {len(done.stored)} reading(s) marked manual, {len(done.already)} already stored, "
        f"{len(refused)} row(s) refused; {done.days} daily volume(s) written"
    )
    for p in refused:
        print(f"  row {p.row} ({p.meter_id or '-'}): {p.reason}: {p.message}", file=sys.stderr)
    return 3 if refused else 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("manual", help="manual readings (人工抄表): import a batch")
    actions = parser.add_subparsers(dest="manual_command", metavar="ACTION", required=True)
    imp = actions.add_parser(
        "import",
        help="store readings copied from meters' displays, from a CSV or XLSX file",
        description=f"Columns: {', '.join(TEMPLATE_HEADERS)} (the last two optional). A time without "
        "an offset is local time (INTAKE_TIMEZONE). Each row is judged as the collector judges a "
        "meter's reading and stored with it, marked manual; every refused row is listed with its "
        "number and why, the rest are stored. Entering a file twice stores nothing twice. Exit 3 "
        "when a row was refused.",
    )
    imp.add_argument("file", type=Path, help="a .csv (UTF-8 or GB18030) or .xlsx file")
    imp.add_argument("--read-by", help="who read the meters, for rows that do not say")
    imp.set_defaults(handler=cmd_import)
