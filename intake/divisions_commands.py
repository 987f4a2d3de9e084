"""`intake divisions list|import|unmapped`: the administrative divisions intakes and users belong to."""

from __future__ import annotations

import argparse
from pathlib import Path

from devices import queries as dq
from devices.divisions import read_csv
from infra.database import connect
from infra.settings import Settings
from intake.args import division
from intake.output import emit, say
from intake.settings import load_settings


def cmd_list(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)
    with connect(settings.database_url, "intake-divisions") as conn:
        inside = dq.divisions_inside(conn, args.under)
    rows: list[dict[str, object]] = [
        {
            "code": d.code,
            "name": d.name,
            "short_name": d.short_name,
            "level": str(d.level),
            "parent": d.parent_code,
            "kind": d.kind,
        }
        for d in inside
    ]
    emit(rows, args.format, ["code", "name", "short_name", "level", "parent", "kind"])
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)
    text = args.file.read_text(encoding="utf-8")
    with connect(settings.database_url, "intake-divisions") as conn:
        divisions = read_csv(text, str(args.file), dq.load_divisions(conn))
        with conn.transaction(), conn.cursor() as cur:
            changed = 0
            for d in divisions:
                cur.execute(
                    dq.UPSERT_DIVISION, (d.code, d.name, d.short_name, str(d.level), d.parent_code, d.kind)
                )
                changed += cur.rowcount
    say(f"{len(divisions)} division(s) in {args.file}: {changed} created or changed, the rest unchanged")
    return 0


def cmd_unmapped(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)
    with connect(settings.database_url, "intake-divisions") as conn:
        rows = conn.execute(dq.UNMAPPED_INTAKES).fetchall()
    emit(
        [{"code": c, "name": n, "county": county} for c, n, county in rows],
        args.format,
        ["code", "name", "county"],
    )
    if rows:
        say(
            f"{len(rows)} intake(s) without a division: "
            "import them again with a known 所在县区 or 行政区划代码"
        )
    return 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    divisions = commands.add_parser(
        "divisions", help="administrative divisions (行政区划): list, import more, intakes not placed"
    )
    modes = divisions.add_subparsers(dest="divisions_command", metavar="COMMAND", required=True)
    listing = modes.add_parser("list", help="the known divisions (Liaoning ships with the schema)")
    listing.add_argument("--under", type=division, help="only this division and those inside it (a code)")
    listing.add_argument("--format", choices=("text", "csv", "json"), default="text")
    listing.set_defaults(handler=cmd_list)
    load = modes.add_parser(
        "import",
        help="add or rename divisions from a CSV (code,name,short_name,kind); idempotent",
        description="Each row's level and parent follow from its six-digit code (XX0000 a province, "
        "XXXX00 a city, else a county-level unit); kind is gb2260 (default) or zone (a development zone, "
        "a county-level unit of our own code scheme: the city's four digits and 71-79). "
        "See docs/REGISTRY.md.",
    )
    load.add_argument("file", type=Path, help="the CSV file (UTF-8)")
    load.set_defaults(handler=cmd_import)
    unmapped = modes.add_parser("unmapped", help="intakes whose county matched no division")
    unmapped.add_argument("--format", choices=("text", "csv", "json"), default="text")
    unmapped.set_defaults(handler=cmd_unmapped)
