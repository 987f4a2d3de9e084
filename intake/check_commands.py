"""`intake check --now`: one compliance and status sweep, bringing the findings ledger up to date."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from anomaly import queries
from anomaly.thresholds import Thresholds
from devices.settings import RegistrySettings
from infra.database import connect
from intake.args import day
from intake.settings import load_settings


def cmd_check(args: argparse.Namespace) -> int:
    settings = load_settings(RegistrySettings)
    now = datetime.now(UTC)
    as_of = args.as_of or now.astimezone(settings.zone).date()
    if args.as_of:  # a sweep "as of" a past day judges silence at that day's end
        now = datetime.combine(as_of + timedelta(days=1), datetime.min.time(), settings.zone)
    started = time.monotonic()
    with connect(settings.database_url, "intake-check", autocommit=True) as conn:
        status = queries.run_status_sweep(conn, now, settings.timezone) if not args.as_of else None
        snapshot = queries.load_snapshot(conn, as_of, now, settings.timezone)
        counts = queries.run_sweep(conn, snapshot, settings.calibration_periods(), Thresholds())
        revisions = queries.review_signoffs(conn, as_of, settings.timezone) if counts is not None else 0
    if status is not None:
        print(
            f"status: {status['online']} online, {status['offline']} offline, "
            f"{status['never_reported']} never reported, {status['changed']} changed"
        )
    if counts is None:
        print("another sweep is running; nothing done")
        return 0
    print(
        f"sweep as of {as_of}: {counts['findings']} finding(s) hold; ledger: {counts['created']} new, "
        f"{counts['updated']} updated, {counts['resolved']} resolved, {counts['superseded']} superseded "
        f"({time.monotonic() - started:.1f} s)"
    )
    if revisions:
        print(f"signed-off volumes: {revisions} new revision(s) wait for review")
    return 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser(
        "check", help="run the compliance and status rules once; update the findings ledger"
    )
    check.add_argument("--now", action="store_true", help="sweep as of now (the default)")
    check.add_argument("--as-of", type=day, help="sweep as of the end of this local day instead")
    check.set_defaults(handler=cmd_check)
