"""Duplicate registrations (重报) in the database: the check over a division, dismissals and merges.

A merge is one transaction: the duplicate's meters (and so their readings and volumes) and findings
move to the surviving intake, the duplicate's registry row is kept in ``duplicate_reviews`` and then
removed; the registry's audit trail records every change under the person who merged.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from devices import queries as dq
from devices.duplicates import (
    DEFAULT_NEAR_M,
    DuplicatePair,
    MeterSerial,
    RegisteredIntake,
    find_duplicates,
    pair_key,
)

Conn = psycopg.Connection[Any]

# The intakes (and their meters' serials) inside a scope, or only the given ones.
INTAKES = """
SELECT code, name, owner, credit_code, division_code, township, longitude, latitude
FROM intakes i
WHERE in_scope(i.division_code, %(scope)s) AND (%(codes)s::text[] IS NULL OR i.code = ANY(%(codes)s))"""
SERIALS = """
SELECT m.meter_id, m.intake_code, m.serial
FROM meters m JOIN intakes i ON i.code = m.intake_code
WHERE m.serial IS NOT NULL AND in_scope(i.division_code, %(scope)s)
  AND (%(codes)s::text[] IS NULL OR i.code = ANY(%(codes)s))"""
DISMISSED = "SELECT intake_a, intake_b FROM duplicate_reviews WHERE decision = 'dismissed'"
SUMMARY = """
SELECT code, name, owner, credit_code, county, division_label(division_code) AS division, township,
       longitude, latitude, permit_no
FROM intakes i WHERE code = ANY(%(codes)s)"""
IN_SCOPE = "SELECT code FROM intakes i WHERE code = ANY(%(codes)s) AND in_scope(i.division_code, %(scope)s)"
DISMISS = """
INSERT INTO duplicate_reviews (intake_a, intake_b, decision, evidence, note, actor, at)
VALUES (%s, %s, 'dismissed', %s, %s, %s, %s)
ON CONFLICT (intake_a, intake_b) WHERE decision = 'dismissed' DO NOTHING
RETURNING id, intake_a, intake_b, decision, survivor, evidence, note, actor, at"""
REVIEWS = """
SELECT id, intake_a, intake_b, decision, survivor, evidence, note, actor, at, count(*) OVER () AS total
FROM duplicate_reviews d
WHERE %(scope)s::text IS NULL
   OR EXISTS (SELECT 1 FROM intakes i WHERE i.code IN (d.intake_a, d.intake_b)
              AND in_scope(i.division_code, %(scope)s))
   OR in_scope(d.merged_record ->> 'division_code', %(scope)s)
ORDER BY at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s"""

LOCK_INTAKES = "SELECT code, to_jsonb(i) FROM intakes i WHERE code = ANY(%s) ORDER BY code FOR UPDATE"
ACTIVE_METERS = "SELECT meter_id, intake_code FROM meters WHERE intake_code = ANY(%s) AND removed_on IS NULL"
SIGNED = "SELECT DISTINCT year FROM volume_signoffs WHERE intake_code = %s ORDER BY year"
MOVE_METERS = (
    "UPDATE meters SET intake_code = %s, updated_at = now() WHERE intake_code = %s RETURNING meter_id"
)
# An open finding the survivor already has under the same rule is the same problem: the duplicate's
# copy is closed as merged; every other finding moves with its history.
CLASHING_FINDINGS = """
SELECT d.id FROM findings d JOIN findings s ON s.intake_code = %s AND s.rule = d.rule AND s.state <> 'closed'
WHERE d.intake_code = %s AND d.state <> 'closed'"""
CLOSE_MERGED = """
UPDATE findings SET state = 'closed', closed_on = %s, closed_by = %s, close_note = %s WHERE id = ANY(%s)"""
MOVE_FINDINGS = "UPDATE findings SET intake_code = %s WHERE intake_code = %s RETURNING id"
FINDING_EVENT = """
INSERT INTO finding_events (finding_id, at, actor, action, details)
SELECT id, %s, %s, %s, %s FROM unnest(%s::bigint[]) AS u(id)"""
DELETE_INTAKE = "DELETE FROM intakes WHERE code = %s"
RECORD_MERGE = """
INSERT INTO duplicate_reviews (intake_a, intake_b, decision, survivor, evidence, merged_record, moved, note,
                               actor, at)
