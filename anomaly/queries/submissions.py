"""Submissions and their events (migration 0021)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from anomaly.queries.ledger import Conn
from anomaly.submissions import State

# A submission is of a kind (the year's reports, or a month's progress report: migration 0025) and
# period: its year, and for a progress report its month.
PERIOD = "division_code = %s AND kind = %s AND year = %s AND month IS NOT DISTINCT FROM %s"
LIVE = f"SELECT state FROM submissions WHERE {PERIOD} AND state <> 'returned'"
NEXT_VERSION = f"SELECT coalesce(max(version), 0) + 1 FROM submissions WHERE {PERIOD}"
INSERT = """
INSERT INTO submissions (division_code, kind, year, month, version, state, contents, sha256, submitted_by)
VALUES (%s, %s, %s, %s, %s, 'submitted', %s, %s, %s) RETURNING id"""
EVENT = "INSERT INTO submission_events (submission_id, actor, action, note) VALUES (%s, %s, %s, %s)"
SET_STATE = "UPDATE submissions SET state = %s WHERE id = %s AND state = 'submitted' RETURNING id"
COLUMNS = """
s.id, s.division_code, division_label(s.division_code) AS division_name, s.kind, s.year, s.month, s.version,
s.state,
s.sha256, s.submitted_by, s.submitted_at"""
LIST = f"""
SELECT {COLUMNS}, count(*) OVER () AS total
FROM submissions s
WHERE in_scope(s.division_code, %(scope)s)
  AND (%(year)s::integer IS NULL OR s.year = %(year)s)
  AND (%(kind)s::text IS NULL OR s.kind = %(kind)s)
  AND (%(state)s::text IS NULL OR s.state = %(state)s)
ORDER BY s.submitted_at DESC, s.id DESC LIMIT %(limit)s OFFSET %(offset)s"""
ONE = f"""
SELECT {COLUMNS}, s.contents
FROM submissions s
WHERE s.id = %(id)s AND in_scope(s.division_code, %(scope)s)"""
PREVIOUS = f"SELECT contents FROM submissions WHERE {PERIOD} AND version = %s - 1"
EVENTS = "SELECT at, actor, action, note FROM submission_events WHERE submission_id = %s ORDER BY at, id"


def live_state(
    conn: Conn, division: str, year: int, kind: str = "annual", month: date | None = None
) -> State | None:
    row = conn.execute(LIVE, (division, kind, year, month)).fetchone()
    return State(row[0]) if row else None


def submit(
    conn: Conn,
    division: str,
    year: int,
    contents: dict[str, Any],
    digest: str,
    by: str,
    note: str | None,
    kind: str = "annual",
    month: date | None = None,
) -> int:
    with conn.transaction():
        row = conn.execute(NEXT_VERSION, (division, kind, year, month)).fetchone()
        version = int(row[0]) if row else 1
        values = (division, kind, year, month, version, Jsonb(contents), digest, by)
        made = conn.execute(INSERT, values).fetchone()
        assert made is not None
        conn.execute(EVENT, (made[0], by, "submitted", note))
    return int(made[0])


def review(conn: Conn, submission: int, state: State, by: str, note: str | None) -> bool:
    """Accept or return a submitted one; False when it is no longer submitted (someone was first)."""
    with conn.transaction():
        if conn.execute(SET_STATE, (str(state), submission)).fetchone() is None:
            return False
        conn.execute(EVENT, (submission, by, str(state), note))
    return True


def listed(conn: Conn, params: dict[str, Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(LIST, params).fetchall()


def one(conn: Conn, submission: int, scope: str | None) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(ONE, {"id": submission, "scope": scope}).fetchone()
        if found is None:
            return None
        found["events"] = cur.execute(EVENTS, (submission,)).fetchall()
    contents = found["contents"]
    found["contents"] = json.loads(contents) if isinstance(contents, str) else contents
    return found


def previous_contents(conn: Conn, found: dict[str, Any]) -> dict[str, Any] | None:
    period = (found["division_code"], found["kind"], found["year"], found["month"], found["version"])
    row = conn.execute(PREVIOUS, period).fetchone()
    return None if row is None else (json.loads(row[0]) if isinstance(row[0], str) else row[0])
