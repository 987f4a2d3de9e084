"""`intake volumes ...`: a meter's daily volumes, their recomputation from the readings, and the
corrections people make to them (docs/MONITORING.md, "Corrections")."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from decimal import Decimal, InvalidOperation

from anomaly.queries import corrections as cq
from infra.database import connect
from infra.settings import Settings
from ingest import reports
from ingest.recompute import recompute
from intake.args import day
from intake.output import emit, say
from intake.settings import load_settings

CORRECTION_COLUMNS = ["id", "day", "kind", "volume_m3", "previous_m3", "reason", "evidence", "created_by",
                      "created_at", "revoked_by", "revoked_at", "revoke_reason"]  # fmt: skip


def _settings() -> Settings:
    return load_settings(Settings)


def cmd_daily(args: argparse.Namespace) -> int:
    if args.to < args.since:
        print(f"intake: --to {args.to} is before --from {args.since}", file=sys.stderr)
        return 2
    settings = _settings()
    with connect(settings.database_url, "intake-volumes") as conn:
        rows = reports.daily_volumes(conn, args.meter, args.since, args.to)
    emit(rows, args.format, reports.DAILY_COLUMNS)
    return 0


def cmd_recompute(args: argparse.Namespace) -> int:
    if args.since and args.to and args.to < args.since:
        print(f"intake: --to {args.to} is before --from {args.since}", file=sys.stderr)
        return 2
    settings = _settings()
    started = time.monotonic()
    with connect(settings.database_url, "intake-recompute", autocommit=True) as conn:
        done = recompute(conn, settings.zone, args.meter, args.since, args.to, progress=say)
    if args.meter and done.meters == 0:
        print(f"intake: meter {args.meter} has no readings (or is not registered)", file=sys.stderr)
        return 1
    say(
        f"recomputed {done.meters} meter(s): {done.days_written} days written, {done.days_removed} removed, "
        f"{done.events} totalizer events ({time.monotonic() - started:.1f} s)"
    )
    return 0


def _volume(text: str) -> Decimal:
    try:
        volume = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a volume in m³") from None
    if not volume.is_finite() or volume < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a volume in m³ (0 or more)")
    return volume


def cmd_correct(args: argparse.Namespace) -> int:
    settings = _settings()
    correction = cq.Correction(
        args.meter, args.day, args.to or args.day, args.volume, args.reason, args.evidence, args.by
    )
    with connect(settings.database_url, "intake-corrections", autocommit=True) as conn:
        made = cq.correct(conn, correction, datetime.now(settings.zone).date())
    what = f"a corrected volume of {args.volume} m³" if args.volume is not None else "invalid"
    say(f"{args.meter}: {len(made)} day(s) from {correction.first} to {correction.last} marked {what} "
        f"(correction {', '.join(f'#{i}' for i in made)})")  # fmt: skip
    return 0


def cmd_corrections(args: argparse.Namespace) -> int:
    settings = _settings()
    with connect(settings.database_url, "intake-corrections", autocommit=True) as conn:
        rows, _total = cq.list_corrections(conn, args.meter, 100_000, 0)
    emit([{c: "" if r[c] is None else r[c] for c in CORRECTION_COLUMNS} for r in rows], args.format,
         CORRECTION_COLUMNS)  # fmt: skip
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    settings = _settings()
    with connect(settings.database_url, "intake-corrections", autocommit=True) as conn:
        cq.revoke(conn, args.id, args.reason, args.by)
    say(f"correction #{args.id} revoked: its day reports the register's volume again")
    return 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    volumes = commands.add_parser("volumes", help="metered volumes: daily, recompute, corrections")
    vol = volumes.add_subparsers(dest="volumes_command", metavar="ACTION", required=True)
    daily = vol.add_parser("daily", help="a meter's daily volumes (local days), with method and flags")
    daily.add_argument("--meter", required=True)
    daily.add_argument("--from", dest="since", type=day, required=True, help="first day, YYYY-MM-DD")
    daily.add_argument("--to", type=day, required=True, help="last day, YYYY-MM-DD (included)")
    daily.add_argument("--format", choices=["table", "csv", "json"], default="table")
    daily.set_defaults(handler=cmd_daily)

    again = vol.add_parser(
        "recompute",
        help="rebuild daily volumes (and the monthly and yearly rollups) from the raw readings",
        description="After a change the stored volumes did not see (a totalizer capacity or reporting "
        "interval corrected, another INTAKE_TIMEZONE): rebuild each meter's daily volumes and totalizer "
        "events from its readings, in transactions of at most 31 days, printing each meter as it is done. "
        "Safe beside a running collector. Corrections in force are kept.",
    )
    again.add_argument("--meter", help="only this meter (default: every meter)")
    again.add_argument("--from", dest="since", type=day, help="first day (default: the first reading's)")
    again.add_argument("--to", type=day, help="last day, included (default: the last reading's)")
    again.set_defaults(handler=cmd_recompute)

    correct = vol.add_parser(
        "correct",
        help="mark a meter's day (or days) invalid, or give a day a corrected volume, with a reason",
        description="The register's volume stays stored and visible; reports count the correction and "
        "say so. An invalid day counts as unknown (the annual figure estimates it). A correction in force "
        "for the same day is superseded and kept. Undo with `intake volumes revoke`.",
    )
    correct.add_argument("--meter", required=True)
    correct.add_argument("--day", type=day, required=True, help="the local day, YYYY-MM-DD")
    correct.add_argument("--to", type=day, help="the last day of a range marked invalid")
    what = correct.add_mutually_exclusive_group(required=True)
    what.add_argument("--invalid", action="store_true", help="the day's volume is unknown")
    what.add_argument("--volume", type=_volume, help="the day's corrected volume, m³")
    correct.add_argument("--reason", required=True, help="why (kept with the correction)")
    correct.add_argument("--evidence", help="where the evidence is (a document, a photo's reference)")
    correct.add_argument("--by", required=True, help="who corrects (kept with the correction)")
    correct.set_defaults(handler=cmd_correct)

    listing = vol.add_parser("corrections", help="a meter's corrections, revoked ones included")
    listing.add_argument("--meter", required=True)
    listing.add_argument("--format", choices=["table", "csv", "json"], default="table")
    listing.set_defaults(handler=cmd_corrections)

    rev = vol.add_parser("revoke", help="take a correction out of force, with a reason")
    rev.add_argument("id", type=int, help="the correction's number")
    rev.add_argument("--reason", required=True)
    rev.add_argument("--by", required=True)
    rev.set_defaults(handler=cmd_revoke)
