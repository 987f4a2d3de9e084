"""Backup and restore of the service's database with PostgreSQL's own tools, as TimescaleDB documents
them: ``pg_dump --format=custom`` of the whole database (hypertables, their chunks and TimescaleDB's
catalog included), and a restore into an empty database between ``timescaledb_pre_restore()`` and
``timescaledb_post_restore()``, with the extension at the same version.

- The dump is written beside its destination and renamed into place, so an interrupted backup never
  leaves a file that looks whole; its SHA-256 is printed (and written as FILE.sha256).
- The restore refuses a database that already holds tables: it never merges into live data.
- The service roles (migration 0012) are created first when the target cluster lacks them, so the
  dump's grants apply; their passwords are not in a dump and are set again (`intake db password`).
- pg_dump and pg_restore are the server's own major version's (Debian: /usr/lib/postgresql/N/bin)
  when installed, else those on PATH.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from infra.errors import InfraError
from infra.roles import ROLES

Progress = Callable[[str], None]
USER_TABLES = "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"


class BackupError(InfraError):
    """A backup or restore that could not be done, and why."""


@dataclass(frozen=True, slots=True)
class Dumped:
    path: Path
    bytes: int
    sha256: str


def _tool(conn: psycopg.Connection[Any], name: str) -> str:
    major = int(conn.info.server_version) // 10_000
    own = Path(f"/usr/lib/postgresql/{major}/bin/{name}")
    if own.exists():
        return str(own)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: postgresql-client-{major})")
    return found


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, "PGCONNECT_TIMEOUT": "10"}
    )
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip()[-2000:]}")


def backup(url: str, out: Path, progress: Progress = lambda _line: None) -> Dumped:
    """Dump the database at ``url`` to ``out`` (custom format); the file and its SHA-256."""
    try:
        return _backup(url, out, progress)
    except psycopg.Error as exc:
        raise BackupError(f"backup failed: {exc}") from None


def _backup(url: str, out: Path, progress: Progress) -> Dumped:
    with psycopg.connect(url, connect_timeout=10) as conn:
        pg_dump = _tool(conn, "pg_dump")
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    if version is None:
        raise BackupError("the database has no TimescaleDB extension: is it the service's?")
    partial = out.with_name(f".{out.name}.partial")
    progress(f"dumping with {pg_dump} (TimescaleDB {version[0]}) ...")
    _run([pg_dump, "--format=custom", "--file", str(partial), "--dbname", url], "pg_dump")
    digest = hashlib.sha256()
    with partial.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    partial.replace(out)
    out.with_name(f"{out.name}.sha256").write_text(f"{digest.hexdigest()}  {out.name}\n")
    return Dumped(out, out.stat().st_size, digest.hexdigest())


def restore(url: str, dump: Path, progress: Progress = lambda _line: None) -> None:
    """Restore ``dump`` into the empty database at ``url``."""
    if not dump.is_file():
        raise BackupError(f"{dump}: no such file")
    try:
        _restore(url, dump, progress)
    except psycopg.Error as exc:
        raise BackupError(f"restore failed: {exc}") from None


def _restore(url: str, dump: Path, progress: Progress) -> None:
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        tables = conn.execute(USER_TABLES).fetchone()
        if tables and tables[0]:
            raise BackupError(
                f"the target database holds {tables[0]} table(s): restore into an empty database "
                "(createdb NAME), never over live data"
            )
        pg_restore = _tool(conn, "pg_restore")
        for role in ROLES.values():  # as migration 0012 makes them, when this cluster lacks them
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(
                        sql.Identifier(role)
                    )
                )
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        conn.execute("SELECT timescaledb_pre_restore()")
        progress(f"restoring {dump} with {pg_restore} ...")
        try:
            _run([pg_restore, "--exit-on-error", "--dbname", url, str(dump)], "pg_restore")
        finally:
            conn.execute("SELECT timescaledb_post_restore()")
        conn.execute("ANALYZE")
