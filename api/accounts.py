"""API users: issue, rotate, revoke, list. The CLI (`intake users`) and the admin routes share it."""

from __future__ import annotations

import re

from api import queries
from api.auth import Role, new_token, token_hash
from api.errors import Conflict, NotFound, Unprocessable

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def add(
    conn: queries.Conn, name: str, role: Role, by: str, division: str | None = None, scope: str | None = None
) -> str:
    """A new user's token (shown once). A revoked name may be issued again. ``division``: what the user
    sees (None: all); it must lie inside ``scope``, the issuer's own division (None: all)."""
    if not NAME.match(name):
        raise Unprocessable(
            f"user name {name!r}: letters, digits and _ . @ -, at most 64, starting with a letter or digit",
            errors=[{"field": "name", "message": "letters, digits and _ . @ - only"}],
        )
    if division is not None and not queries.division_known(conn, division):
        raise Unprocessable(
            f"division {division} is not known (intake divisions list)",
            errors=[{"field": "division_code", "message": "not a known division"}],
        )
    if not queries.inside(conn, division, scope):
        raise Unprocessable(
            f"division {division or 'all'} is not inside yours ({scope}): "
            "a user sees no more than the one who issues their token",
            errors=[{"field": "division_code", "message": "outside the issuer's division"}],
        )
    token = new_token()
    with conn.transaction():
        row = conn.execute(
            queries.ADD_USER, (name, str(role), division, token_hash(token), by, scope)
        ).fetchone()
    if row is None:
        raise Conflict(f"user {name} exists; rotate their token or revoke them first")
    return token


def rotate(conn: queries.Conn, name: str, by: str, scope: str | None = None) -> tuple[Role, str | None, str]:
    """A new token for an active user inside ``scope``: (role, division, token)."""
    token = new_token()
    with conn.transaction():
        row = conn.execute(queries.ROTATE_USER, (token_hash(token), by, name, scope)).fetchone()
    if row is None:
        raise NotFound(f"no active user {name}")
    return Role(row[0]), row[1], token


def revoke(conn: queries.Conn, name: str, scope: str | None = None) -> None:
    with conn.transaction():
        row = conn.execute(queries.REVOKE_USER, (name, scope)).fetchone()
    if row is None:
        raise NotFound(f"no active user {name}")
