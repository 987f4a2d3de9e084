"""Numbered plain-SQL migrations, applied in order, each in its own transaction.

Files are named ``NNNN_what_it_does.sql`` in the ``migrations/`` folder at the top of the
repository. Applied files are recorded in ``schema_migrations`` with a SHA-256 of their text;
a recorded file that has since changed, or disappeared, stops the run: the schema would no longer
be what the files say, and only a person can decide how to repair that.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from infra.errors import MigrationError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Serialises concurrent migrators (several collectors starting at once): any fixed 64-bit key.
_LOCK_KEY = 0x696E74616B65  # "intake"

CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""
SELECT_APPLIED = "SELECT version, checksum FROM schema_migrations ORDER BY version"
INSERT_APPLIED = "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read every migration file in ``directory``, in version order."""
    if not directory.is_dir():
        raise MigrationError(f"migrations folder {directory} does not exist")
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(
                f"{path}: migration files must be named NNNN_lowercase_words.sql (e.g. 0002_meter_state.sql)"
            )
        version = int(match.group(1))
        if version in found:
            raise MigrationError(
                f"{path}: version {version:04d} is already used by {found[version].filename}"
            )
        text = path.read_bytes()
        found[version] = Migration(
            version=version,
            name=match.group(2),
            sql=text.decode("utf-8"),
            checksum=hashlib.sha256(text).hexdigest(),
        )
    return [found[v] for v in sorted(found)]


def pending(available: Iterable[Migration], applied: Mapping[int, str]) -> list[Migration]:
    """The migrations still to apply, after checking the applied ones are unchanged."""
    by_version = {m.version: m for m in available}
    for version, checksum in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version:04d} applied, but no such file exists: "
                "this code is older than the database"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"{migration.filename} was changed after it was applied "
                f"(recorded sha256 {checksum[:12]}..., file now {migration.checksum[:12]}...): "
                "restore the file and put the change in a new migration"
            )
    return [m for v, m in sorted(by_version.items()) if v not in applied]


def migrate(
    conn: psycopg.Connection[tuple[object, ...]],
    directory: Path = MIGRATIONS_DIR,
    progress: Callable[[Migration], None] = lambda _m: None,
) -> list[Migration]:
    """Apply the pending migrations; return those applied (none when the schema is current)."""
    available = discover(directory)
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        conn.execute(CREATE_LEDGER)
        applied = {int(str(v)): str(c) for v, c in conn.execute(SELECT_APPLIED).fetchall()}
        todo = pending(available, applied)
        for migration in todo:
            progress(migration)
            try:
                with conn.transaction():
                    conn.execute(migration.sql.encode("utf-8"))
                    conn.execute(INSERT_APPLIED, (migration.version, migration.name, migration.checksum))
            except psycopg.Error as exc:
                raise MigrationError(f"{migration.filename} failed and was rolled back: {exc}") from exc
        return todo
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def applied_versions(conn: psycopg.Connection[tuple[object, ...]]) -> list[int]:
    """Versions recorded as applied; empty when the ledger does not exist yet."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return []
    return [int(str(row[0])) for row in conn.execute(SELECT_APPLIED).fetchall()]


def check_current(conn: psycopg.Connection[Any], directory: Path = MIGRATIONS_DIR) -> None:
    """Refuse to run against a schema other than the one this code was written for: raises
    :class:`MigrationError` naming the migrations the database lacks (or has that the code does not)."""
    available = discover(directory)
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    applied = (
        {int(str(v)): str(c) for v, c in conn.execute(SELECT_APPLIED).fetchall()}
        if exists and exists[0]
        else {}
    )
    todo = pending(available, applied)  # raises for files changed after applying, or newer databases
    if todo:
        names = ", ".join(m.filename for m in todo)
        raise MigrationError(
            f"the database lacks {len(todo)} migration(s) this code needs: {names}; run `intake db migrate`"
        )
