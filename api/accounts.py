"""API users: issue, rotate, revoke, list. The CLI (`intake users`) and the admin routes share it."""

from __future__ import annotations

import re

from api import queries
from api.auth import Role, new_token, token_hash
from api.errors import Conflict, NotFound, Unprocessable

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def add(conn: queries.Conn, name: str, role: Role, by: str) -> str:
    """A new user's token (shown once). A revoked name may be issued again."""
    if not NAME.match(name):
        raise Unprocessable(
            f"user name {name!r}: letters, digits and _ . @ -, at most 64, starting with a letter or digit",
            errors=[{"field": "name", "message": "letters, digits and _ . @ - only"}],
        )
    token = new_token()
    with conn.transaction():
        row = conn.execute(queries.ADD_USER, (name, str(role), token_hash(token), by)).fetchone()
    if row is None:
        raise Conflict(f"user {name} exists; rotate their token or revoke them first")
    return token


def rotate(conn: queries.Conn, name: str, by: str) -> tuple[Role, str]:
    token = new_token()
    with conn.transaction():
        row = conn.execute(queries.ROTATE_USER, (token_hash(token), by, name)).fetchone()
    if row is None:
        raise NotFound(f"no active user {name}")
    return Role(row[0]), token


def revoke(conn: queries.Conn, name: str) -> None:
    with conn.transaction():
        row = conn.execute(queries.REVOKE_USER, (name,)).fetchone()
    if row is None:
        raise NotFound(f"no active user {name}")
