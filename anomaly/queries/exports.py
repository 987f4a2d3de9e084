"""Issued exports by content hash (migration 0019): record one, find one, the data's cut-off."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from psycopg.rows import dict_row

from anomaly.provenance import Provenance, sha256
from anomaly.queries.ledger import Conn

CUTOFF = "SELECT max(last_received_at) FROM meter_state"
DIVISION_NAME = "SELECT division_label(%s)"
RECORD = """
INSERT INTO issued_exports (sha256, report, format, division_code, year, as_of, issued_at, issued_by, cutoff, bytes)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING"""
FIND = """
SELECT e.sha256, e.report, e.format, e.division_code, e.year, e.as_of, e.issued_at, e.issued_by, e.cutoff,
       e.bytes
FROM issued_exports e WHERE e.sha256 = %(sha256)s AND in_scope(e.division_code, %(scope)s)"""


def cutoff(conn: Conn) -> datetime | None:
    row = conn.execute(CUTOFF).fetchone()
    return row[0] if row else None


def division_name(conn: Conn, code: str | None) -> str | None:
    """朝阳市北票市 for 211381; None for all divisions (or an unknown code)."""
    row = conn.execute(DIVISION_NAME, (code,)).fetchone() if code else None
    return str(row[0]) if row and row[0] else None


def provenance(
    conn: Conn, report: str, year: int, as_of: date, division: str | None, by: str, at: datetime
) -> Provenance:
    """Where a file made now comes from: the division's name and the data's cut-off read here."""
    return Provenance(report, year, as_of, division, division_name(conn, division), at, by, cutoff(conn))


def record(conn: Conn, provenance: Provenance, fmt: str, body: bytes) -> str:
    """Record an issued file; its SHA-256."""
    digest = sha256(body)
    p = provenance
    with conn.transaction():
        conn.execute(
            RECORD,
            (
                digest,
                p.report,
                fmt,
                p.division_code,
                p.year,
                p.as_of,
                p.issued_at,
                p.issued_by,
                p.cutoff,
                len(body),
            ),
        )
    return digest


def find(conn: Conn, digest: str, scope: str | None = None) -> dict[str, Any] | None:
    """The issued file with this SHA-256, if one was issued inside ``scope`` (None: any)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(FIND, {"sha256": digest, "scope": scope}).fetchone()
