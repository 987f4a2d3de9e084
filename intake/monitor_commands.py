"""`intake monitor` (status sweep every minute, compliance hourly) and `intake meters summary|daily`."""

from __future__ import annotations

import argparse
import signal
import threading
import time
from datetime import UTC, datetime
from types import FrameType

import psycopg

from anomaly import queries
from anomaly.thresholds import Thresholds
from devices.settings import RegistrySettings
from infra.database import DatabaseUnavailable, Watchdog, connect
from infra.migrations import check_current
from infra.systemd import Heartbeat
from intake.args import day
from intake.output import emit
from intake.settings import load_settings


def _settings() -> RegistrySettings:
    return load_settings(RegistrySettings)


# A sweep's connection is cut when the sweep outlives this many database timeouts (a silent network):
# each statement has INTAKE_DATABASE_TIMEOUT_S; a whole sweep runs a few dozen of them.
SWEEP_TIMEOUTS = 10


def sweep_once(settings: RegistrySettings, compliance: bool, watchdog: Watchdog) -> str:
    """One status sweep and, if asked, one compliance sweep; a line saying what happened."""
    now = datetime.now(UTC)
    with (
        connect(settings.database_url, "intake-monitor", settings.database_bounds, autocommit=True) as conn,
        watchdog.guard(conn, SWEEP_TIMEOUTS * settings.database_timeout_s),
    ):
        status = queries.run_status_sweep(conn, now, settings.timezone)
        line = (
            "status: another sweep running"
            if status is None
            else f"status: {status['online']} online, {status['offline']} offline, "
            f"{status['never_reported']} never reported, {status['changed']} changed"
        )
        if compliance:
            as_of = now.astimezone(settings.zone).date()
            snapshot = queries.load_snapshot(conn, as_of, now, settings.timezone)
            counts = queries.run_sweep(conn, snapshot, settings.calibration_periods(), Thresholds())
            revisions = queries.review_signoffs(conn, as_of, settings.timezone) if counts is not None else 0
            line += (
                "; compliance: another sweep running"
                if counts is None
                else f"; compliance: {counts['findings']} finding(s), {counts['created']} new, "
                f"{counts['updated']} updated, {counts['resolved']} resolved, "
                f"{counts['superseded']} superseded, {revisions} new revision(s)"
            )
    return line


def cmd_monitor(args: argparse.Namespace) -> int:
    settings = _settings()
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with connect(settings.database_url, "intake-monitor", settings.database_bounds) as conn:
        check_current(conn)  # refuses a schema other than the code's, naming what is missing
    watchdog = Watchdog()
    heartbeat = Heartbeat()  # systemd: ready, and a WATCHDOG=1 every round (deploy/systemd/)
    heartbeat.ready()
    last_compliance = float("-inf")
    print(
        f"monitor: status every {args.status_every} s, compliance every {args.compliance_every} s", flush=True
    )
    while not stop.is_set():
        heartbeat.beat()
        due = time.monotonic() - last_compliance >= args.compliance_every
        started = time.monotonic()
        try:
            line = sweep_once(settings, due, watchdog)
            if due:
                last_compliance = started
            print(
                f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} {line} ({time.monotonic() - started:.1f} s)",
                flush=True,
            )
        except (DatabaseUnavailable, psycopg.OperationalError) as exc:
            print(
                f"{datetime.now(UTC):%H:%M:%S} database unavailable, retrying next round: {exc}", flush=True
            )
        stop.wait(args.status_every)
    print("monitor: stopped", flush=True)
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    settings = _settings()
    with connect(settings.database_url, "intake-meters", autocommit=True) as conn:
        rows = queries.fleet_summary(conn)
    emit(rows, args.format, ["county", "online", "offline", "never_reported", "total"])
    return 0


def cmd_daily(args: argparse.Namespace) -> int:
    settings = _settings()
    with connect(settings.database_url, "intake-meters", autocommit=True) as conn:
        rows = queries.meter_days(conn, args.meter, args.since, args.to, settings.timezone)
    emit(rows, args.format, ["day", "online_share", "observed_share", "readings", "completeness", "partial"])
    if args.format == "table" and any(r["online_share"] is None for r in rows):
        print("— : not watched (before the meter's first recorded status, or not yet)")
    return 0


def add_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    meters: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    monitor = commands.add_parser(
        "monitor", help="run the status sweep every minute and the compliance sweep hourly"
    )
    monitor.add_argument(
        "--status-every", type=float, default=60, help="seconds between status sweeps (%(default)s)"
    )
    monitor.add_argument(
        "--compliance-every", type=float, default=3600, help="seconds between compliance sweeps (%(default)s)"
    )
    monitor.set_defaults(handler=cmd_monitor)

    summary = meters.add_parser("summary", help="per county: meters online, offline, never reported")
    summary.add_argument("--format", choices=["table", "csv", "json"], default="table")
    summary.set_defaults(handler=cmd_summary)

    daily = meters.add_parser("daily", help="a meter's days: share online and 到报率 (completeness)")
    daily.add_argument("--meter", required=True)
    daily.add_argument("--from", dest="since", type=day, required=True)
    daily.add_argument("--to", type=day, required=True)
    daily.add_argument("--format", choices=["table", "csv", "json"], default="table")
    daily.set_defaults(handler=cmd_daily)
