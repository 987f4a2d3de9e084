"""The API's own SQL: paged lists with filters, bucketed readings, the map, users.

Everything else the API answers comes from the other packages' query modules. Each list returns
``(rows as dicts, total)``; ``count(*) OVER ()`` gives the total in the same scan.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from devices import queries as dq

Conn = psycopg.Connection[Any]

INTAKES = """
SELECT i.code, i.name, i.owner, i.county, i.division_code, i.township, i.longitude, i.latitude,
       i.engineering_type, i.design_daily_capacity_m3, i.status, i.source_type, i.source_name, i.water_use,
       i.permit_no, m.meter_ids[1] AS meter_id, coalesce(m.meter_ids, '{}') AS meter_ids, count(*) OVER () AS total
FROM intakes i LEFT JOIN LATERAL (
    SELECT array_agg(meter_id ORDER BY installed_on, meter_id) AS meter_ids FROM meters
    WHERE intake_code = i.code AND removed_on IS NULL) m ON true
WHERE in_scope(i.division_code, %(scope)s)
  AND (%(county)s::text IS NULL OR i.county = %(county)s)
  AND (%(status)s::text IS NULL OR i.status = %(status)s)
  AND (%(permit)s::text IS NULL OR i.permit_no = %(permit)s)
  AND (%(q)s::text IS NULL OR i.code ILIKE '%%' || %(q)s || '%%' OR i.name ILIKE '%%' || %(q)s || '%%')
ORDER BY i.code LIMIT %(limit)s OFFSET %(offset)s"""
ONE_INTAKE = "SELECT code FROM intakes i WHERE code = %(code)s AND in_scope(i.division_code, %(scope)s)"
ONE_INTAKE_FULL = """
SELECT i.code, i.name, i.owner, i.county, i.division_code, i.township, i.longitude, i.latitude,
       i.engineering_type, i.design_daily_capacity_m3, i.status, i.source_type, i.source_name, i.water_use,
       i.permit_no, m.meter_ids[1] AS meter_id, coalesce(m.meter_ids, '{}') AS meter_ids
FROM intakes i LEFT JOIN LATERAL (
    SELECT array_agg(meter_id ORDER BY installed_on, meter_id) AS meter_ids FROM meters
    WHERE intake_code = i.code AND removed_on IS NULL) m ON true
WHERE i.code = %(code)s AND in_scope(i.division_code, %(scope)s)"""
# An intake's days: its meters' volumes as reports count them (daily_volumes.reported_m3), added up.
INTAKE_DAYS = """
SELECT d.day, sum(d.reported_m3) AS volume_m3, count(*) AS meters, bool_and(d.known) AS known,
       array_agg(d.meter_id ORDER BY d.meter_id) AS meter_ids
FROM daily_volumes d JOIN meters m ON m.meter_id = d.meter_id
WHERE m.intake_code = %(code)s AND d.day BETWEEN %(from)s AND %(to)s
GROUP BY d.day ORDER BY d.day"""
# The intake codes a scope holds, for answers built in Python from whole-registry computations.
INTAKES_IN_SCOPE = "SELECT code FROM intakes i WHERE in_scope(i.division_code, %(scope)s)"

PERMITS = """
SELECT p.permit_no, p.authority, p.valid_from, p.valid_to, p.annual_volume_m3,
       (SELECT array_agg(i.code ORDER BY i.code) FROM intakes i
        WHERE i.permit_no = p.permit_no AND in_scope(i.division_code, %(scope)s)) AS intakes,
       count(*) OVER () AS total
FROM permits p
WHERE (%(scope)s::text IS NULL OR EXISTS (
          SELECT 1 FROM intakes i WHERE i.permit_no = p.permit_no AND in_scope(i.division_code, %(scope)s)))
  AND (%(expired)s::boolean IS NULL OR (p.valid_to < %(today)s) = %(expired)s)
