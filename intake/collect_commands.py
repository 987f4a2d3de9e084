"""`intake collect` runs the collector; `intake volumes daily` and `intake meters status` read its work."""

from __future__ import annotations

import argparse
import csv
import sys
import time

import orjson

from infra.cells import safe_text
from infra.database import connect
from infra.settings import Settings
from ingest import logs, reports
from ingest.collector import Collector
from ingest.metrics import Metrics
from ingest.recompute import recompute
from ingest.settings import CollectorSettings
from intake.args import day


def cmd_collect(_args: argparse.Namespace) -> int:
    from intake.cli import load_settings

    settings = load_settings(CollectorSettings)
    return Collector(settings, logs.setup(settings.collector_log_format), Metrics()).run()


def emit(rows: list[dict[str, object]], fmt: str, columns: list[str]) -> None:
    if fmt == "json":
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns)
        writer.writeheader()
        writer.writerows({k: safe_text(v) for k, v in row.items()} for row in rows)
    else:
        widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) if rows else len(c) for c in columns}
        print("  ".join(c.ljust(widths[c]) for c in columns))
        for row in rows:
            print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))


def cmd_volumes_daily(args: argparse.Namespace) -> int:
    from intake.cli import load_settings

    if args.to < args.since:
        print(f"intake: --to {args.to} is before --from {args.since}", file=sys.stderr)
        return 2
    settings = load_settings(Settings)
    with connect(settings.database_url, "intake-volumes") as conn:
        rows = reports.daily_volumes(conn, args.meter, args.since, args.to)
    emit(rows, args.format, reports.DAILY_COLUMNS)
    return 0


def cmd_volumes_recompute(args: argparse.Namespace) -> int:
    from intake.cli import load_settings

    if args.since and args.to and args.to < args.since:
        print(f"intake: --to {args.to} is before --from {args.since}", file=sys.stderr)
        return 2
    settings = load_settings(Settings)
    started = time.monotonic()
    with connect(settings.database_url, "intake-recompute", autocommit=True) as conn:
        done = recompute(conn, settings.zone, args.meter, args.since, args.to, progress=_say)
    if args.meter and done.meters == 0:
        print(f"intake: meter {args.meter} has no readings (or is not registered)", file=sys.stderr)
        return 1
    _say(
        f"recomputed {done.meters} meter(s): {done.days_written} days written, {done.days_removed} removed, "
        f"{done.events} totalizer events ({time.monotonic() - started:.1f} s)"
    )
    return 0


def _say(line: str) -> None:
    print(line, flush=True)


def cmd_meters_status(args: argparse.Namespace) -> int:
    from intake.cli import load_settings

    settings = load_settings(Settings)
    with connect(settings.database_url, "intake-meters") as conn:
        rows = reports.meter_status(conn, args.meter)
    emit(rows, args.format, reports.STATUS_COLUMNS)
    return 0


def add_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add collect, volumes and meters; return the meters actions so other commands can join them."""
    collect = commands.add_parser(
        "collect",
        help="run the collector: MQTT readings into TimescaleDB (settings: INTAKE_COLLECTOR_*)",
        description="Subscribe to every meter (directly, or through a shared subscription with "
        "INTAKE_COLLECTOR_SUBSCRIPTION=shared), store readings in batches, acknowledge each message only "
        "after its batch commits. Refuses to start on a schema other than the code's. Stops cleanly on "
        "SIGTERM or Ctrl-C: takes nothing new, commits and acknowledges what it holds.",
    )
    collect.set_defaults(handler=cmd_collect)

    volumes = commands.add_parser("volumes", help="metered volumes: daily, recompute")
    vol = volumes.add_subparsers(dest="volumes_command", metavar="ACTION", required=True)
    daily = vol.add_parser("daily", help="a meter's daily volumes (local days), with method and flags")
    daily.add_argument("--meter", required=True)
    daily.add_argument("--from", dest="since", type=day, required=True, help="first day, YYYY-MM-DD")
    daily.add_argument("--to", type=day, required=True, help="last day, YYYY-MM-DD (included)")
    daily.add_argument("--format", choices=["table", "csv", "json"], default="table")
    daily.set_defaults(handler=cmd_volumes_daily)
    again = vol.add_parser(
        "recompute",
        help="rebuild daily volumes (and the monthly and yearly rollups) from the raw readings",
        description="After a change the stored volumes did not see (a totalizer capacity or reporting "
        "interval corrected, another INTAKE_TIMEZONE): rebuild each meter's daily volumes and totalizer "
        "events from its readings, in transactions of at most 31 days, printing each meter as it is done. "
        "Safe beside a running collector.",
    )
    again.add_argument("--meter", help="only this meter (default: every meter)")
    again.add_argument("--from", dest="since", type=day, help="first day (default: the first reading's)")
    again.add_argument("--to", type=day, help="last day, included (default: the last reading's)")
    again.set_defaults(handler=cmd_volumes_recompute)

    meters = commands.add_parser("meters", help="meter state: status")
    met = meters.add_subparsers(dest="meters_command", metavar="ACTION", required=True)
    status = met.add_parser("status", help="each meter's newest reading, last seen, last total, last status")
    status.add_argument("--meter", help="only this meter")
    status.add_argument("--format", choices=["table", "csv", "json"], default="table")
    status.set_defaults(handler=cmd_meters_status)
    return met
