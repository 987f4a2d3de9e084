"""What handlers get injected: a database connection from the pool, the settings, the caller.

Every route under ``/api/v1`` declares the least role it needs with :func:`role`; a request without a
valid token gets 401, a valid token of a lesser role 403. The token itself is never logged.

The caller also brings their division (属地管理): a county, a city, a province, or all (None). Every
query a route runs is given it as ``scope`` (:meth:`Caller.scoped`) and keeps to it with the
database's ``in_scope()`` (migration 0017), the one place that decides what lies inside a division;
what is outside is answered as if it did not exist (404), and cannot be changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import ConnectionPool

from api import queries
from api.auth import Role, looks_like_token, token_hash
from api.errors import Forbidden, Unauthorized, Unavailable
from api.settings import ApiSettings

Conn = psycopg.Connection[Any]
_bearer = HTTPBearer(auto_error=False, description="a token from `intake users add NAME --role ROLE`")


def _pool(request: Request) -> ConnectionPool[Conn]:
    pool: ConnectionPool[Conn] = request.app.state.pool
    return pool


def _connection(request: Request, pool: ConnectionPool[Conn]) -> Iterator[Conn]:
    """A pooled connection for the request; if the request's use of it outlives the database timeout
    (a silent network), the watchdog cuts it, the request fails with 503 and the pool drops it."""
    settings: ApiSettings = request.app.state.settings
    try:
        with (
            pool.connection(timeout=10) as conn,
            request.app.state.watchdog.guard(conn, settings.database_timeout_s),
        ):
            yield conn
    except psycopg.OperationalError as exc:
        raise Unavailable("the database is not reachable; try again shortly") from exc


def _db(request: Request) -> Iterator[Conn]:
    yield from _connection(request, _pool(request))


def _read_db(request: Request) -> Iterator[Conn]:
    """The report routes' connection: a replica's when INTAKE_API_READ_DATABASE_URL is set."""
    pool: ConnectionPool[Conn] = request.app.state.read_pool
    yield from _connection(request, pool)


def _settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


Db = Annotated[Conn, Depends(_db)]
ReadDb = Annotated[Conn, Depends(_read_db)]  # reads only: may be a replica, and a little behind
Config = Annotated[ApiSettings, Depends(_settings)]


@dataclass(frozen=True, slots=True)
class Caller:
    name: str
    role: Role
    division: str | None = None  # None: all divisions

    def scoped(self, **params: Any) -> dict[str, Any]:
        """A query's parameters with the caller's scope."""
        return {**params, "scope": self.division}


def _caller(db: Db, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send 'Authorization: Bearer <token>'; tokens come from `intake users add`")
    token = credentials.credentials
    if not looks_like_token(token):
        raise Unauthorized("the bearer token is not an intake token")
    found = queries.user_by_token(db, token_hash(token))  # the handler's connection: one per request
    if found is None:
        raise Unauthorized("the token is unknown or revoked")
    return Caller(name=found[0], role=Role(found[1]), division=found[2])


def role(needed: Role) -> Callable[..., Caller]:
    """A dependency admitting callers whose role is ``needed`` or above."""

    def check(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
        if not caller.role.may(needed):
            raise Forbidden(f"this needs the {needed} role; {caller.name} is {caller.role}")
        return caller

    check.needed_role = needed  # type: ignore[attr-defined]  # read by the role tests and docs
    return check


Auditor = Annotated[Caller, Depends(role(Role.AUDITOR))]
Operator = Annotated[Caller, Depends(role(Role.OPERATOR))]
Admin = Annotated[Caller, Depends(role(Role.ADMIN))]