ORDER BY p.permit_no LIMIT %(limit)s OFFSET %(offset)s"""

METERS = """
SELECT m.meter_id, m.intake_code, m.meter_type, m.dn, m.serial, m.online_capable, m.report_interval_s,
       m.totalizer_capacity_m3, m.installed_on, m.removed_on, m.rtu_address, m.rtu_channel, i.county,
       count(*) OVER () AS total
FROM meters m JOIN intakes i ON i.code = m.intake_code
WHERE in_scope(i.division_code, %(scope)s)
  AND (%(county)s::text IS NULL OR i.county = %(county)s)
  AND (%(intake)s::text IS NULL OR m.intake_code = %(intake)s)
  AND (NOT %(active)s OR m.removed_on IS NULL)
ORDER BY m.meter_id LIMIT %(limit)s OFFSET %(offset)s"""

ONE_METER = f"""
SELECT {", ".join("m." + c for c in dq.METER_COLUMNS)}, i.county
FROM meters m JOIN intakes i ON i.code = m.intake_code
WHERE m.meter_id = %(meter)s AND in_scope(i.division_code, %(scope)s)"""
INSERT_METER = (
    f"INSERT INTO meters ({', '.join(dq.METER_COLUMNS)}) VALUES ({', '.join(['%s'] * len(dq.METER_COLUMNS))})"
)
UPDATE_METER = f"""
UPDATE meters SET ({", ".join(dq.METER_COLUMNS[1:])}, updated_at) = ({", ".join(["%s"] * (len(dq.METER_COLUMNS) - 1))}, now())
WHERE meter_id = %s"""

# Active meters on intakes in use, with what the status sweep and the collector last said.
STATUS = """
SELECT m.meter_id, m.intake_code, i.name AS intake_name, i.county,
       coalesce(s.status, 'never_reported') AS status, s.status_since, s.last_reading_ts,
       s.last_received_at AS last_seen, s.last_total_m3, count(*) OVER () AS total
FROM meters m JOIN intakes i ON i.code = m.intake_code LEFT JOIN meter_state s ON s.meter_id = m.meter_id
WHERE m.removed_on IS NULL AND i.status <> 'decommissioned' AND in_scope(i.division_code, %(scope)s)
  AND (%(county)s::text IS NULL OR i.county = %(county)s)
  AND (%(status)s::text IS NULL OR coalesce(s.status, 'never_reported') = %(status)s)
  AND (%(meter)s::text IS NULL OR m.meter_id = %(meter)s)
ORDER BY s.status_since NULLS LAST, m.meter_id LIMIT %(limit)s OFFSET %(offset)s"""
STATUS_HISTORY = """
SELECT at, status, reason, count(*) OVER () AS total FROM meter_status_changes WHERE meter_id = %(meter)s
ORDER BY at DESC LIMIT %(limit)s OFFSET %(offset)s"""

RAW_READINGS = """
SELECT r.ts, r.received_at, r.total_m3, r.flow_m3h, r.battery_v, r.rssi, r.alarms,
       mr.read_by IS NOT NULL AS manual, mr.read_by
FROM readings r
LEFT JOIN manual_readings mr ON mr.meter_id = r.meter_id AND mr.ts = r.ts
WHERE r.meter_id = %(meter)s AND r.ts >= %(from)s AND r.ts < %(to)s
ORDER BY r.ts LIMIT %(limit)s OFFSET %(offset)s"""
COUNT_READINGS = "SELECT count(*) FROM readings WHERE meter_id = %(meter)s AND ts >= %(from)s AND ts < %(to)s"
# Buckets start at local midnight (the service's time zone), like the daily volumes.
BUCKETED_READINGS = """
SELECT time_bucket(%(bucket)s::interval, ts, %(tz)s) AS bucket, count(*) AS readings,
       first(total_m3, ts) AS first_total_m3, last(total_m3, ts) AS last_total_m3,
       avg(flow_m3h) AS mean_flow_m3h, max(flow_m3h) AS max_flow_m3h
