"""`intake rejected replay`: rejected messages fed again through the collector's decode and store."""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from infra.database import connect
from ingest.message import Limits
from ingest.replay import replay
from ingest.settings import CollectorSettings
from intake.args import moment
from intake.settings import load_settings


def cmd_replay(args: argparse.Namespace) -> int:
    settings = load_settings(CollectorSettings)
    limits = Limits(
        timedelta(seconds=settings.collector_max_future_skew_s),
        settings.collector_max_readings_per_message,
        settings.zone,
    )
    started = time.monotonic()
    with connect(settings.database_url, "intake-replay", autocommit=True) as conn:
        done = replay(
            conn, settings.zone, limits, args.reason, args.meter, args.since, lambda s: print(s, flush=True)
        )
    if done.messages == 0:
        print("nothing to replay: no unreplayed rejected message matches")
        return 0
    print(
        f"replayed {done.messages} message(s): {done.rows_resolved} rejected row(s) resolved "
        f"({done.stored} readings stored, {done.duplicates} already stored, {done.conflicts} conflicts), "
        f"{done.rows_still_refused} still refused, {done.new_refusals} new refusal(s) kept "
        f"({time.monotonic() - started:.1f} s)"
    )
    for why, n in done.still.most_common():
        print(f"  still refused: {n} x {why}")
    return 0 if done.rows_still_refused == 0 else 3


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("rejected", help="rejected messages: replay")
    actions = parser.add_subparsers(dest="rejected_command", metavar="ACTION", required=True)
    rep = actions.add_parser(
        "replay",
        help="feed kept rejected messages through the collector's decode and store again",
        description="After the cause of a refusal is gone (a meter registered late, a removal date "
        "corrected, a database that refused writes for a reason not the data's): decode each kept payload "
        "as it was received against today's registry and store it as the collector does. What is stored "
        "is marked replayed; what is refused again stays for a later run. Idempotent. Exit 3 when "
        "something is still refused.",
    )
    rep.add_argument("--reason", help="only rows refused for this reason code (e.g. unknown_meter)")
    rep.add_argument("--meter", help="only this meter's messages")
    rep.add_argument(
        "--since", type=moment, help="only messages received at or after this time (with offset)"
    )
    rep.set_defaults(handler=cmd_replay)
