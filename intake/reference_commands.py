"""`intake reference import|list|check`: the lists a county checks its registry against (漏报, 信息不实)."""

from __future__ import annotations

import argparse
import hashlib
import sys
from datetime import UTC, datetime
from pathlib import Path

from anomaly.queries import references as qr
from anomaly.reconcile import DEFAULT_NEAR_M, REPORT_COLUMNS, Reconciliation, report_rows, summary
from devices import queries as dq
from devices.errors import DeviceError
from devices.references import KIND_LABELS, ListKind, ReferenceRejected, read_entries
from devices.workbook import read_list
from infra.database import connect
from infra.settings import Settings
from intake.args import division, metres
from intake.output import emit, say
from intake.settings import cli_actor, load_settings


def _url() -> str:
    return load_settings(Settings).database_url


def _report(result: Reconciliation, counts: dict[str, int] | None, fmt: str) -> None:
    emit(report_rows(result), fmt, REPORT_COLUMNS)
    ledger = ""
    if counts:
        ledger = f"; ledger: {counts['created']} new finding(s), {counts['updated']} updated"
    print(summary(result) + ledger, file=sys.stderr)


def cmd_import(args: argparse.Namespace) -> int:
    kind = ListKind(args.kind)
    say(f"reading {args.file} as a {KIND_LABELS[kind]}")
    now = datetime.now(UTC)
    try:
        headers, rows = read_list(args.file)
        with connect(_url(), "intake-reference") as conn:
            entries = read_entries(kind, headers, rows, dq.load_divisions(conn), args.division)
            digest = hashlib.sha256(args.file.read_bytes()).hexdigest()
            list_id = qr.import_list(
                conn, kind, args.file.name, digest, entries, args.division, cli_actor(), now
            )
            say(f"kept {len(entries)} entries as list #{list_id}; checking the registry against it...")
            listed = qr.one_list(conn, list_id, None)
            assert listed is not None
            result, counts = qr.check_and_record(conn, listed, cli_actor(), now, args.near_m)
    except ReferenceRejected as rejected:
        print(f"list refused: {len(rejected.problems)} problem(s); nothing was written", file=sys.stderr)
        for problem in rejected.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except (DeviceError, qr.OutsideDivision) as exc:
        print(f"list refused: {exc}", file=sys.stderr)
        return 1
    _report(result, counts, args.format)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with connect(_url(), "intake-reference") as conn:
        rows = qr.lists(conn, args.division, limit=10_000)
    columns = ["id", "kind", "division_name", "source", "entries", "imported_by", "imported_at"]
    emit([{c: r[c] for c in columns} for r in rows], args.format, columns)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    with connect(_url(), "intake-reference") as conn:
        listed = qr.one_list(conn, args.list_id, None)
        if listed is None:
            print(f"no reference list #{args.list_id} (intake reference list)", file=sys.stderr)
            return 1
        result, counts = qr.check_and_record(conn, listed, cli_actor(), now, args.near_m)
    _report(result, counts, args.format)
    return 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "reference", help="check the registry against reference lists: omissions (漏报) and mismatches"
    )
    modes = parser.add_subparsers(dest="reference_command", metavar="COMMAND", required=True)
    kinds = ", ".join(f"{k.value} ({KIND_LABELS[k]})" for k in ListKind)
    imp = modes.add_parser(
        "import",
        help="import a reference list (.xlsx or .csv), check the registry against it, record findings",
        description=f"Kinds: {kinds}. Each kind's columns are in docs/REGISTRY.md. A list with any bad row "
        "is refused whole, every problem listed with its row. Entries with no registered intake become "
        "应登未登 findings; permits of a ledger no intake references, and fields that disagree, too.",
    )
    imp.add_argument("file", type=Path)
    imp.add_argument("--kind", required=True, choices=[k.value for k in ListKind])
    imp.add_argument(
        "--division", type=division, help="the county the list is for (rows without 所在县区 or 行政区划代码)"
    )
    imp.add_argument(
        "--near-m",
        type=metres,
        default=DEFAULT_NEAR_M,
        help="an entry with coordinates is registered if an intake lies this close, in metres (%(default)s)",
    )
    imp.add_argument("--format", choices=("text", "csv", "json"), default="text")
    imp.set_defaults(handler=cmd_import)
    lst = modes.add_parser("list", help="the reference lists imported")
    lst.add_argument("--division", type=division, help="only lists of this division and those inside it")
    lst.add_argument("--format", choices=("text", "csv", "json"), default="text")
    lst.set_defaults(handler=cmd_list)
    chk = modes.add_parser("check", help="check the registry against an imported list again, record findings")
    chk.add_argument("list_id", type=int, metavar="LIST")
    chk.add_argument("--near-m", type=metres, default=DEFAULT_NEAR_M)
    chk.add_argument("--format", choices=("text", "csv", "json"), default="text")
    chk.set_defaults(handler=cmd_check)