FROM readings WHERE meter_id = %(meter)s AND ts >= %(from)s AND ts < %(to)s
GROUP BY 1 ORDER BY 1"""

# Which rejected rows a caller sees (the list and the summary alike).
REJECTED_WHERE = """
(%(scope)s::text IS NULL OR EXISTS (  -- what names no meter of the caller's: only for all divisions
          SELECT 1 FROM meters m JOIN intakes i ON i.code = m.intake_code
          WHERE m.meter_id = r.meter_id AND in_scope(i.division_code, %(scope)s)))
  AND (%(reason)s::text IS NULL OR reason = %(reason)s)
  AND (%(source)s::text IS NULL OR source = %(source)s)
  AND (%(meter)s::text IS NULL OR meter_id = %(meter)s)
  AND (%(from)s::timestamptz IS NULL OR received_at >= %(from)s)
  AND (%(to)s::timestamptz IS NULL OR received_at < %(to)s)"""
REJECTED = (
    """
SELECT id, received_at, source, meter_id, topic, peer, element, reason, message,
       CASE WHEN source = 'szy206' THEN 'hex' ELSE 'text' END AS payload_encoding,
       CASE WHEN source = 'szy206' THEN upper(encode(payload, 'hex')) ELSE encode(payload, 'escape') END AS payload,
       replayed_at, replay_result, count(*) OVER () AS total
FROM rejected_messages r WHERE"""
    + REJECTED_WHERE
    + """
ORDER BY received_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s"""
)
# Per meter and reason: how many, how many still wait for a replay, the first and the last.
REJECTED_SUMMARY = (
    """
SELECT meter_id, reason, count(*) AS rejected, count(*) FILTER (WHERE replayed_at IS NULL) AS waiting,
       min(received_at) AS first_received_at, max(received_at) AS last_received_at,
       count(*) OVER () AS total
FROM rejected_messages r WHERE"""
    + REJECTED_WHERE
    + """
GROUP BY meter_id, reason
ORDER BY count(*) FILTER (WHERE replayed_at IS NULL) DESC, max(received_at) DESC, meter_id, reason
LIMIT %(limit)s OFFSET %(offset)s"""
)

FINDINGS = """
SELECT f.id, f.state, f.problem, f.severity, f.rule, f.intake_code,
       coalesce(i.name, f.evidence ->> 'name', f.subject) AS intake_name,
       coalesce(i.county, division_label(f.division_code)) AS county, f.subject,
       f.permit_no, f.meter_id, f.description, f.evidence, f.first_detected, f.last_confirmed, f.measure,
       f.responsible, f.deadline, f.closed_on, f.closed_by, f.close_note, count(*) OVER () AS total
FROM findings f LEFT JOIN intakes i ON i.code = f.intake_code
WHERE (%(state)s::text IS NULL OR f.state = %(state)s)
  AND (%(open)s::boolean IS NULL OR (f.state <> 'closed') = %(open)s)
  AND (%(problem)s::text IS NULL OR f.problem = %(problem)s)
  AND (%(severity)s::text IS NULL OR f.severity = %(severity)s)
  AND (%(rule)s::text IS NULL OR f.rule = %(rule)s)
  AND (%(intake)s::text IS NULL OR f.intake_code = %(intake)s OR f.evidence -> 'intakes' ? %(intake)s)
  AND (%(county)s::text IS NULL OR coalesce(i.county, division_label(f.division_code)) = %(county)s)
  AND in_scope(coalesce(i.division_code, f.division_code), %(scope)s)
ORDER BY f.first_detected, f.id LIMIT %(limit)s OFFSET %(offset)s"""

ONE_FINDING = """
SELECT f.id, f.state, f.problem, f.severity, f.rule, f.intake_code,
       coalesce(i.name, f.evidence ->> 'name', f.subject) AS intake_name,
       coalesce(i.county, division_label(f.division_code)) AS county, f.subject,
       f.permit_no, f.meter_id, f.description, f.evidence, f.first_detected, f.last_confirmed, f.measure,
       f.responsible, f.deadline, f.closed_on, f.closed_by, f.close_note
