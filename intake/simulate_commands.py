"""`intake simulate backfill`: publish the registry's meters' readings for a period of history."""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import datetime
from datetime import time as clock

from devices import queries as dq
from devices.model import Intake, Meter, Permit
from infra.database import connect
from infra.settings import Settings, redact_url
from intake.args import day
from simulators.faults import Fault
from simulators.fleet import plan_fleet
from simulators.publish import Progress, backfill


def _faults(text: str) -> str:
    if text in ("", "all"):
        return text
    unknown = [f for f in text.split(",") if f not in {str(x) for x in Fault}]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown fault {', '.join(unknown)}; choose from {', '.join(Fault)}"
        )
    return text


def cmd_backfill(args: argparse.Namespace) -> int:
    from intake.cli import load_settings

    settings = load_settings(Settings)
    if args.to <= args.since:
        print(f"intake: --to {args.to} must be after --from {args.since}")
        return 2
    with connect(settings.database_url, "intake-simulate") as conn:
        meters = [dq.record_from_row(Meter, r) for r in conn.execute(dq.select_all(Meter))]
        intakes = {
            i.code: i for i in (dq.record_from_row(Intake, r) for r in conn.execute(dq.select_all(Intake)))
        }
        permits = {
            p.permit_no: p
            for p in (dq.record_from_row(Permit, r) for r in conn.execute(dq.select_all(Permit)))
        }
    zone = settings.zone
    start = datetime.combine(args.since, clock.min, zone)
    end = datetime.combine(args.to, clock.min, zone)
    epoch = datetime(args.since.year, 1, 1, tzinfo=zone)
    fleet = plan_fleet(meters, intakes, permits, args.seed, zone, epoch)[: args.meters or None]
    if not fleet:
        print("intake: no active meters in the registry: import one first (intake registry import)")
        return 1
    print(
        f"backfilling {len(fleet)} meters from {args.since} to {args.to} (exclusive) into "
        f"{redact_url(settings.mqtt_url)}, {args.per_message} reading(s) per message",
        flush=True,
    )
    started = time.monotonic()

    def report(p: Progress) -> None:
        rate = p.readings / max(time.monotonic() - started, 1e-9)
        print(f"  {p.messages} messages, {p.readings} readings ({rate:,.0f} readings/s)", flush=True)

    faults = (
        frozenset(Fault) if args.faults == "all" else frozenset(Fault(f) for f in args.faults.split(",") if f)
    )
    done = asyncio.run(
        backfill(
            settings.broker, fleet, start, end, args.per_message, report=report, faults=faults, seed=args.seed
        )
    )
    print(
        f"published {done.readings} readings in {done.messages} messages ({time.monotonic() - started:.1f} s)"
    )
    return 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    simulate = commands.add_parser("simulate", help="virtual meter fleets from the registry (aiomqtt)")
    modes = simulate.add_subparsers(dest="simulate_mode", metavar="MODE", required=True)
    fill = modes.add_parser(
        "backfill",
        help="publish a period of history for every active meter, as fast as the broker accepts it",
    )
    fill.add_argument("--from", dest="since", type=day, required=True, help="first day, YYYY-MM-DD")
    fill.add_argument("--to", type=day, required=True, help="end day (exclusive), YYYY-MM-DD")
    fill.add_argument(
        "--per-message", type=int, default=1, help="readings per message (store-and-forward arrays)"
    )
    fill.add_argument("--meters", type=int, help="only the first N meters (by meter id)")
    fill.add_argument("--seed", type=int, default=1, help="same seed, same fleet (%(default)s)")
    fill.add_argument(
        "--faults",
        default="",
        type=_faults,
        help=f"inject faults into every meter: 'all' or a list of {','.join(Fault)} "
        "(for short runs: each meter's period is built at once)",
    )
    fill.set_defaults(handler=cmd_backfill)
