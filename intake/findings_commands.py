"""`intake findings ...`: the rectification ledger (整改台账) for operators and auditors."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from anomaly import queries
from anomaly.findings import ProblemType
from anomaly.ledger import LedgerError, State
from infra.database import connect
from infra.errors import InfraError
from infra.settings import Settings
from intake.args import day
from intake.output import emit
from intake.settings import load_settings


def _conn() -> queries.Conn:
    settings = load_settings(Settings)
    return connect(settings.database_url, "intake-findings", autocommit=True)


def cmd_list(args: argparse.Namespace) -> int:
    with _conn() as conn:
        rows = queries.list_findings(conn, args.state, args.problem, args.intake)
    columns = (
        queries.LIST_COLUMNS
        if args.format != "table"
        else ["id", "state", "problem", "severity", "rule", "intake_code", "first_detected", "description"]
    )
    emit([{c: "" if r[c] is None else r[c] for c in columns} for r in rows], args.format, columns)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    with _conn() as conn:
        rows = queries.history(conn, args.id)
    emit(rows, args.format, ["at", "actor", "action", "details"])
    return 0


def _move(action: str, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    try:
        with _conn() as conn:
            if action == "rectify":
                queries.start_rectifying(
                    conn, args.id, args.measure, args.responsible, args.deadline, args.by, now
                )
            else:
                queries.close_finding(conn, args.id, args.note, args.by, now)
    except LedgerError as exc:
        raise InfraError(f"finding {args.id}: {exc}") from None
    print(f"finding {args.id}: {'rectifying' if action == 'rectify' else 'closed'} by {args.by}")
    return 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("findings", help="the rectification ledger: list, rectify, close, history")
    actions = parser.add_subparsers(dest="findings_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="findings, oldest first")
    listing.add_argument("--state", choices=[s.value for s in State])
    listing.add_argument("--problem", choices=[p.value for p in ProblemType])
    listing.add_argument("--intake", help="only this intake code")
    listing.add_argument("--format", choices=["table", "csv", "json"], default="table")
    listing.set_defaults(handler=cmd_list)

    rectify = actions.add_parser(
        "rectify", help="open -> rectifying: the measure, who is responsible, by when"
    )
    rectify.add_argument("id", type=int)
    rectify.add_argument("--measure", required=True, help="整改措施")
    rectify.add_argument("--responsible", required=True, help="责任单位及责任人")
    rectify.add_argument("--deadline", required=True, type=day, help="整改时限, YYYY-MM-DD")
    rectify.add_argument("--by", required=True, help="who records it")
    rectify.set_defaults(handler=lambda a: _move("rectify", a))

    close = actions.add_parser("close", help="rectifying -> closed (销号), with a note")
    close.add_argument("id", type=int)
    close.add_argument("--note", required=True, help="整改完成情况")
    close.add_argument("--by", required=True, help="who closes it")
    close.set_defaults(handler=lambda a: _move("close", a))

    trail = actions.add_parser("history", help="every change of one finding: when, who, what")
    trail.add_argument("id", type=int)
    trail.add_argument("--format", choices=["table", "csv", "json"], default="table")
    trail.set_defaults(handler=cmd_history)
