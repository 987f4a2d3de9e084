"""The service's least-privilege database roles (migration 0012) and their passwords.

Each process kind logs in as its own role: the collector cannot read the API's users, Grafana can
only read. The roles are created without a password, so password authentication refuses them until
an administrator sets one here; the password is hashed by libpq (SCRAM) before it is sent, so it
never appears in the server's statement log.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import psycopg
from psycopg import sql

from infra.errors import InfraError

ROLES = {
    "collector": "intake_collector",
    "monitor": "intake_monitor",
    "api": "intake_api",
    "reader": "intake_reader",
}
# INTAKE_DB_PASSWORD_COLLECTOR, ..._MONITOR, ..._API, ..._READER (what the Compose file passes)
ENV_PREFIX = "INTAKE_DB_PASSWORD_"


def role_named(name: str) -> str:
    """``collector`` or ``intake_collector``: the role's name, or an error listing the choices."""
    role = ROLES.get(name, name)
    if role not in ROLES.values():
        raise InfraError(f"no service role {name!r}: one of {', '.join(ROLES)}")
    return role


def set_password(conn: psycopg.Connection[Any], role: str, password: str | None = None) -> str:
    """Set (or generate, when None) ``role``'s password; returns it."""
    password = password or secrets.token_urlsafe(24)
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
    conn.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier.decode()))
    )
    return password


def passwords_from_env() -> dict[str, str]:
    """Each service role's password from INTAKE_DB_PASSWORD_<KIND>; every one must be set."""
    found = {role: os.environ.get(f"{ENV_PREFIX}{kind.upper()}", "") for kind, role in ROLES.items()}
    missing = [f"{ENV_PREFIX}{k.upper()}" for k, r in ROLES.items() if not found[r]]
    if missing:
        raise InfraError(f"set {', '.join(missing)} (the service roles' database passwords)")
    return found
