"""Spot checks in the database: the population with each intake's risk, the drawn sample with what
the registry said, assignments, inspections and the findings they raise, and the report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from anomaly.queries.ledger import record_campaign
from anomaly.spotcheck import (
    RECENTLY_CLOSED_DAYS,
    Candidate,
    Drawn,
    Inspection,
    Registered,
    Risk,
    contradictions,
    meter_as_registered,
)

Conn = psycopg.Connection[Any]

POPULATION = """
SELECT i.code, i.division_code,
       CASE WHEN EXISTS (SELECT 1 FROM findings f WHERE (f.intake_code = i.code OR f.evidence -> 'intakes' ? i.code)
                         AND f.state <> 'closed' AND f.rule = 'over_permit') THEN 'over_permit'
            WHEN NOT EXISTS (SELECT 1 FROM meters m WHERE m.intake_code = i.code AND m.removed_on IS NULL)
                 THEN 'no_meter'
            WHEN EXISTS (SELECT 1 FROM findings f WHERE (f.intake_code = i.code OR f.evidence -> 'intakes' ? i.code)
                         AND f.state = 'closed' AND f.closed_by <> 'system' AND f.closed_on >= %(since)s)
                 THEN 'closed_recently'
            ELSE 'none' END
FROM intakes i
WHERE i.division_code IS NOT NULL AND in_scope(i.division_code, %(scope)s)"""
REGISTERED = """
SELECT i.code, i.name, i.owner, i.division_code, m.meter_id, m.serial,
       coalesce((SELECT array_agg(array[f.id::text, f.problem] ORDER BY f.id) FROM findings f
                 WHERE (f.intake_code = i.code OR f.evidence -> 'intakes' ? i.code)
                   AND f.state = 'closed' AND f.closed_by <> 'system'
                   AND f.closed_on >= %(since)s), '{}')
FROM intakes i
LEFT JOIN LATERAL (  -- an intake with several meters: the first installed stands for it here
    SELECT meter_id, serial FROM meters WHERE intake_code = i.code AND removed_on IS NULL
    ORDER BY installed_on, meter_id LIMIT 1) m ON true
