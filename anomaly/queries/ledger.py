"""The findings ledger in the database: the sweep's writes, the lifecycle, lists and history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from anomaly.findings import CampaignFinding, Finding
from anomaly.ledger import (
    LedgerError,
    OpenFinding,
    State,
    SweepPlan,
    check_closing,
    check_rectifying,
    superseded_note,
)

Conn = psycopg.Connection[Any]
SWEEP_LOCK = 0x66696E64  # "find": one sweep writes the ledger at a time, however many monitors run

# Arrays go in binary (%b): text arrays of tens of thousands of descriptions escape slowly as text.
INSERT_FINDINGS = """
INSERT INTO findings (rule, problem, severity, intake_code, permit_no, meter_id, description, evidence,
                      first_detected, last_confirmed, subject, division_code)
SELECT r, p, s, i, pn, m, d, e, day, day, sub, div
FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::jsonb[],
            %b::date[], %b::text[], %b::text[]) AS u(r, p, s, i, pn, m, d, e, day, sub, div)
RETURNING id, coalesce(intake_code, subject), rule, coalesce(meter_id, '')"""
INSERT_EVENTS = """
INSERT INTO finding_events (finding_id, at, actor, action, details)
SELECT id, %s, %s, %s, details FROM unnest(%b::bigint[], %b::jsonb[]) AS u(id, details)"""
# The sweep's findings: per intake, or per permit for its own rules; other findings about no intake
# (应登未登, a campaign check's) are not its to change.
OPEN_FINDINGS = """
SELECT id, rule, intake_code, state, severity, description, evidence, last_confirmed, subject, permit_no,
       meter_id
FROM findings WHERE state <> 'closed' AND (intake_code IS NOT NULL OR rule = ANY(%s))"""
UPDATE_FINDING = """
UPDATE findings SET severity = %s, description = %s, evidence = %s, last_confirmed = %s,
                    permit_no = %s, meter_id = %s, division_code = coalesce(%s, division_code)
WHERE id = %s"""
SUPERSEDE_FINDING = """
UPDATE findings SET state = 'closed', closed_on = %s, closed_by = 'system', close_note = %s WHERE id = %s"""
RESOLVE_FINDING = """
UPDATE findings SET state = 'closed', closed_on = %s, closed_by = 'system',
                    close_note = '条件已消除（自动销号）: the condition cleared'
WHERE id = %s"""
INSERT_EVENT = (
    "INSERT INTO finding_events (finding_id, at, actor, action, details) VALUES (%s, %s, %s, %s, %s)"
)
STATE_OF = "SELECT state FROM findings WHERE id = %s FOR UPDATE"
RECTIFY = (
    "UPDATE findings SET state = 'rectifying', measure = %s, responsible = %s, deadline = %s WHERE id = %s"
)
CLOSE = "UPDATE findings SET state = 'closed', closed_on = %s, closed_by = %s, close_note = %s WHERE id = %s"
# A finding belongs to its intake's division, or (about no intake: 应登未登) to its own.
LIST = """
SELECT f.id, f.state, f.problem, f.severity, f.rule, f.intake_code, f.permit_no, f.meter_id, f.description,
       f.first_detected, f.last_confirmed, f.measure, f.responsible, f.deadline, f.closed_on, f.closed_by,
       f.close_note, coalesce(i.division_code, f.division_code), f.subject, f.evidence
FROM findings f LEFT JOIN intakes i ON i.code = f.intake_code
WHERE (%(state)s::text IS NULL OR f.state = %(state)s) AND (%(problem)s::text IS NULL OR f.problem = %(problem)s)
  AND (%(intake)s::text IS NULL OR f.intake_code = %(intake)s OR f.evidence -> 'intakes' ? %(intake)s)
  AND in_scope(coalesce(i.division_code, f.division_code), %(scope)s)