FROM findings f LEFT JOIN intakes i ON i.code = f.intake_code
WHERE f.id = %(id)s AND in_scope(coalesce(i.division_code, f.division_code), %(scope)s)"""

# This year's volume from the yearly rollup per intake, exact (text) and as a float with the permit's
# volume, from which the caller adds up each permit's share over all its intakes (cheaper there than
# a window here). Text and times come out ready for JSON. The caller sorts by code, too (faster in
# Python than in the database's collation).
MAP = """
WITH ytd AS (
    SELECT m.intake_code, sum(v.volume_m3) AS m3
    FROM yearly_volumes v JOIN meters m ON m.meter_id = v.meter_id
    WHERE v.year = %(year)s
    GROUP BY 1)
SELECT i.code, i.name, i.county, i.longitude, i.latitude, i.status, i.permit_no, s.meter_id,
       CASE WHEN s.meter_id IS NULL THEN 'no_meter' ELSE coalesce(s.status, 'never_reported') END,
       to_json(s.status_since) #>> '{}', to_json(s.last_reading_ts) #>> '{}', s.last_total_m3::text,
       coalesce(y.m3, 0)::text, y.m3::float8, p.annual_volume_m3::float8, coalesce(s.meters, 0)
FROM intakes i
-- an intake with several meters (one per pump) shows the one most in need of attention, and how many
LEFT JOIN LATERAL (
    SELECT m.meter_id, st.status, st.status_since, st.last_reading_ts, st.last_total_m3, count(*) OVER () AS meters
    FROM meters m LEFT JOIN meter_state st ON st.meter_id = m.meter_id
    WHERE m.intake_code = i.code AND m.removed_on IS NULL
    ORDER BY CASE coalesce(st.status, 'never_reported') WHEN 'offline' THEN 0 WHEN 'never_reported' THEN 1 ELSE 2 END,
             m.installed_on, m.meter_id
    LIMIT 1) s ON true
LEFT JOIN ytd y ON y.intake_code = i.code
LEFT JOIN permits p ON p.permit_no = i.permit_no
WHERE in_scope(i.division_code, %(scope)s) AND (%(county)s::text IS NULL OR i.county = %(county)s)"""

USER_BY_TOKEN = "SELECT name, role, division_code FROM api_users WHERE token_hash = %s AND revoked_at IS NULL"  # noqa: S105
USERS = """
SELECT name, role, division_code, created_at, created_by, revoked_at, count(*) OVER () AS total
FROM api_users u WHERE in_scope(u.division_code, %(scope)s)
ORDER BY name LIMIT %(limit)s OFFSET %(offset)s"""
# A revoked name may be issued again; an active one must be revoked (or rotated) first.
ADD_USER = """
INSERT INTO api_users (name, role, division_code, token_hash, created_by) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role, division_code = EXCLUDED.division_code,
    token_hash = EXCLUDED.token_hash, created_at = now(), created_by = EXCLUDED.created_by, revoked_at = NULL
