"""`intake registry ...`: import, export and sample the intake registry; issue broker credentials."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import date, datetime
from pathlib import Path

from devices import accounts, registry, sample
from devices.errors import RegistryRejected
from devices.forms import Table
from devices.settings import RegistrySettings
from devices.workbook import read_files, write_csv_folder, write_xlsx
from infra.database import connect
from infra.settings import redact_url
from intake import duplicates_commands
from intake.args import day, positive
from intake.settings import cli_actor, load_settings


def _registry_settings() -> RegistrySettings:
    return load_settings(RegistrySettings)


def _say(text: str) -> None:
    print(text, flush=True)


def cmd_import(args: argparse.Namespace) -> int:
    settings = _registry_settings()
    started = time.monotonic()
    paths = [Path(p) for p in args.files]
    _say(f"reading {', '.join(str(p) for p in paths)}")
    tables, warnings = read_files(paths, lambda source, rows: _say(f"  {source}: {rows} rows read..."))
    for raw in tables:
        _say(f"  {raw.source}: {len(raw.rows)} rows ({raw.table.value})")
    for warning in warnings:
        _say(f"warning: {warning}")
    with connect(settings.database_url, "intake-registry-import") as conn:
        _say("checking every row against the form and the registry...")
        try:
            plan = registry.plan_import(conn, tables)
        except RegistryRejected as rejected:
            print(
                f"import refused: {len(rejected.problems)} problem(s); nothing was written", file=sys.stderr
            )
            for problem in rejected.problems:
                print(f"  {problem}", file=sys.stderr)
            return 1
        for line in plan.summary():
            _say(line)
        if args.dry_run:
            _say(f"dry run: nothing written ({time.monotonic() - started:.1f} s)")
            return 0
        registry.apply_plan(conn, plan, cli_actor())
    _say(
        f"imported into {redact_url(settings.database_url)} in one transaction "
        f"({time.monotonic() - started:.1f} s)"
    )
    return 0


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    return "xlsx" if str(args.out).lower().endswith(".xlsx") else "csv"


def _write(rows: dict[Table, list[list[object]]], out: Path, fmt: str) -> str:
    if fmt == "xlsx":
        write_xlsx(out, rows)
        return str(out)
    written = write_csv_folder(out, rows)
    return ", ".join(str(p) for p in written)


def cmd_export(args: argparse.Namespace) -> int:
    settings = _registry_settings()
    started = time.monotonic()
    with connect(settings.database_url, "intake-registry-export") as conn:
        rows = registry.export_rows(conn, settings.calibration_periods())
    where = _write(rows, Path(args.out), _format(args))
    counts = ", ".join(f"{len(r)} {t.value}" for t, r in rows.items())
    _say(f"wrote {counts} to {where} ({time.monotonic() - started:.1f} s)")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    settings = _registry_settings()
    today = args.today or datetime.now(settings.zone).date()
    started = time.monotonic()
    data = sample.generate(args.intakes, args.seed, today, settings.calibration_periods())
    last: dict[str, date] = {}
    for c in data.calibrations:
        last[c.meter_id] = max(c.calibrated_on, last.get(c.meter_id, c.calibrated_on))
    rows = registry.form_rows(
        data.permits, data.intakes, data.meters, data.calibrations, last, settings.calibration_periods()
    )
    where = _write(rows, Path(args.out), _format(args))
    _say(
        f"sample registry for Chaoyang City (seed {args.seed}, as of {today}): "
        f"{len(data.intakes)} intakes, {len(data.permits)} permits, {len(data.meters)} meters, "
        f"{len(data.calibrations)} calibrations -> {where} ({time.monotonic() - started:.1f} s)"
    )
    return 0


def cmd_credentials(args: argparse.Namespace) -> int:
    settings = _registry_settings()
    given = None
    if args.collector_password_env:
        given = os.environ.get(args.collector_password_env)
        if not given:
            print(
                f"intake: {args.collector_password_env} is not set (the collector's password)",
                file=sys.stderr,
            )
            return 2
    with connect(settings.database_url, "intake-registry-credentials") as conn:
        written = accounts.issue(
            conn, Path(args.out), args.collector, args.rotate, args.rotate_collector, given
        )
    _say(
        f"{written.meters_live} meter account(s) and collector {args.collector!r} in "
        f"{written.password_file} and {written.acl_file}"
    )
    if written.plaintext is not None:
        _say(
            f"{len(written.passwords)} new password(s) written once to {written.plaintext} (mode 0600): "
            "hand them to the installers, then delete the file"
        )
    else:
        _say("no new passwords: every active meter already has one")
    if args.reload_pidfile:
        pid = int(Path(args.reload_pidfile).read_text().strip())
        os.kill(pid, signal.SIGHUP)
        _say(f"told the broker (pid {pid}) to reload its password and ACL files")
    return 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "registry",
        help="intakes, permits, meters, calibrations: import, export, sample; duplicates (重报)",
    )
    actions = parser.add_subparsers(dest="registry_command", metavar="ACTION", required=True)

    text = (
        "validate every row, then create or update intakes, permits, meters and calibrations in one "
        "transaction; on any problem print them all and write nothing"
    )
    imp = actions.add_parser(
        "import", help="import a registration workbook (.xlsx) or CSV files", description=text
    )
    imp.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help=".xlsx workbook (sheets 取水口, 取水许可, 监测计量设施, 检定记录), "
        ".csv file(s), or a folder of them",
    )
    imp.add_argument("--dry-run", action="store_true", help="check and report counts, write nothing")
    imp.set_defaults(handler=cmd_import)

    exp = actions.add_parser("export", help="write the registry with the form's Chinese headers")
    exp.add_argument("--format", choices=["xlsx", "csv"], help="default: from --out (.xlsx, else csv)")
    exp.add_argument("--out", required=True, help="the .xlsx file, or for csv a folder (one file per table)")
    exp.set_defaults(handler=cmd_export)

    smp = actions.add_parser("sample", help="write a realistic sample registry for Chaoyang City")
    smp.add_argument("--intakes", type=positive, default=300, help="how many intakes (%(default)s)")
    smp.add_argument("--seed", type=int, default=1, help="random seed; the same seed gives the same file")
    smp.add_argument("--today", type=day, help="reference date for expiries and due dates (default: today)")
    smp.add_argument("--format", choices=["xlsx", "csv"], help="default: from --out (.xlsx, else csv)")
    smp.add_argument("--out", required=True, help="the .xlsx file, or for csv a folder")
    smp.set_defaults(handler=cmd_sample)

    crd = actions.add_parser(
        "credentials",
        help="issue broker passwords per meter; write Mosquitto's password and ACL files",
        description="Issue a password to every active meter that has none (and to the collector), store "
        "only hashes, and write DIR/passwd and DIR/acl for Mosquitto (password_file, acl_file) plus the new "
        "plaintext passwords, once, to DIR/issued-<time>.csv (mode 0600). A meter may publish only under "
        "meters/<its id>/; the collector reads every meter; anonymous clients are refused.",
    )
    crd.add_argument("--out", required=True, help="folder for passwd, acl and issued-*.csv")
    crd.add_argument(
        "--rotate", nargs="+", default=[], metavar="METER", help="give these meters new passwords"
    )
    crd.add_argument("--collector", default="intake-collector", help="the collector's username (%(default)s)")
    crd.add_argument("--rotate-collector", action="store_true", help="give the collector a new password")
    crd.add_argument("--reload-pidfile", help="send SIGHUP to the broker whose pid is in this file")
    crd.add_argument(
        "--collector-password-env",
        metavar="VAR",
        help="set the collector's password to this environment variable's value (Compose passes it "
        "to both the broker and the collector); it is not written to issued-*.csv",
    )
    crd.set_defaults(handler=cmd_credentials)

    duplicates_commands.add_actions(actions)


__all__ = ["add_parser"]
