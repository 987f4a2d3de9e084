"""`intake`: the one console command that runs every part of the service.

Each subcommand builds its settings from ``INTAKE_*`` environment variables when it runs, prints
what it does, and exits non-zero with a one-line reason when it cannot.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from anomaly.ledger import LedgerError
from devices.errors import DeviceError
from infra import backup, migrations, roles
from infra.broker import BrokerUnavailable, probe
from infra.database import connect, timescaledb_version
from infra.errors import InfraError
from infra.settings import Settings, redact_url
from intake import (
    alerts_commands,
    api_commands,
    bench_commands,
    check_commands,
    collect_commands,
    divisions_commands,
    findings_commands,
    gateway_commands,
    manual_commands,
    monitor_commands,
    reference_commands,
    registry_commands,
    rejected_commands,
    report_commands,
    simulate_commands,
    spotcheck_commands,
    volumes_commands,
)
from intake.settings import load_settings
from simulators.errors import SimulateError

STACK_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "stack"

Handler = Callable[[argparse.Namespace], int]


def cmd_db_migrate(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)
    print(f"database {redact_url(settings.database_url)}")
    wanted = roles.passwords_from_env() if args.passwords_from_env else {}
    with connect(settings.database_url, "intake-migrate") as conn:
        applied = migrations.migrate(conn, Path(args.dir), progress=lambda m: print(f"applying {m.filename}"))
        for role, password in wanted.items():
            roles.set_password(conn, role, password)
    print(f"applied {len(applied)} migration(s)" if applied else "schema is up to date: nothing to apply")
    if wanted:
        print(f"passwords set for {', '.join(wanted)}")
    return 0


def cmd_db_password(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)
    role = roles.role_named(args.role)
    given = None
    if args.from_env:
        given = os.environ.get(args.from_env)
        if not given:
            raise InfraError(f"{args.from_env} is not set")
    with connect(settings.database_url, "intake-db-password", autocommit=True) as conn:
        password = roles.set_password(conn, role, given)
    if given is None:
        print(password)  # shown once: the role's processes log in with it
    print(f"role {role}: password set", file=sys.stderr)
    return 0


def cmd_db_backup(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)
    started = time.monotonic()
    done = backup.backup(settings.database_url, args.file, lambda line: print(line, flush=True))
    print(
        f"backup of {redact_url(settings.database_url)}: {done.path} ({done.bytes / 1e6:.1f} MB, "
        f"SHA-256 {done.sha256}, {time.monotonic() - started:.1f} s)"
    )
    return 0


def cmd_db_restore(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)
    started = time.monotonic()
    backup.restore(settings.database_url, args.file, lambda line: print(line, flush=True))
    print(
        f"restored {args.file} into {redact_url(settings.database_url)} "
        f"({time.monotonic() - started:.1f} s); set the service roles' passwords again "
        "(intake db password ROLE)"
    )
    return 0


def cmd_db_status(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)
    available = migrations.discover(Path(args.dir))
    with connect(settings.database_url, "intake-status") as conn:
        applied = set(migrations.applied_versions(conn))
    for migration in available:
        print(f"{'applied ' if migration.version in applied else 'PENDING '} {migration.filename}")
    missing = len([m for m in available if m.version not in applied])
    print(f"{len(applied)} applied, {missing} pending")
    return 0


def cmd_status(_args: argparse.Namespace) -> int:
    """One line per part: is the database there with TimescaleDB and the schema, is the broker up."""
    settings = load_settings(Settings)
    ok = True
    try:
        with connect(settings.database_url, "intake-status") as conn:
            ts_version = timescaledb_version(conn)
            applied = migrations.applied_versions(conn)
        available = migrations.discover()
        schema = f"schema {len(applied)}/{len(available)} migrations"
        ts_text = f"TimescaleDB {ts_version}" if ts_version else "NO TimescaleDB extension"
        ok = ok and ts_version is not None and len(applied) == len(available)
        print(f"database  ok    {redact_url(settings.database_url)} · {ts_text} · {schema}")
    except InfraError as exc:
        ok = False
        print(f"database  DOWN  {exc}")
    try:
        probe(settings.broker)
        print(f"broker    ok    {redact_url(settings.mqtt_url)}")
    except BrokerUnavailable as exc:
        ok = False
        print(f"broker    DOWN  {exc}")
    print(f"timezone  {settings.timezone}")
    return 0 if ok else 1


def cmd_stack(args: argparse.Namespace) -> int:
    os.execv(str(STACK_SCRIPT), [str(STACK_SCRIPT), args.action])  # noqa: S606 - our own script


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="intake",
        description="Water-intake metering service: collector, registry, monitoring, API and tools.",
        epilog="Settings come from INTAKE_* environment variables (see README.md).",
    )
    with contextlib.suppress(PackageNotFoundError):  # a source tree that was never installed
        parser.add_argument("--version", action="version", version=f"%(prog)s {version('intake-metering')}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    status = commands.add_parser("status", help="check the database, schema and broker; one line each")
    status.set_defaults(handler=cmd_status)

    db = commands.add_parser("db", help="database: migrate, status, passwords, backup and restore")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    for name, handler, text in (
        ("migrate", cmd_db_migrate, "apply pending migrations, each in its own transaction"),
        ("status", cmd_db_status, "list migrations, applied or pending"),
    ):
        sub = db_commands.add_parser(name, help=text, description=text)
        sub.add_argument(
            "--dir", default=str(migrations.MIGRATIONS_DIR), help="migrations folder (%(default)s)"
        )
        if name == "migrate":
            sub.add_argument(
                "--passwords-from-env",
                action="store_true",
                help="then set the service roles' passwords from INTAKE_DB_PASSWORD_COLLECTOR, "
                "_MONITOR, _API and _READER (the Compose file does)",
            )
        sub.set_defaults(handler=handler)
    pw = db_commands.add_parser(
        "password",
        help="set a service role's database password (collector, monitor, api, reader)",
        description="Each process kind logs in as its own least-privilege role (migration 0012), which "
        "has no password until one is set here. Without --from-env a new password is generated and "
        "printed once.",
    )
    pw.add_argument("role", help="collector, monitor, api or reader (or the role's full name)")
    pw.add_argument("--from-env", metavar="VAR", help="take the password from this environment variable")
    pw.set_defaults(handler=cmd_db_password)
    dump = db_commands.add_parser(
        "backup",
        help="dump the whole database to a file (pg_dump, custom format)",
        description="Readings, rollups, the registry, the ledger and the API's users, with TimescaleDB's "
        "hypertables and catalog: pg_dump --format=custom, written beside FILE and renamed into place, "
        "its SHA-256 printed and written to FILE.sha256. Runs beside the service (a consistent snapshot). "
        "docs/OPERATIONS.md says how to restore and how often.",
    )
    dump.add_argument(
        "file", type=Path, help="where to write the dump (e.g. /var/backups/intake-2026-12-08.dump)"
    )
    dump.set_defaults(handler=cmd_db_backup)
    back = db_commands.add_parser(
        "restore",
        help="restore a dump into the empty database INTAKE_DATABASE_URL names",
        description="Into an empty database only (createdb NAME first): creates the service roles when the "
        "cluster lacks them, then TimescaleDB's timescaledb_pre_restore(), pg_restore, "
        "timescaledb_post_restore(). The same TimescaleDB version as the dump's must be installed.",
    )
    back.add_argument("file", type=Path, help="a dump made by `intake db backup`")
    back.set_defaults(handler=cmd_db_restore)

    stack = commands.add_parser(
        "stack", help="local PostgreSQL + TimescaleDB + Mosquitto without Docker (scripts/stack)"
    )
    stack.add_argument("action", choices=["up", "down", "status", "env"])
    stack.set_defaults(handler=cmd_stack)

    registry_commands.add_parser(commands)
    divisions_commands.add_parser(commands)
    reference_commands.add_parser(commands)
    manual_commands.add_parser(commands)
    alerts_commands.add_parser(commands)
    spotcheck_commands.add_parser(commands)
    meters = collect_commands.add_parsers(commands)
    gateway_commands.add_parser(commands)
    volumes_commands.add_parser(commands)
    rejected_commands.add_parser(commands)
    monitor_commands.add_parsers(commands, meters)
    findings_commands.add_parser(commands)
    check_commands.add_parser(commands)
    report_commands.add_parser(commands)
    simulate_commands.add_parser(commands)
    bench_commands.add_parser(commands)
    api_commands.add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (InfraError, DeviceError, SimulateError, LedgerError) as exc:
        print(f"intake: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
