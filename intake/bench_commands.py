"""`intake bench ingest|queries|gateway`: the benchmarks of benchmarks/, numbers in docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse
from pathlib import Path


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def cmd_ingest(args: argparse.Namespace) -> int:
    from benchmarks import ingest

    messages = args.messages or max(200_000 // args.batch, args.meters)
    result = ingest.run(
        args.meters, messages, args.batch, args.seconds, args.collectors, lambda s: print(s, flush=True)
    )
    command = (
        f"intake bench ingest --meters {args.meters} --messages {messages} --batch {args.batch} "
        f"--seconds {args.seconds:g} --collectors {args.collectors}"
    )
    print(ingest.record(result, command, args.json, args.record))
    if args.json:
        print(f"wrote {args.json}")
    return 0 if result.lost == 0 and result.duplicated == 0 else 1


def cmd_queries(args: argparse.Namespace) -> int:
    from benchmarks import queries

    result = queries.run(args.meters, args.days, lambda s: print(s, flush=True))
    print(queries.record(result, f"intake bench queries --meters {args.meters} --days {args.days}"))
    return 0


def cmd_gateway(args: argparse.Namespace) -> int:
    from benchmarks import gateway

    result = gateway.run(
        args.rtus, args.frames, args.batch_age_ms, args.link_ms, lambda s: print(s, flush=True)
    )
    command = (
        f"intake bench gateway --rtus {args.rtus} --frames {args.frames} "
        f"--batch-age-ms {args.batch_age_ms} --link-ms {args.link_ms}"
    )
    print(gateway.record(result, command, args.record))
    return 0 if result.lost == 0 and result.duplicated == 0 and result.volume_error_m3 == 0 else 1


def _no_record(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-record",
        dest="record",
        action="store_false",
        help="do not write the results into docs/BENCHMARKS.md (a trial run)",
    )


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = commands.add_parser(
        "bench",
        help="benchmarks on private servers: results to docs/BENCHMARKS.md",
        description="Each benchmark starts its own PostgreSQL cluster and Mosquitto (on free ports) "
        "and compares our code with a baseline in the same run.",
    )
    kinds = bench.add_subparsers(dest="bench_kind", metavar="BENCHMARK", required=True)
    ingest = kinds.add_parser(
        "ingest",
        help="collector vs mosquitto_sub (ceiling) vs a naive collector; latency, RSS, loss",
    )
    ingest.add_argument("--meters", type=_positive, default=1000, help="meters publishing (%(default)s)")
    ingest.add_argument(
        "--messages", type=_positive, help="queued messages each consumer drains (200,000 readings' worth)"
    )
    ingest.add_argument("--batch", type=_positive, default=1, help="readings per message (%(default)s)")
    ingest.add_argument(
        "--seconds", type=float, default=30, help="length of the live latency phase (%(default)s)"
    )
    ingest.add_argument(
        "--collectors", type=_positive, default=1, help="collector processes; >1: a shared subscription"
    )
    ingest.add_argument("--json", type=Path, help="also write the results as JSON here")
    _no_record(ingest)
    ingest.set_defaults(handler=cmd_ingest)
    queries = kinds.add_parser(
        "queries", help="annual volumes, fleet status, a meter's year: over a year of 15-minute readings"
    )
    queries.add_argument("--meters", type=_positive, default=2000, help="meters (%(default)s)")
    queries.add_argument("--days", type=_positive, default=365, help="days of history (%(default)s)")
    queries.set_defaults(handler=cmd_queries)
    gateway = kinds.add_parser(
        "gateway",
        help="SZY 206 frames from many RTU connections: the gateway vs a naive server; latency, loss",
    )
    gateway.add_argument("--rtus", type=_positive, default=200, help="concurrent RTUs (%(default)s)")
    gateway.add_argument("--frames", type=_positive, default=50, help="reports per RTU (%(default)s)")
    gateway.add_argument(
        "--batch-age-ms",
        type=_positive,
        default=200,
        help="the gateway's INTAKE_COLLECTOR_BATCH_AGE_MS (%(default)s, the shipped default)",
    )
    gateway.add_argument(
        "--link-ms",
        type=int,
        default=0,
        help="each RTU waits this long after a confirmation before its next frame, as over a radio link "
        "(%(default)s)",
    )
    _no_record(gateway)
    gateway.set_defaults(handler=cmd_gateway)
