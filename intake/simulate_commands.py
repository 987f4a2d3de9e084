"""`intake simulate backfill|run`: the registry's meters as virtual meters: history at full speed, or live."""

from __future__ import annotations

import argparse
import asyncio
import csv
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from datetime import time as clock
from pathlib import Path

from devices import queries as dq
from infra.database import connect
from infra.settings import Settings, redact_url
from intake.args import day
from intake.settings import load_settings
from simulators.clock import SimClock
from simulators.errors import SimulateError
from simulators.faults import Fault
from simulators.fleet import Planned, plan_fleet
from simulators.live import LiveProgress, run_fleet
from simulators.publish import Progress, backfill
from simulators.rtu import RtuFault, RtuProgress, plan_rtus, run_rtus


def _faults(text: str) -> str:
    if text in ("", "all"):
        return text
    unknown = [f for f in text.split(",") if f not in {str(x) for x in Fault}]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown fault {', '.join(unknown)}; choose from {', '.join(Fault)}"
        )
    return text


def _load_fleet(
    settings: Settings, since: date, args: argparse.Namespace, rtu_only: bool = False
) -> tuple[list[Planned], dict[str, tuple[str, int]]]:
    """The registry's active meters as virtual meters (epoch: 1 January of ``since``'s year), and the
    RTU address and channel of those reached through an RTU (``rtu_only``: only those)."""
    with connect(settings.database_url, "intake-simulate") as conn:
        meters, intakes, permits = dq.load_registry(conn)
    addresses = {
        m.meter_id: (m.rtu_address, m.rtu_channel or 1)
        for m in meters
        if m.is_active and m.rtu_address is not None
    }
    epoch = datetime(since.year, 1, 1, tzinfo=settings.zone)
    fleet = plan_fleet(meters, intakes, permits, args.seed, settings.zone, epoch)
    if rtu_only:
        fleet = [p for p in fleet if p.meter.meter_id in addresses]
    return fleet[args.offset :][: args.meters or None], addresses


def cmd_backfill(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)
    if args.to <= args.since:
        print(f"intake: --to {args.to} must be after --from {args.since}")
        return 2
    zone = settings.zone
    start = datetime.combine(args.since, clock.min, zone)
    end = datetime.combine(args.to, clock.min, zone)
    fleet, _ = _load_fleet(settings, args.since, args)
    if not fleet:
        print("intake: no active meters in the registry: import one first (intake registry import)")
        return 1
    passwords = read_passwords(args.credentials) if args.credentials else None
    if passwords is not None and (problem := _missing(fleet, passwords)):
        print(problem)
        return 2
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
            settings.broker,
            fleet,
            start,
            end,
            args.per_message,
            report=report,
            faults=faults,
            seed=args.seed,
            passwords=passwords,
        )
    )
    print(
        f"published {done.readings} readings in {done.messages} messages ({time.monotonic() - started:.1f} s)"
    )
    return 0


def read_passwords(paths: Sequence[Path]) -> dict[str, str]:
    """Meter passwords from `intake registry credentials`' issued-*.csv files (later files win)."""
    passwords: dict[str, str] = {}
    for path in paths:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        if not rows or rows[0] != ["username", "password"]:
            raise SimulateError(f"{path}: not an issued-*.csv file (first line must be username,password)")
        for line, row in enumerate(rows[1:], start=2):
            if len(row) != 2 or not row[0] or not row[1]:
                raise SimulateError(f"{path}, line {line}: expected username,password")
            passwords[row[0]] = row[1]
    return passwords


