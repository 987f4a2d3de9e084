"""`intake registry duplicates|dismiss|merge`: find intakes registered twice (重报) and settle each pair."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from anomaly.queries import duplicates as qd
from devices.duplicates import DEFAULT_NEAR_M, DuplicatePair
from infra.database import connect
from infra.settings import Settings
from intake.args import division, metres
from intake.output import emit, say
from intake.settings import cli_actor, load_settings


def _database_url() -> str:
    return load_settings(Settings).database_url


def _row(pair: DuplicatePair, about: dict[str, dict[str, object]]) -> dict[str, object]:
    a, b = about[pair.a], about[pair.b]
    return {
        "intake_a": pair.a,
        "name_a": a["name"],
        "intake_b": pair.b,
        "name_b": b["name"],
        "division": a["division"] if a["division"] == b["division"] else f"{a['division']} / {b['division']}",
        "reasons": ", ".join(pair.reasons),
        "evidence": "; ".join(e.detail for e in pair.evidence),
    }


def cmd_duplicates(args: argparse.Namespace) -> int:
    with connect(_database_url(), "intake-registry-duplicates") as conn:
        pairs = qd.check(conn, args.division, args.near_m)
        about = qd.summaries(conn, {code for p in pairs for code in (p.a, p.b)})
    rows = [_row(p, about) for p in pairs]
    emit(rows, args.format, ["intake_a", "name_a", "intake_b", "name_b", "division", "reasons", "evidence"])
    print(
        f"{len(pairs)} likely duplicate pair(s); settle each with `intake registry merge SURVIVOR DUPLICATE` "
        "or `intake registry dismiss A B`",
        file=sys.stderr,
    )
    return 0


def cmd_dismiss(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    if args.a == args.b:
        print("dismiss refused: an intake is not a duplicate of itself", file=sys.stderr)
        return 1
    with connect(_database_url(), "intake-registry-dismiss") as conn:
        if not qd.all_in_scope(conn, [args.a, args.b], None):
            print(f"dismiss refused: {args.a} and {args.b} must both be registered intakes", file=sys.stderr)
            return 1
        evidence = qd.pair_evidence(conn, args.a, args.b)
        fresh = qd.dismiss(conn, args.a, args.b, evidence, args.note, cli_actor(), now)
    say(
        f"{args.a} and {args.b} recorded as two intakes; the check will not show them again"
        if fresh is not None
        else f"{args.a} and {args.b} were already dismissed"
    )
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    if args.survivor == args.duplicate:
        print("merge refused: an intake is not a duplicate of itself", file=sys.stderr)
        return 1
    with connect(_database_url(), "intake-registry-merge") as conn:
        evidence = qd.pair_evidence(conn, args.survivor, args.duplicate)
        try:
            merged = qd.merge(conn, args.survivor, args.duplicate, evidence, args.note, cli_actor(), now)
        except qd.MergeRefused as refused:
            print(f"merge refused, nothing changed: {refused}", file=sys.stderr)
            return 1
    say(
        f"merged {merged.removed} into {merged.survivor}: {len(merged.meters)} meter(s) "
        f"({', '.join(merged.meters) or 'none'}) with their readings and volumes, "
        f"{len(merged.findings_moved)} finding(s) moved, {len(merged.findings_closed)} closed as the same "
        f"finding; {merged.removed}'s registry row is kept in review #{merged.review_id}"
    )
    return 0


def _code(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("an intake code must not be empty")
    return text.strip()


def _note(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("say why, in a few words (the note is kept with the decision)")
    return text.strip()


def add_actions(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dup = actions.add_parser(
        "duplicates",
        help="list likely duplicate intakes (重报) with the evidence",
        description="Pairs of intakes that may be one: the same owner (credit code or name) closer than "
        "--near-m, the same meter serial, the same coordinates, or near-identical names in one township. "
        "Dismissed pairs are not shown again. See docs/REGISTRY.md.",
    )
    dup.add_argument("--division", type=division, help="only intakes inside this division (a code)")
    dup.add_argument(
        "--near-m", type=metres, default=DEFAULT_NEAR_M, help="same-owner distance in metres (%(default)s)"
    )
    dup.add_argument("--format", choices=("text", "csv", "json"), default="text")
    dup.set_defaults(handler=cmd_duplicates)

    dis = actions.add_parser("dismiss", help="record that two intakes the check paired are two intakes")
    dis.add_argument("a", type=_code, metavar="INTAKE")
    dis.add_argument("b", type=_code, metavar="OTHER")
    dis.add_argument("--note", type=_note, required=True, help="why they are two (kept with the decision)")
    dis.set_defaults(handler=cmd_dismiss)

    mrg = actions.add_parser(
        "merge",
        help="fold a duplicate intake into the one that stays",
        description="In one transaction: the duplicate's meters (with their readings and volumes) and its "
        "findings move to SURVIVOR (an open finding SURVIVOR already has under the same rule closes the "
        "duplicate's copy), the duplicate's registry row is kept with the decision and then removed. "
        "Refused, with nothing changed, when both have an active meter or the duplicate has signed annual "
        "volumes.",
    )
    mrg.add_argument("survivor", type=_code, metavar="SURVIVOR")
    mrg.add_argument("duplicate", type=_code, metavar="DUPLICATE")
    mrg.add_argument("--note", type=_note, required=True, help="why they are one (kept with the decision)")
    mrg.set_defaults(handler=cmd_merge)


__all__ = ["add_actions"]
