"""`intake spotcheck draw|assign|record|report`: supervisory spot checks (监督检查, "四不两直")."""

from __future__ import annotations

import argparse
import secrets
import sys
from datetime import UTC, date, datetime

from anomaly.queries import spotchecks as qs
from anomaly.spotcheck import Inspection, draw, summarize
from infra.database import connect
from infra.settings import Settings
from intake.args import day, division, positive
from intake.output import emit, say
from intake.settings import cli_actor, load_settings

REPORT_COLUMNS = [
    "intake_code", "division_name", "risk", "name", "inspector", "inspected_on", "found", "meter_serial",
    "meter_as_registered", "rectification_real", "findings", "notes",
]  # fmt: skip


def _url() -> str:
    return load_settings(Settings).database_url


def _exists(conn: qs.Conn, spot_check: int) -> bool:
    if qs.one(conn, spot_check, None) is None:
        print(f"no spot check #{spot_check} (intake spotcheck draw makes one)", file=sys.stderr)
        return False
    return True


def cmd_draw(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    with connect(_url(), "intake-spotcheck") as conn:
        people = qs.population(conn, args.division, now.date())
        if not people:
            print(f"no placed intakes in {args.division or 'any division'}", file=sys.stderr)
            return 1
        drawn = draw(people, seed, share=args.share, count=args.count)
        made = qs.create(
            conn, owner_division=None, division=args.division, title=args.title, seed=seed, share=args.share,
            count=args.count, population_size=len(people), drawn=drawn, actor=cli_actor(), now=now,
        )  # fmt: skip
    risks = {str(r): sum(1 for d in drawn if d.risk == r) for r in {d.risk for d in drawn}}
    say(
        f"spot check #{made}: {len(drawn)} of {len(people)} intakes drawn with seed {seed} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(risks.items()))}); the same seed draws the same sample"
    )
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    inspectors = [n.strip() for n in args.inspectors.split(",") if n.strip()]
    if not inspectors:
        print("name at least one inspector", file=sys.stderr)
        return 1
    with connect(_url(), "intake-spotcheck") as conn:
        if not _exists(conn, args.spot_check):
            return 1
        try:
            given = qs.assign(conn, args.spot_check, inspectors, args.intakes or None)
        except qs.NotInSample as exc:
            print(f"assign refused: {exc}", file=sys.stderr)
            return 1
    for who in inspectors:
        say(f"{who}: {sum(1 for w in given.values() if w == who)} intake(s)")
    return 0


def _yes_no(text: str) -> bool:
    if text.lower() in ("yes", "y", "是", "true"):
        return True
    if text.lower() in ("no", "n", "否", "false"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r}: yes or no (是/否)")


def cmd_record(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    try:
        found = Inspection(
            args.exists, args.meter_serial, args.rectification_real, tuple(args.photo), args.notes
        )
    except ValueError as exc:
        print(f"inspection refused: {exc}", file=sys.stderr)
        return 1
    if args.on > date.today():
        print("inspection refused: --on is in the future", file=sys.stderr)
        return 1
    with connect(_url(), "intake-spotcheck") as conn:
        if not _exists(conn, args.spot_check):
            return 1
        try:
            ids = qs.record(conn, args.spot_check, args.intake, found, args.on, args.by, cli_actor(), now)
        except qs.NotInSample as exc:
            print(f"inspection refused: {exc}", file=sys.stderr)
            return 1
    say(
        f"recorded; {len(ids)} finding(s) raised: {', '.join(map(str, ids))}"
        if ids
        else "recorded; nothing contradicted"
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    with connect(_url(), "intake-spotcheck") as conn:
        held = qs.one(conn, args.spot_check, None)
        if held is None:
            print(f"no spot check #{args.spot_check}", file=sys.stderr)
            return 1
        items = qs.items(conn, args.spot_check)
    rows: list[dict[str, object]] = [
        {c: (i["registered"]["name"] if c == "name" else i[c]) for c in REPORT_COLUMNS} for i in items
    ]
    emit(rows, args.format, REPORT_COLUMNS)
    summary = summarize(items)
    print(
        f"#{held['id']} {held['title']} ({held['division_name'] or 'all divisions'}, seed {held['seed']}): "
        + ", ".join(f"{k} {v}" for k, v in summary.items()),
        file=sys.stderr,
    )
    return 0


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share (0-1)") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a share is more than 0 and at most 1")
    return value


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "spotcheck", help="supervisory spot checks (监督检查): draw, assign, record, report"
    )
    modes = parser.add_subparsers(dest="spotcheck_command", metavar="COMMAND", required=True)
    drw = modes.add_parser(
        "draw",
        help="draw a reproducible stratified sample of a division's intakes",
        description="Stratified by county and by risk (over permit, no meter, a finding closed in the last "
        "90 days; intakes at risk count twice), at least one per stratum where the sample allows. The same "
        "seed on the same registry draws the same sample. See docs/MONITORING.md.",
    )
    drw.add_argument("--division", type=division, help="the division checked (default: all)")
    size = drw.add_mutually_exclusive_group(required=True)
    size.add_argument("--share", type=_share, help="the share of its intakes, e.g. 0.05")
    size.add_argument("--count", type=positive, help="how many intakes")
    drw.add_argument("--seed", type=int, help="the generator's seed (default: random, printed)")
    drw.add_argument("--title", required=True, help="e.g. 2026年第四季度监督检查")
    drw.set_defaults(handler=cmd_draw)
    asg = modes.add_parser("assign", help="hand the sample's intakes to inspectors in turn")
    asg.add_argument("spot_check", type=int, metavar="ID")
    asg.add_argument("--inspectors", required=True, help="names, comma-separated")
    asg.add_argument("--intakes", nargs="+", help="only these (default: those not yet assigned)")
    asg.set_defaults(handler=cmd_assign)
    rec = modes.add_parser("record", help="record what an inspection found at one sampled intake")
    rec.add_argument("spot_check", type=int, metavar="ID")
    rec.add_argument("intake", metavar="INTAKE")
    rec.add_argument(
        "--exists", type=_yes_no, required=True, help="the intake exists where registered (yes/no)"
    )
    rec.add_argument("--meter-serial", help="the serial on the meter found (none: leave out)")
    rec.add_argument(
        "--rectification-real", type=_yes_no, help="for a finding closed recently: rectified? (yes/no)"
    )
    rec.add_argument("--photo", action="append", default=[], help="a photo's reference (repeat)")
    rec.add_argument("--notes", default="")
    rec.add_argument("--on", type=day, default=date.today(), help="the inspection's day (default: today)")
    rec.add_argument("--by", required=True, help="the inspector")
    rec.set_defaults(handler=cmd_record)
    rpt = modes.add_parser("report", help="the sample and its results")
    rpt.add_argument("spot_check", type=int, metavar="ID")
    rpt.add_argument("--format", choices=("text", "csv", "json"), default="text")
    rpt.set_defaults(handler=cmd_report)
