"""Opening connections to the service's PostgreSQL/TimescaleDB database."""

from __future__ import annotations

import psycopg

from infra.errors import InfraError
from infra.settings import redact_url


class DatabaseUnavailable(InfraError):
    """The database could not be reached (transient: retry later)."""


def connect(
    url: str, application_name: str = "intake", **kwargs: object
) -> psycopg.Connection[tuple[object, ...]]:
    """A new connection; raises :class:`DatabaseUnavailable` with the URL (password hidden) on failure."""
    try:
        return psycopg.connect(url, application_name=application_name, connect_timeout=10, **kwargs)  # type: ignore[arg-type]
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(f"cannot connect to {redact_url(url)}: {reason}") from exc


def timescaledb_version(conn: psycopg.Connection[tuple[object, ...]]) -> str | None:
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return str(row[0]) if row else None
