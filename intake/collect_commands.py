"""`intake collect` runs the collector; `intake meters status` reads its work."""

from __future__ import annotations

import argparse

from infra.database import connect
from infra.settings import Settings
from ingest import logs, reports
from ingest.collector import Collector
from ingest.metrics import Metrics
from ingest.settings import CollectorSettings
from intake.output import emit
from intake.settings import load_settings


def cmd_collect(_args: argparse.Namespace) -> int:
    settings = load_settings(CollectorSettings)
    return Collector(settings, logs.setup(settings.collector_log_format), Metrics()).run()


def cmd_meters_status(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)
    with connect(settings.database_url, "intake-meters") as conn:
        rows = reports.meter_status(conn, args.meter)
    emit(rows, args.format, reports.STATUS_COLUMNS)
    return 0


def add_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add collect and meters; return the meters actions so other commands can join them."""
    collect = commands.add_parser(
        "collect",
        help="run the collector: MQTT readings into TimescaleDB (settings: INTAKE_COLLECTOR_*)",
        description="Subscribe to every meter (directly, or through a shared subscription with "
        "INTAKE_COLLECTOR_SUBSCRIPTION=shared), store readings in batches, acknowledge each message only "
        "after its batch commits. Refuses to start on a schema other than the code's. Stops cleanly on "
        "SIGTERM or Ctrl-C: takes nothing new, commits and acknowledges what it holds.",
    )
    collect.set_defaults(handler=cmd_collect)

    meters = commands.add_parser("meters", help="meter state: status")
    met = meters.add_subparsers(dest="meters_command", metavar="ACTION", required=True)
    status = met.add_parser("status", help="each meter's newest reading, last seen, last total, last status")
    status.add_argument("--meter", help="only this meter")
    status.add_argument("--format", choices=["table", "csv", "json"], default="table")
    status.set_defaults(handler=cmd_meters_status)
    return met