ORDER BY f.first_detected, f.id"""
LIST_COLUMNS = [
    "id",
    "state",
    "problem",
    "severity",
    "rule",
    "intake_code",
    "permit_no",
    "meter_id",
    "description",
    "first_detected",
    "last_confirmed",
    "measure",
    "responsible",
    "deadline",
    "closed_on",
    "closed_by",
    "close_note",
    "division_code",
    "subject",
    "evidence",
]
# A campaign check's finding (reference lists, inspections): one open per intake and rule, or per
# division, rule and subject for one about no intake; found again, it is updated only if it changed.
UPSERT_INTAKE_FINDING = """
INSERT INTO findings AS f (rule, problem, severity, intake_code, division_code, subject, permit_no, description,
                           evidence, first_detected, last_confirmed)
VALUES (%(rule)s, %(problem)s, %(severity)s, %(intake_code)s, %(division_code)s, %(subject)s, %(permit_no)s,
        %(description)s, %(evidence)s, %(day)s, %(day)s)
ON CONFLICT (intake_code, rule, (coalesce(meter_id, ''))) WHERE state <> 'closed' DO UPDATE
    SET description = excluded.description, evidence = excluded.evidence, last_confirmed = excluded.last_confirmed
    WHERE (f.description, f.evidence) IS DISTINCT FROM (excluded.description, excluded.evidence)
RETURNING id, (xmax = 0) AS created"""
UPSERT_SUBJECT_FINDING = """
INSERT INTO findings AS f (rule, problem, severity, intake_code, division_code, subject, permit_no, description,
                           evidence, first_detected, last_confirmed)
VALUES (%(rule)s, %(problem)s, %(severity)s, NULL, %(division_code)s, %(subject)s, %(permit_no)s,
        %(description)s, %(evidence)s, %(day)s, %(day)s)
ON CONFLICT (division_code, rule, subject) WHERE intake_code IS NULL AND state <> 'closed' DO UPDATE
    SET description = excluded.description, evidence = excluded.evidence, last_confirmed = excluded.last_confirmed
    WHERE (f.description, f.evidence) IS DISTINCT FROM (excluded.description, excluded.evidence)
RETURNING id, (xmax = 0) AS created"""
HISTORY = "SELECT at, actor, action, details FROM finding_events WHERE finding_id = %s ORDER BY at, id"


def load_open(conn: Conn, rules: Sequence[str]) -> dict[tuple[str, str, str], OpenFinding]:
    """The open findings a sweep of ``rules`` may change."""
    rows = conn.execute(OPEN_FINDINGS, (list(rules),)).fetchall()
    found = [
        OpenFinding(i, rule, intake, State(state), sev, desc, ev, confirmed, subject, permit_no, meter)
        for i, rule, intake, state, sev, desc, ev, confirmed, subject, permit_no, meter in rows
    ]
    return {f.key: f for f in found}


def _details(finding: Finding) -> Jsonb:
    return Jsonb(
        {
            "severity": str(finding.severity),
            "description": finding.description,
            "evidence": dict(finding.evidence),
        }
    )


def _finding_row(f: Finding) -> tuple[Any, ...]:
    return (
        f.rule,
        str(f.problem),
        str(f.severity),
        f.intake_code,
        f.permit_no,
        f.meter_id,
        f.description,
        Jsonb(dict(f.evidence)),
        f.detected_on,
        f.subject,
        f.division_code,
    )


def apply_sweep(conn: Conn, plan: SweepPlan, now: datetime) -> dict[str, int]:
    """Write a sweep's plan in one transaction, with an event for every change."""
    with conn.transaction(), conn.cursor() as cur:
        if plan.create:  # set-based: a county's first sweep may open tens of thousands of findings
            columns = [list(c) for c in zip(*(_finding_row(f) for f in plan.create), strict=True)]
            ids = {(i, r, m): n for n, i, r, m in cur.execute(INSERT_FINDINGS, columns).fetchall()}
            cur.execute(
                INSERT_EVENTS,
                (
                    now,
                    "system",
                    "detected",
                    [ids[f.key] for f in plan.create],
                    [_details(f) for f in plan.create],
                ),
            )
        for finding_id, f in plan.update:
            cur.execute(
                UPDATE_FINDING,
                (
                    str(f.severity),
                    f.description,
                    Jsonb(dict(f.evidence)),
                    f.detected_on,
                    f.permit_no,
                    f.meter_id,
                    f.division_code,
                    finding_id,
                ),
            )
            cur.execute(INSERT_EVENT, (finding_id, now, "system", "updated", _details(f)))
        for held in plan.resolve:
            cur.execute(RESOLVE_FINDING, (now, held.id))
            cur.execute(INSERT_EVENT, (held.id, now, "system", "resolved", Jsonb({"rule": held.rule})))
        for held, by in plan.supersede:
            cur.execute(SUPERSEDE_FINDING, (now, superseded_note(by), held.id))
            details = {"rule": held.rule, "by_rule": by.rule, "by": by.key[0], "description": by.description}
            cur.execute(INSERT_EVENT, (held.id, now, "system", "superseded", Jsonb(details)))
    return {
        "created": len(plan.create),
        "updated": len(plan.update),
        "resolved": len(plan.resolve),
        "superseded": len(plan.supersede),
    }


