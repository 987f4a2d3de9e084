"""Reference lists in the database: import (entries kept as read), the check against the registry
of the list's division, and the findings it raises, written like the sweep's (one open per subject)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from anomaly.queries.ledger import record_campaign
from anomaly.reconcile import (
    DEFAULT_NEAR_M,
    IntakeOnFile,
    PermitOnFile,
    Reconciliation,
    findings_of,
    reconcile,
)
from devices.references import KIND_LABELS, ListKind, ReferenceEntry

Conn = psycopg.Connection[Any]

OUTSIDE = "SELECT DISTINCT d FROM unnest(%(codes)s::text[]) AS d WHERE NOT in_scope(d, %(scope)s) ORDER BY 1"
INSERT_LIST = """
INSERT INTO reference_lists (kind, division_code, source, sha256, entries, imported_by, imported_at)
VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id"""
COPY_ENTRIES = """
COPY reference_entries (list_id, row_no, division_code, name, owner, credit_code, permit_no, township, longitude,
                        latitude, permitted_m3, valid_from, valid_to, cells) FROM STDIN"""
ONE_LIST = """
SELECT id, kind, division_code, division_label(division_code) AS division_name, source, sha256, entries,
       imported_by, imported_at
FROM reference_lists l WHERE id = %(id)s AND (%(scope)s::text IS NULL OR in_scope(l.division_code, %(scope)s))"""
LISTS = """
SELECT id, kind, division_code, division_label(division_code) AS division_name, source, sha256, entries,
       imported_by, imported_at, count(*) OVER () AS total
FROM reference_lists l WHERE %(scope)s::text IS NULL OR in_scope(l.division_code, %(scope)s)
ORDER BY imported_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s"""
ENTRIES = """
SELECT row_no, division_code, name, owner, credit_code, permit_no, township, longitude, latitude, permitted_m3,
       valid_from, valid_to, cells
FROM reference_entries WHERE list_id = %s ORDER BY row_no"""
INTAKES = """
SELECT code, name, owner, credit_code, permit_no, division_code, longitude, latitude
FROM intakes i WHERE in_scope(i.division_code, %(scope)s)"""
PERMITS = "SELECT permit_no, valid_from, valid_to, annual_volume_m3 FROM permits"


class OutsideDivision(ValueError):
    """Entries of a list placed in divisions outside the importer's."""


def import_list(
    conn: Conn,
    kind: ListKind,
    source: str,
    sha256: str,
    entries: Sequence[ReferenceEntry],
    scope: str | None,
    actor: str,
    now: datetime,
) -> int:
    """Keep a list's entries; refused (nothing written) when an entry lies outside ``scope``."""
    outside = [
        d
        for (d,) in conn.execute(
            OUTSIDE, {"codes": sorted({e.division_code for e in entries}), "scope": scope}
        )
    ]
    if outside:
        rows = [str(e.row) for e in entries if e.division_code in outside]
        raise OutsideDivision(
            f"rows {', '.join(rows[:20])}{' …' if len(rows) > 20 else ''} lie in {', '.join(outside)}, "
            "outside your division; nothing was written"
        )
    with conn.transaction(), conn.cursor() as cur:
        row = cur.execute(
            INSERT_LIST, (str(kind), scope, source, sha256, len(entries), actor, now)
        ).fetchone()
        assert row is not None
        list_id: int = row[0]
        with cur.copy(COPY_ENTRIES) as copy:
            for e in entries:
                copy.write_row(
                    (list_id, e.row, e.division_code, e.name, e.owner, e.credit_code, e.permit_no, e.township,
                     e.longitude, e.latitude, e.permitted_m3, e.valid_from, e.valid_to, Jsonb(dict(e.cells)))
                )  # fmt: skip
    return list_id


def one_list(conn: Conn, list_id: int, scope: str | None) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(ONE_LIST, {"id": list_id, "scope": scope}).fetchone()


def lists(conn: Conn, scope: str | None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(LISTS, {"scope": scope, "limit": limit, "offset": offset}).fetchall()


def _entries(conn: Conn, list_id: int) -> list[ReferenceEntry]:
    return [
        ReferenceEntry(row, division, name, owner, credit, permit, township, lon, lat,
                       Decimal(m3) if m3 is not None else None, valid_from, valid_to, cells)
        for (row, division, name, owner, credit, permit, township, lon, lat, m3, valid_from, valid_to, cells)
        in conn.execute(ENTRIES, (list_id,))
    ]  # fmt: skip


def check(conn: Conn, listed: dict[str, Any], near_m: float = DEFAULT_NEAR_M) -> Reconciliation:
    """The list ``listed`` (a row of :func:`one_list`) against the registry of its division now."""
    intakes = [IntakeOnFile(*r) for r in conn.execute(INTAKES, {"scope": listed["division_code"]})]
    permits = {r[0]: PermitOnFile(*r) for r in conn.execute(PERMITS)}
    return reconcile(ListKind(listed["kind"]), _entries(conn, listed["id"]), intakes, permits, near_m)


def check_and_record(
    conn: Conn, listed: dict[str, Any], actor: str, now: datetime, near_m: float = DEFAULT_NEAR_M
) -> tuple[Reconciliation, dict[str, int]]:
    result = check(conn, listed, near_m)
    label = f"{KIND_LABELS[result.kind]}（{listed['source']}）"
    return result, record_campaign(conn, findings_of(result, label), actor, now)
