"""Whose fault a database error is: the data's (reject the row, keep the rest) or not (keep everything,
retry).

The rule is by design, not by a list of retryable errors: a row is the data's fault only when the
rest of its batch commits without it (:mod:`ingest.isolation`). What the database says about a single
row can only be the row's fault when it is a data error; every other error (a revoked grant, a schema
older or newer than the code, a lock or statement timeout, a read-only replica after a failover, a full
disk, a dropped connection) says nothing about the row and is systemic: nothing is acknowledged and
the batch is retried until the database takes it.
"""

from __future__ import annotations

import psycopg

# SQLSTATE classes a row itself can cause: 22 data exception (a value out of range, a bad byte),
# 23 integrity constraint violation (a CHECK or a foreign key the validation does not know), and
# 54 program limit exceeded (a value too large for an index entry).
DATA_CLASSES = ("22", "23", "54")


class SystemicError(Exception):
    """The database refused a batch for a reason that is not its data's: retry it, acknowledge nothing."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def is_data_error(error: BaseException) -> bool:
    """A database error the refused row can have caused by itself."""
    if not isinstance(error, psycopg.Error) or isinstance(
        error, psycopg.OperationalError | psycopg.InterfaceError
    ):
        return False
    sqlstate = error.sqlstate or ""
    return sqlstate[:2] in DATA_CLASSES


def describe(error: BaseException) -> str:
    """SQLSTATE and the first line of the message, for logs and rejection reasons (never a payload)."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    sqlstate = getattr(error, "sqlstate", None)
    return f"{sqlstate} {text}" if sqlstate else text