WHERE api_users.revoked_at IS NOT NULL AND in_scope(api_users.division_code, %s)
RETURNING name"""
ROTATE_USER = """
UPDATE api_users SET token_hash = %s, created_at = now(), created_by = %s
WHERE name = %s AND revoked_at IS NULL AND in_scope(division_code, %s) RETURNING role, division_code"""
REVOKE_USER = """
UPDATE api_users SET revoked_at = now()
WHERE name = %s AND revoked_at IS NULL AND in_scope(division_code, %s) RETURNING name"""
DIVISION_EXISTS = "SELECT 1 FROM divisions WHERE code = %s"
IN_SCOPE = "SELECT in_scope(%s, %s)"


def division_known(conn: Conn, division: str) -> bool:
    return conn.execute(DIVISION_EXISTS, (division,)).fetchone() is not None


def inside(conn: Conn, division: str | None, scope: str | None) -> bool:
    """Whether ``division`` (None: all) lies inside ``scope``: the one rule, in_scope() in SQL."""
    row = conn.execute(IN_SCOPE, (division, scope)).fetchone()
    return bool(row and row[0])


# The registry's audit trail of one record (migration 0018), newest first.
CHANGES = """
SELECT at, actor, field, old_value, new_value, count(*) OVER () AS total FROM registry_changes
WHERE record = %(record)s AND key = %(key)s
ORDER BY at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s"""
ONE_PERMIT = """
SELECT permit_no FROM permits p WHERE permit_no = %(permit)s
  AND (%(scope)s::text IS NULL OR EXISTS (
          SELECT 1 FROM intakes i WHERE i.permit_no = p.permit_no AND in_scope(i.division_code, %(scope)s)))"""

INSERT_CALIBRATION = """
INSERT INTO calibrations (meter_id, calibrated_on, result, certificate_no) VALUES (%s, %s, %s, %s)
ON CONFLICT (meter_id, calibrated_on) DO NOTHING RETURNING meter_id"""
METER_CALIBRATIONS = """
SELECT meter_id, calibrated_on, result, certificate_no, count(*) OVER () AS total FROM calibrations
WHERE meter_id = %(meter)s ORDER BY calibrated_on DESC LIMIT %(limit)s OFFSET %(offset)s"""


def paged(conn: Conn, sql: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Rows as dicts without the ``total`` column, and the total (0 for an empty page past the end)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql, params).fetchall()
    total = int(rows[0].pop("total")) if rows else 0
    for row in rows[1:]:
        row.pop("total")
    if not rows and params.get("offset"):
        # A page past the end: count without it so the caller still learns the total.
        with conn.cursor(row_factory=dict_row) as cur:
            again = cur.execute(sql, {**params, "offset": 0, "limit": 1}).fetchall()
        total = int(again[0]["total"]) if again else 0
    return rows, total


def rows(conn: Conn, sql: str, params: dict[str, Any] | tuple[Any, ...]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def user_by_token(conn: Conn, digest: str) -> tuple[str, str, str | None] | None:
    row = conn.execute(USER_BY_TOKEN, (digest,)).fetchone()
    return (row[0], row[1], row[2]) if row else None


def intakes_in_scope(conn: Conn, scope: str | None) -> frozenset[str] | None:
    """The intake codes inside ``scope``; None for all divisions (nothing to filter)."""
    if scope is None:
        return None
    return frozenset(code for (code,) in conn.execute(INTAKES_IN_SCOPE, {"scope": scope}))


# This year's volume per permit over all its intakes, for a scoped map (whose rows hold only some of them).
PERMITS_YTD = """
SELECT i.permit_no, sum(v.volume_m3)::float8
FROM yearly_volumes v JOIN meters m ON m.meter_id = v.meter_id JOIN intakes i ON i.code = m.intake_code
WHERE v.year = %(year)s AND i.permit_no = ANY(%(permits)s)
GROUP BY 1"""


def permits_ytd(conn: Conn, year: int, permits: list[str]) -> dict[str, float]:
    return {p: float(v or 0) for p, v in conn.execute(PERMITS_YTD, {"year": year, "permits": permits})}


def map_rows(conn: Conn, today: date, county: str | None, scope: str | None) -> list[tuple[Any, ...]]:
    params = {"year": today.year, "county": county, "scope": scope}
    return conn.execute(MAP, params).fetchall()


def readings(
    conn: Conn,
    meter_id: str,
    start: datetime,
    end: datetime,
    bucket: str | None,
    zone: str,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    params: dict[str, Any] = {"meter": meter_id, "from": start, "to": end, "limit": limit, "offset": offset}
    if bucket is None:
        found = rows(conn, RAW_READINGS, params)
        total = conn.execute(COUNT_READINGS, params).fetchone()
        return found, int(total[0]) if total else 0
    found = rows(conn, BUCKETED_READINGS, {**params, "bucket": bucket, "tz": zone})
    return found, len(found)