WHERE i.code = ANY(%(codes)s)"""
INSERT_CHECK = """
INSERT INTO spot_checks (owner_division, division_code, title, seed, share, sample_size, population, drawn_by,
                         drawn_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"""
INSERT_ITEM = """
INSERT INTO spot_check_items (spot_check_id, intake_code, division_code, risk, registered)
VALUES (%s, %s, %s, %s, %s)"""
# Visible to the division that drew it and those above: not to the county checked (四不两直).
ONE = """
SELECT id, owner_division, division_code, division_label(division_code) AS division_name, title, seed,
       share::float8 AS share, sample_size, population, drawn_by, drawn_at
FROM spot_checks s WHERE id = %(id)s AND in_scope(s.owner_division, %(scope)s)"""
LIST = """
SELECT id, owner_division, division_code, division_label(division_code) AS division_name, title, seed,
       share::float8 AS share, sample_size, population, drawn_by, drawn_at, count(*) OVER () AS total
FROM spot_checks s WHERE in_scope(s.owner_division, %(scope)s)
ORDER BY drawn_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s"""
ITEMS = """
SELECT t.intake_code, t.division_code, division_label(t.division_code) AS division_name, t.risk,
       t.registered, t.inspector, n.inspected_on, n.inspected_by, n.found, n.meter_serial,
       n.meter_as_registered, n.rectification_real, n.photos, n.notes, n.findings
FROM spot_check_items t
LEFT JOIN LATERAL (SELECT * FROM spot_check_inspections n WHERE n.spot_check_id = t.spot_check_id
                   AND n.intake_code = t.intake_code ORDER BY n.id DESC LIMIT 1) n ON true
WHERE t.spot_check_id = %s ORDER BY t.intake_code"""
ITEM = "SELECT registered FROM spot_check_items WHERE spot_check_id = %s AND intake_code = %s"
ASSIGN = """
UPDATE spot_check_items SET inspector = %s
WHERE spot_check_id = %s AND intake_code = %s"""
INSERT_INSPECTION = """
INSERT INTO spot_check_inspections (spot_check_id, intake_code, inspected_on, inspected_by, found, meter_serial,
                                    meter_as_registered, rectification_real, photos, notes, findings,
                                    recorded_by, recorded_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"""

RAISED = "SELECT id FROM findings WHERE intake_code = %s AND rule = ANY(%s) AND state <> 'closed' ORDER BY id"


class NotInSample(LookupError):
    """An intake that is not in the spot check's sample."""


def population(conn: Conn, scope: str | None, today: date) -> list[Candidate]:
    since = today - timedelta(days=RECENTLY_CLOSED_DAYS)
    return [
        Candidate(c, d, Risk(r)) for c, d, r in conn.execute(POPULATION, {"scope": scope, "since": since})
    ]


def _registered(conn: Conn, codes: Sequence[str], today: date) -> dict[str, Registered]:
    since = today - timedelta(days=RECENTLY_CLOSED_DAYS)
    rows = conn.execute(REGISTERED, {"codes": list(codes), "since": since})
    return {
        code: Registered(code, name, owner, division, meter, serial, tuple((int(i), p) for i, p in closed))
        for code, name, owner, division, meter, serial, closed in rows
    }


def create(
    conn: Conn,
    *,
    owner_division: str | None,
    division: str | None,
    title: str,
    seed: int,
    share: float | None,
    count: int | None,
    population_size: int,
    drawn: Sequence[Drawn],
    actor: str,
    now: datetime,
) -> int:
    """Keep a drawn sample with what the registry says of each intake now; its id."""
    registered = _registered(conn, [d.code for d in drawn], now.date())
    with conn.transaction(), conn.cursor() as cur:
        values = (owner_division, division, title, seed, share, count, population_size, actor, now)
        row = cur.execute(INSERT_CHECK, values).fetchone()
        assert row is not None
        for d in drawn:
            snapshot = Jsonb(asdict(registered[d.code]))
            cur.execute(INSERT_ITEM, (row[0], d.code, d.division_code, str(d.risk), snapshot))
    return int(row[0])


def one(conn: Conn, spot_check: int, scope: str | None) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(ONE, {"id": spot_check, "scope": scope}).fetchone()


def items(conn: Conn, spot_check: int) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(ITEMS, (spot_check,)).fetchall()


def assign(
    conn: Conn, spot_check: int, inspectors: Sequence[str], codes: Sequence[str] | None
) -> dict[str, str]:
    """Hand the sample's intakes (``codes``, or all not yet assigned) to inspectors in turn, county
    by county; who got what."""
    held = items(conn, spot_check)
    known = {i["intake_code"] for i in held}
    unknown = sorted(set(codes or ()) - known)
    if unknown:
        raise NotInSample(f"not in spot check {spot_check}: {', '.join(unknown)}")
    wanted = set(codes) if codes else None
    chosen = [i for i in held if (i["intake_code"] in wanted if wanted else not i["inspector"])]
    chosen.sort(key=lambda i: (i["division_code"], i["intake_code"]))
    given = {i["intake_code"]: inspectors[n % len(inspectors)] for n, i in enumerate(chosen)}
    with conn.transaction(), conn.cursor() as cur:
        for code, who in given.items():
            cur.execute(ASSIGN, (who, spot_check, code))
    return given


def record(
    conn: Conn,
    spot_check: int,
    code: str,
    found: Inspection,
    day: date,
    inspector: str,
    actor: str,
    now: datetime,
) -> list[int]:
    """Keep an inspection and raise what it contradicts in the ledger; the findings' ids."""
    row = conn.execute(ITEM, (spot_check, code)).fetchone()
    if row is None:
        raise NotInSample(f"{code} is not in spot check {spot_check}")
    snapshot = row[0]
    registered = Registered(
        **{**snapshot, "closed_findings": tuple(tuple(c) for c in snapshot["closed_findings"])}
    )
    raised = contradictions(spot_check, registered, found, day.isoformat())
    ids: list[int] = []
    with conn.transaction():
        if raised:
            record_campaign(conn, raised, actor, now)
            ids = [r[0] for r in conn.execute(RAISED, (code, [f.rule for f in raised]))]
        conn.execute(
            INSERT_INSPECTION,
            (spot_check, code, day, inspector, found.exists, found.meter_serial,
             meter_as_registered(registered, found), found.rectification_real, list(found.photos), found.notes,
             ids, actor, now),
        )  # fmt: skip
    return ids
