"""Which database errors are worth retrying (the database is away) and which are the data's fault."""

from __future__ import annotations

import psycopg

# SQLSTATE classes: 08 connection, 40 transaction rollback (serialization, deadlock), 53 insufficient
# resources, 57 operator intervention (shutdown, cancel), 58 system error. Everything else (22 data,
# 23 integrity, ...) is the batch's own fault and retrying it would fail forever.
TRANSIENT_CLASSES = ("08", "40", "53", "57", "58")


def is_transient(error: BaseException) -> bool:
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        sqlstate = getattr(error, "sqlstate", None)
        return sqlstate is None or sqlstate[:2] in TRANSIENT_CLASSES
    if isinstance(error, psycopg.Error):
        sqlstate = error.sqlstate or ""
        return sqlstate[:2] in TRANSIENT_CLASSES
    return isinstance(error, OSError)