VALUES (%s, %s, 'merged', %s, %s, %s, %s, %s, %s, %s) RETURNING id"""


class MergeRefused(ValueError):
    """A merge that would lose or double something; the message says what to do first."""


@dataclass(frozen=True, slots=True)
class Merged:
    review_id: int
    survivor: str
    removed: str
    meters: tuple[str, ...]
    findings_moved: tuple[int, ...]
    findings_closed: tuple[int, ...]


def check(conn: Conn, scope: str | None, near_m: float) -> list[DuplicatePair]:
    """The likely duplicates among the intakes inside ``scope`` (None: all), dismissed pairs left out."""
    dismissed = {(a, b) for a, b in conn.execute(DISMISSED)}
    return _find(conn, {"scope": scope, "codes": None}, near_m, dismissed)


def pair_evidence(conn: Conn, one: str, other: str) -> list[dict[str, str]]:
    """What the check says of one pair (kept with a person's decision on it): only the two are read."""
    found = _find(conn, {"scope": None, "codes": [one, other]}, DEFAULT_NEAR_M, frozenset())
    return [e.as_dict() for pair in found for e in pair.evidence]


def _find(
    conn: Conn, params: dict[str, Any], near_m: float, dismissed: Collection[tuple[str, str]]
) -> list[DuplicatePair]:
    intakes = [RegisteredIntake(*row) for row in conn.execute(INTAKES, params)]
    serials = [MeterSerial(*row) for row in conn.execute(SERIALS, params)]
    return find_duplicates(intakes, serials, near_m=near_m, dismissed=dismissed)


def summaries(conn: Conn, codes: set[str]) -> dict[str, dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return {r["code"]: r for r in cur.execute(SUMMARY, {"codes": sorted(codes)})}


def all_in_scope(conn: Conn, codes: list[str], scope: str | None) -> bool:
    found = {c for (c,) in conn.execute(IN_SCOPE, {"codes": codes, "scope": scope})}
    return found == set(codes)


def dismiss(
    conn: Conn,
    one: str,
    other: str,
    evidence: Sequence[Mapping[str, str]],
    note: str,
    actor: str,
    now: datetime,
) -> dict[str, Any] | None:
    """Remember that ``one`` and ``other`` are two intakes: the decision, or None when already dismissed."""
    a, b = pair_key(one, other)
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(DISMISS, (a, b, Jsonb(list(evidence)), note, actor, now)).fetchone()


def merge(
    conn: Conn,
    survivor: str,
    duplicate: str,
    evidence: Sequence[Mapping[str, str]],
    note: str,
    actor: str,
    now: datetime,
) -> Merged:
    """Fold ``duplicate`` into ``survivor`` in one transaction; refused (nothing changed) when it
    would leave two active meters on one intake or change a signed annual volume."""
    a, b = pair_key(survivor, duplicate)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(dq.SET_ACTOR, (actor,))
        rows = dict(cur.execute(LOCK_INTAKES, ([a, b],)).fetchall())
        missing = sorted({a, b} - rows.keys())
        if missing:
            raise MergeRefused(f"no intake {', '.join(missing)} in the registry")
        active = cur.execute(ACTIVE_METERS, ([a, b],)).fetchall()
        if {code for _, code in active} == {a, b}:
            meters = ", ".join(f"{m} ({code})" for m, code in sorted(active))
            raise MergeRefused(
                f"both intakes have an active meter ({meters}) and an intake has one: record the one that "
                "is not really there as removed (拆除日期) in the registry, then merge"
            )
        signed = [y for (y,) in cur.execute(SIGNED, (duplicate,))]
        if signed:
            raise MergeRefused(
                f"{duplicate} has signed annual volumes for {', '.join(map(str, signed))}; merging would "
                f"change a signed figure: keep {duplicate} as the survivor instead, or sign again after"
            )
        meters_moved = tuple(m for (m,) in cur.execute(MOVE_METERS, (survivor, duplicate)))
        clashing = [i for (i,) in cur.execute(CLASHING_FINDINGS, (survivor, duplicate))]
        if clashing:
            cur.execute(
                CLOSE_MERGED,
                (now, actor, f"重报合并: the same finding is open on {survivor}", clashing),
            )
            cur.execute(FINDING_EVENT, (now, actor, "closed", Jsonb({"merged_into": survivor}), clashing))
        moved = [i for (i,) in cur.execute(MOVE_FINDINGS, (survivor, duplicate))]
        if moved:
            details = Jsonb({"merged_from": duplicate, "intake_code": survivor})
            cur.execute(FINDING_EVENT, (now, actor, "updated", details, moved))
        record = rows[duplicate]
        cur.execute(DELETE_INTAKE, (duplicate,))
        what = {"meters": list(meters_moved), "findings": moved, "findings_closed": clashing}
        review = cur.execute(
            RECORD_MERGE,
            (a, b, survivor, Jsonb(list(evidence)), Jsonb(record), Jsonb(what), note, actor, now),
        ).fetchone()
    assert review is not None
    return Merged(review[0], survivor, duplicate, meters_moved, tuple(moved), tuple(clashing))
