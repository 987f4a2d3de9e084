"""`intake api` serves the HTTP API and the dashboard; `intake users ...` manages who may use it."""

from __future__ import annotations

import argparse
import sys

from api import accounts, queries
from api.auth import Role
from api.errors import ApiProblem
from api.settings import ApiSettings
from infra.database import connect
from infra.errors import InfraError
from intake.output import emit
from intake.settings import load_settings


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app, describe

    settings = load_settings(ApiSettings)
    if args.host:
        settings.api_host = args.host
    if args.port:
        settings.api_port = args.port
    print(f"intake api: serving {describe(settings)}", flush=True)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level=args.log_level,
        access_log=not args.no_access_log,  # paths and statuses only: tokens travel in headers
        proxy_headers=True,
    )
    return 0


def _conn() -> queries.Conn:
    return connect(load_settings(ApiSettings).database_url, "intake-users", autocommit=True)


def cmd_users(args: argparse.Namespace) -> int:
    try:
        with _conn() as conn:
            if args.users_command == "list":
                found, _total = queries.paged(
                    conn, queries.USERS, {"limit": 100_000, "offset": 0, "scope": None}
                )
                columns = ["name", "role", "division_code", "created_at", "created_by", "revoked_at"]
                emit(
                    [{c: "" if r[c] is None else r[c] for c in columns} for r in found], args.format, columns
                )
                return 0
            if args.users_command == "revoke":
                accounts.revoke(conn, args.name)
                print(f"user {args.name}: token revoked")
                return 0
            if args.users_command == "add":
                role, division = Role(args.role), args.division
                token = accounts.add(conn, args.name, role, args.by, division)
            else:
                role, division, token = accounts.rotate(conn, args.name, args.by)
    except ApiProblem as exc:
        raise InfraError(exc.detail) from None
    sees = f"division {division}" if division else "all divisions"
    print(
        f"user {args.name} ({role}, {sees}): token issued; it is shown this once, store it now:",
        file=sys.stderr,
    )
    print(token)
    return 0


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    api = commands.add_parser("api", help="serve the HTTP API (/api/v1) and the dashboard (/)")
    api.add_argument("--host", help="listen address (INTAKE_API_HOST, default 127.0.0.1)")
    api.add_argument("--port", type=int, help="listen port (INTAKE_API_PORT, default 8080)")
    api.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    api.add_argument("--no-access-log", action="store_true", help="do not log each request")
    api.set_defaults(handler=cmd_api)

    users = commands.add_parser("users", help="API users and their tokens: add, list, rotate, revoke")
    actions = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="a new user; prints their token once (stored hashed)")
    add.add_argument("name")
    add.add_argument(
        "--role",
        required=True,
        choices=[r.value for r in Role],
        help="auditor: read and export; operator: also meters, calibrations, findings; "
        "admin: also registry import and users",
    )
    add.add_argument(
        "--division",
        metavar="CODE",
        help="what the user sees and changes: a county, city or province code (intake divisions list); "
        "default: all divisions",
    )
    add.add_argument("--by", default="cli", help="who issues it (recorded)")
    add.set_defaults(handler=cmd_users)
    rotate = actions.add_parser("rotate", help="a new token for a user; the old one stops working")
    rotate.add_argument("name")
    rotate.add_argument("--by", default="cli", help="who issues it (recorded)")
    rotate.set_defaults(handler=cmd_users)
    revoke = actions.add_parser("revoke", help="the user's token stops working")
    revoke.add_argument("name")
    revoke.set_defaults(handler=cmd_users)
    listing = actions.add_parser("list", help="users, roles, when issued and revoked (never tokens)")
    listing.add_argument("--format", choices=["table", "csv", "json"], default="table")
    listing.set_defaults(handler=cmd_users)