def _missing(fleet: Sequence[Planned], passwords: Mapping[str, str]) -> str:
    missing = [p.meter.meter_id for p in fleet if p.meter.meter_id not in passwords]
    if not missing:
        return ""
    return (
        f"intake: no password for {len(missing)} meter(s), e.g. {missing[0]}; "
        "issue them with intake registry credentials"
    )


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)
    zone = settings.zone
    real_start = datetime.now(zone)
    start = datetime.combine(args.since, clock.min, zone) if args.since else real_start
    if start > real_start:
        print(f"intake: --from {args.since} is in the future; meters may not report ahead of the clock")
        return 2
    if args.protocol == "szy206":
        return _run_rtus(settings, args, start, real_start)
    passwords = read_passwords(args.credentials) if args.credentials else None
    fleet, _ = _load_fleet(settings, start.date(), args)
    if not fleet:
        print("intake: no active meters in the registry: import one first (intake registry import)")
        return 1
    if passwords is not None and (problem := _missing(fleet, passwords)):
        print(problem)
        return 2
    sim = SimClock(start, real_start, args.speed)
    mode = (
        "real time"
        if start == real_start
        else f"{args.speed:g}x real time from {start:%Y-%m-%d %H:%M}, then real time"
    )
    print(
        f"running {len(fleet)} meters ({mode}) on {redact_url(settings.mqtt_url)}, each on its own "
        f"connection{' with its own password' if passwords else ''}; Ctrl-C stops",
        flush=True,
    )
    started = time.monotonic()

    def report(p: LiveProgress, now: datetime) -> None:
        rate = p.readings / max(time.monotonic() - started, 1e-9)
        refused = f", {len(p.refused)} refused by the broker" if p.refused else ""
        print(
            f"  {now.astimezone(zone):%Y-%m-%d %H:%M} simulated: {p.connected} connected{refused}, "
            f"{p.readings:,} readings in {p.messages:,} messages ({rate:,.0f} readings/s)",
            flush=True,
        )

    async def main() -> LiveProgress:
        stop = _until_stopped(args.duration)
        return await run_fleet(settings.broker, fleet, sim, passwords, stop, args.per_message, report)

    done = asyncio.run(main())
    for meter_id, why in sorted(done.refused.items())[:5]:
        print(f"intake: the broker refused meter {meter_id}: {why}")
    took = time.monotonic() - started
    print(f"stopped: {done.readings:,} readings in {done.messages:,} messages ({took:.1f} s)")
    return 1 if done.refused else 0


def _run_rtus(settings: Settings, args: argparse.Namespace, start: datetime, real_start: datetime) -> int:
    """`simulate run --protocol szy206`: the registry's meters on RTU addresses, as virtual RTUs."""
    if args.credentials or args.per_message != 1:
        print("intake: --credentials and --per-message are MQTT's; an RTU sends one report per frame")
        return 2
    fleet, addresses = _load_fleet(settings, start.date(), args, rtu_only=True)
    if not fleet:
        print(
            "intake: no active meter has an RTU address: register one (遥测终端地址 in the workbook, "
            "rtu_address in the API) first"
        )
        return 1
    zone = settings.zone
    faults = list(RtuFault) if args.rtu_faults == "all" else [RtuFault(f) for f in args.rtu_faults if f]
    rtus = plan_rtus([p.meter for p in fleet], addresses, faults)
    host, port = args.gateway
    sim = SimClock(start, real_start, args.speed)
    played = ", ".join(f"{r.address} {r.fault}" for r in rtus if r.fault) or "none"
    print(
        f"running {len(rtus)} RTUs for {len(fleet)} meters against the SZY 206 gateway on {host}:{port} "
        f"(faults: {played}); Ctrl-C stops",
        flush=True,
    )
    started = time.monotonic()

    def report(p: RtuProgress, now: datetime) -> None:
        print(
            f"  {now.astimezone(zone):%Y-%m-%d %H:%M} simulated: {p.connected} connected, "
            f"{p.sent:,} reports sent, {p.confirmed:,} confirmed, {p.resent:,} sent again",
            flush=True,
        )

    async def main() -> RtuProgress:
        return await run_rtus(rtus, host, port, sim, zone, _until_stopped(args.duration), report)

    done = asyncio.run(main())
    took = time.monotonic() - started
    print(
        f"stopped: {done.confirmed:,} reports confirmed ({len(done.confirmed_readings):,} readings), "
        f"{done.resent:,} sent again, in {done.connections:,} connections ({took:.1f} s)"
    )
    if not done.connections:
        print(f"intake: no RTU could connect to {host}:{port}: is `intake gateway szy206` running there?")
        return 1
    return 0