def sweep_lock(conn: Conn) -> bool:
    """Take the ledger's sweep lock for this session; False when another monitor holds it."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (SWEEP_LOCK,)).fetchone()
    return bool(row and row[0])


def _state(conn: Conn, finding_id: int) -> State:
    row = conn.execute(STATE_OF, (finding_id,)).fetchone()
    if row is None:
        raise LedgerError(f"no finding {finding_id}")
    return State(row[0])


def start_rectifying(
    conn: Conn, finding_id: int, measure: str, responsible: str, deadline: date, actor: str, now: datetime
) -> None:
    with conn.transaction():
        check_rectifying(_state(conn, finding_id), measure, responsible)
        conn.execute(RECTIFY, (measure.strip(), responsible.strip(), deadline, finding_id))
        conn.execute(
            INSERT_EVENT,
            (
                finding_id,
                now,
                actor,
                "rectifying",
                Jsonb({"measure": measure, "responsible": responsible, "deadline": deadline.isoformat()}),
            ),
        )


def close_finding(conn: Conn, finding_id: int, note: str, actor: str, now: datetime) -> None:
    with conn.transaction():
        check_closing(_state(conn, finding_id), note, actor)
        conn.execute(CLOSE, (now, actor.strip(), note.strip(), finding_id))
        conn.execute(INSERT_EVENT, (finding_id, now, actor, "closed", Jsonb({"note": note})))


def list_findings(
    conn: Conn,
    state: str | None = None,
    problem: str | None = None,
    intake: str | None = None,
    scope: str | None = None,
) -> list[dict[str, Any]]:
    params = {"state": state, "problem": problem, "intake": intake, "scope": scope}
    rows = conn.execute(LIST, params).fetchall()
    return [dict(zip(LIST_COLUMNS, row, strict=True)) for row in rows]


def history(conn: Conn, finding_id: int) -> list[dict[str, Any]]:
    return [
        {"at": at, "actor": actor, "action": action, "details": details}
        for at, actor, action, details in conn.execute(HISTORY, (finding_id,)).fetchall()
    ]


def record_campaign(
    conn: Conn, found: Sequence[CampaignFinding], actor: str, now: datetime
) -> dict[str, int]:
    """Write findings: a new subject opens one, a changed one updates it, an unchanged one is left."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with conn.transaction(), conn.cursor() as cur:
        for f in found:
            values = {**asdict(f), "problem": str(f.problem), "severity": str(f.severity)}
            values.update(evidence=Jsonb(dict(f.evidence)), day=now.date())
            sql = UPSERT_INTAKE_FINDING if f.intake_code else UPSERT_SUBJECT_FINDING
            row = cur.execute(sql, values).fetchone()
            if row is None:
                counts["unchanged"] += 1
                continue
            action = "detected" if row[1] else "updated"
            counts["created" if row[1] else "updated"] += 1
            details = {"rule": f.rule, "subject": f.subject, "description": f.description}
            cur.execute(INSERT_EVENT, (row[0], now, actor, action, Jsonb(details)))
    return counts
