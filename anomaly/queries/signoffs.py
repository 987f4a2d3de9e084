"""Sign-offs of annual volumes and their revisions (migration 0020)."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row

from anomaly.annual import AnnualVolume
from anomaly.queries.ledger import Conn
from anomaly.signoff import SignOff, revisions_due

CURRENT = """
SELECT id, intake_code, year, volume_m3, method, signed_by, signed_at FROM volume_signoffs
WHERE superseded_by IS NULL"""
RECORDED = "SELECT signoff_id, computed_m3 FROM volume_revisions"
INSERT_REVISION = """
INSERT INTO volume_revisions (signoff_id, signed_m3, computed_m3, why) VALUES (%s, %s, %s, %s)
ON CONFLICT (signoff_id, computed_m3) DO NOTHING"""
# Why the data moved: readings of that year received, and corrections made, after the sign-off.
LATER_READINGS = """
SELECT count(*), min(r.ts), max(r.ts) FROM readings r JOIN meters m ON m.meter_id = r.meter_id
WHERE m.intake_code = %(intake)s AND r.received_at > %(signed_at)s
  AND r.ts >= make_timestamptz(%(year)s, 1, 1, 0, 0, 0, %(tz)s)
  AND r.ts < make_timestamptz(%(year)s + 1, 1, 1, 0, 0, 0, %(tz)s)"""
LATER_CORRECTIONS = """
SELECT count(*) FROM volume_corrections c JOIN meters m ON m.meter_id = c.meter_id
WHERE m.intake_code = %(intake)s AND extract(year FROM c.day) = %(year)s
  AND (c.created_at > %(signed_at)s OR c.revoked_at > %(signed_at)s)"""
NEXT_ID = "SELECT nextval('volume_signoffs_id_seq')"
SUPERSEDE = """
UPDATE volume_signoffs SET superseded_by = %s WHERE intake_code = %s AND year = %s AND superseded_by IS NULL"""
SIGN = """
INSERT INTO volume_signoffs (id, intake_code, year, volume_m3, method, signed_by, note)
VALUES (%s, %s, %s, %s, %s, %s, %s)"""
ACCEPT = """
UPDATE volume_revisions r SET accepted_by = %(id)s FROM volume_signoffs s
WHERE r.signoff_id = s.id AND s.intake_code = %(intake)s AND s.year = %(year)s AND r.accepted_by IS NULL"""
HISTORY = """
SELECT s.id, s.year, s.volume_m3, s.method, s.signed_by, s.signed_at, s.note, s.superseded_by,
       coalesce((SELECT json_agg(json_build_object(
                    'detected_at', r.detected_at, 'signed_m3', r.signed_m3::text, 'computed_m3', r.computed_m3::text,
                    'why', r.why, 'accepted_by', r.accepted_by) ORDER BY r.id)
                 FROM volume_revisions r WHERE r.signoff_id = s.id), '[]') AS revisions
FROM volume_signoffs s WHERE s.intake_code = %s ORDER BY s.year DESC, s.id DESC"""


def current(conn: Conn) -> dict[tuple[str, int], SignOff]:
    return {(r[1], r[2]): SignOff(*r) for r in conn.execute(CURRENT).fetchall()}


def check_revisions(
    conn: Conn, computed: dict[str, list[AnnualVolume]], signoffs: dict[tuple[str, int], SignOff], zone: str
) -> int:
    """Record a revision for each signed year whose computed volume moved; how many were new."""
    recorded = {(int(i), v) for i, v in conn.execute(RECORDED).fetchall()}
    made = 0
    with conn.transaction():
        for signoff, now in revisions_due(computed, signoffs, recorded):
            made += conn.execute(
                INSERT_REVISION, (signoff.id, signoff.volume_m3, now, _why(conn, signoff, zone))
            ).rowcount
    return made


def _why(conn: Conn, s: SignOff, zone: str) -> str:
    params = {"intake": s.intake_code, "signed_at": s.signed_at, "year": s.year, "tz": zone}
    row = conn.execute(LATER_READINGS, params).fetchone()
    fixes = conn.execute(LATER_CORRECTIONS, params).fetchone()
    parts = []
    if row and row[0]:
        parts.append(
            f"{row[0]} reading(s) of {s.year} received after the sign-off ({row[1]:%Y-%m-%d} to {row[2]:%Y-%m-%d})"
        )
    if fixes and fixes[0]:
        parts.append(f"{fixes[0]} correction(s) of its days made or revoked after the sign-off")
    return (
        "; ".join(parts) or "the days were recomputed after the sign-off (intake volumes recompute, a replay)"
    )


def sign(conn: Conn, intake: str, year: int, volume: AnnualVolume, by: str, note: str | None) -> int:
    """Sign ``volume`` (the computed one) off; supersedes the year's sign-off and accepts its revisions."""
    with conn.transaction():
        row = conn.execute(NEXT_ID).fetchone()
        assert row is not None
        new = int(row[0])
        conn.execute(SUPERSEDE, (new, intake, year))  # the old one first: one current sign-off a year
        conn.execute(SIGN, (new, intake, year, volume.volume_m3, str(volume.method), by, note))
        conn.execute(ACCEPT, {"id": new, "intake": intake, "year": year})
    return new


def history(conn: Conn, intake: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(HISTORY, (intake,)).fetchall()