def _until_stopped(duration: float | None) -> asyncio.Event:
    """Set by SIGINT, SIGTERM or after ``duration`` seconds; made inside the running loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if duration:
        loop.call_later(duration, stop.set)
    return stop


def _rtu_faults(text: str) -> list[str]:
    if text == "all":
        return ["all"]
    names = [f for f in text.split(",") if f]
    unknown = [f for f in names if f not in {str(x) for x in RtuFault}]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown RTU fault {', '.join(unknown)}; choose from {', '.join(RtuFault)}"
        )
    return names


def _host_port(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:6206)")
    return host.strip("[]"), int(port)


def _at_least(low: float, kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{text} is below {low:g}")
        return value

    return parse


def _common(mode: argparse.ArgumentParser) -> None:
    mode.add_argument(
        "--credentials",
        type=Path,
        nargs="+",
        help="issued-*.csv files from intake registry credentials: each meter logs in as itself",
    )
    mode.add_argument(
        "--per-message",
        type=_at_least(1, int),
        default=1,
        help="readings per message at most (store-and-forward arrays)",
    )
    mode.add_argument("--meters", type=_at_least(1, int), help="only N meters (by meter id, after --offset)")
    mode.add_argument(
        "--offset", type=_at_least(0, int), default=0, help="skip the first K meters (by meter id)"
    )
    mode.add_argument("--seed", type=int, default=1, help="same seed, same fleet (%(default)s)")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    simulate = commands.add_parser(
        "simulate", help="virtual meter fleets from the registry: MQTT (aiomqtt), or RTUs over TCP (szy206)"
    )
    modes = simulate.add_subparsers(dest="simulate_mode", metavar="MODE", required=True)
    fill = modes.add_parser(
        "backfill",
        help="publish a period of history for every active meter, as fast as the broker accepts it",
    )
    fill.add_argument("--from", dest="since", type=day, required=True, help="first day, YYYY-MM-DD")
    fill.add_argument("--to", type=day, required=True, help="end day (exclusive), YYYY-MM-DD")
    _common(fill)
    fill.add_argument(
        "--faults",
        default="",
        type=_faults,
        help=f"inject faults into every meter: 'all' or a list of {','.join(Fault)} "
        "(for short runs: each meter's period is built at once)",
    )
    fill.set_defaults(handler=cmd_backfill)
    run = modes.add_parser(
        "run",
        help="a live fleet: each meter its own connection, birth and will, readings at its interval",
        description="Every meter connects on its own (with its own password from --credentials), leaves "
        "a last will 'offline', announces 'online' and reports at its interval. With --from in the past the "
        "simulated clock runs --speed times faster until it reaches now, then in real time: a year of "
        "history followed by a live fleet. With --protocol szy206 the meters registered on an RTU address "
        "are virtual RTUs instead: each connects to the gateway over TCP, logs in, sends a self-report "
        "(AFN C0H) per reading time with every channel, waits for the confirmation and sends again on a "
        "new connection until it comes; --rtu-faults plays one fault each on the first RTUs.",
    )
    run.add_argument(
        "--protocol",
        choices=("mqtt", "szy206"),
        default="mqtt",
        help="mqtt: JSON over MQTT to the broker; szy206: RTUs over TCP to the gateway (%(default)s)",
    )
    run.add_argument(
        "--gateway",
        type=_host_port,
        default=("127.0.0.1", 6206),
        metavar="HOST:PORT",
        help="where `intake gateway szy206` listens, for --protocol szy206 (127.0.0.1:6206)",
    )
    run.add_argument(
        "--rtu-faults",
        type=_rtu_faults,
        default=[],
        help=f"for --protocol szy206: 'all' or a list of {','.join(RtuFault)}, one RTU each",
    )
    run.add_argument("--from", dest="since", type=day, help="simulated start day (default: now, real time)")
    run.add_argument(
        "--speed",
        type=_at_least(1, float),
        default=1.0,
        help="simulated seconds per second until caught up, at least 1 (%(default)s)",
    )
    run.add_argument(
        "--duration", type=_at_least(0, float), help="stop after this many seconds (default: until Ctrl-C)"
    )
    _common(run)
    run.set_defaults(handler=cmd_run)
