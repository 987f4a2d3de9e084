"""The collector's SQL. Every statement runs inside the batch's one transaction."""

from __future__ import annotations

from ingest.volumes import NEIGHBOUR_WINDOW

WINDOW = f"{NEIGHBOUR_WINDOW.days} days"

# Every meter (``only`` NULL), or those named; removed ones too: readings a meter took before its
# removal day ended are still its own.
METERS = """
SELECT m.meter_id, m.totalizer_capacity_m3, m.report_interval_s, m.installed_on, m.removed_on,
       m.meter_type, m.dn, i.design_daily_capacity_m3, m.intake_code, m.rtu_address, m.rtu_channel
FROM meters m JOIN intakes i ON i.code = m.intake_code
WHERE %(only)s::text[] IS NULL OR m.meter_id = ANY(%(only)s)
ORDER BY m.installed_on, m.meter_id"""

COPY_REJECTED = """
COPY rejected_messages (received_at, source, meter_id, topic, peer, payload, element, reason, message,
                        clock_ahead_s) FROM STDIN"""

STAGE_READINGS = """
DROP TABLE IF EXISTS stage_readings;
CREATE TEMP TABLE stage_readings (
    meter_id text, ts timestamptz, received_at timestamptz, total_m3 numeric, flow_m3h double precision,
    battery_v double precision, rssi smallint, alarms text[]
) ON COMMIT DROP"""
COPY_STAGE = "COPY stage_readings (meter_id, ts, received_at, total_m3, flow_m3h, battery_v, rssi, alarms) FROM STDIN (FORMAT BINARY)"
STAGE_TYPES = ["text", "timestamptz", "timestamptz", "numeric", "float8", "float8", "int2", "text[]"]
INSERT_FROM_STAGE = """
INSERT INTO readings (meter_id, ts, received_at, total_m3, flow_m3h, battery_v, rssi, alarms)
SELECT meter_id, ts, received_at, total_m3, flow_m3h, battery_v, rssi, alarms FROM stage_readings
ON CONFLICT (meter_id, ts) DO NOTHING"""
# Inside a savepoint (isolating a refused row) the rows it inserts carry the subtransaction's xid, which
# STORED_BEFORE cannot tell from another's: there the insert returns what it stored instead.
INSERT_FROM_STAGE_RETURNING = INSERT_FROM_STAGE + " RETURNING meter_id, ts"
STORED_AT = """
SELECT r.meter_id, r.ts, r.total_m3, r.flow_m3h, r.battery_v, r.rssi, r.alarms
FROM unnest(%s::text[], %s::timestamptz[]) AS k(meter_id, ts)
JOIN readings r ON r.meter_id = k.meter_id AND r.ts = k.ts
WHERE r.ts BETWEEN %s AND %s"""
# After an insert that skipped some: the staged readings this transaction did not insert (stored
# before, or by another collector meanwhile), with what is stored for them.
STORED_BEFORE = """
SELECT r.meter_id, r.ts, r.total_m3, r.flow_m3h, r.battery_v, r.rssi, r.alarms
FROM stage_readings s JOIN readings r ON r.meter_id = s.meter_id AND r.ts = s.ts
WHERE r.ts BETWEEN %s AND %s AND r.xmin::text::bigint <> mod(txid_current(), 4294967296)"""
INSERT_CONFLICT = """
INSERT INTO reading_conflicts (meter_id, ts, received_at, total_m3, flow_m3h, battery_v, rssi, alarms,
                               stored_total_m3, source, topic, peer)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"""

# A status is a state, not an event stream: a message saying what the meter's latest recorded status
# (at or before it) already says is not a new event. A redelivered birth or will, or a retained status
# sent again on a new subscription, is therefore recorded once.
INSERT_STATUS_EVENT = """
INSERT INTO meter_status_events (meter_id, received_at, status, retained)
SELECT %(meter)s, %(at)s, %(status)s, %(retained)s
WHERE (SELECT status FROM meter_status_events WHERE meter_id = %(meter)s AND received_at <= %(at)s
       ORDER BY received_at DESC, id DESC LIMIT 1) IS DISTINCT FROM %(status)s"""
# The newest status wins (a will after a reconnect that sent no birth is a new will: its time counts).
UPSERT_STATUS = """
INSERT INTO meter_state (meter_id, last_status, last_status_at) VALUES (%(meter)s, %(status)s, %(at)s)
ON CONFLICT (meter_id) DO UPDATE SET
    last_status = CASE WHEN meter_state.last_status_at IS NULL OR EXCLUDED.last_status_at >= meter_state.last_status_at
                       THEN EXCLUDED.last_status ELSE meter_state.last_status END,
    last_status_at = greatest(meter_state.last_status_at, EXCLUDED.last_status_at),
    updated_at = now()"""
# Locks the batch's meters (in one order: no deadlock between collectors) and says what is stored.
LOCK_STATE = """
SELECT meter_id, last_reading_ts, readings_stored, volumes_version FROM meter_state
WHERE meter_id = ANY(%s) ORDER BY meter_id FOR UPDATE"""
UPSERT_LAST_READING = """
INSERT INTO meter_state (meter_id, last_reading_ts, last_total_m3, last_received_at, readings_stored)
SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::numeric[], %s::timestamptz[], %s::bigint[]) ORDER BY 1
ON CONFLICT (meter_id) DO UPDATE SET
    last_total_m3 = CASE WHEN meter_state.last_reading_ts IS NULL OR EXCLUDED.last_reading_ts > meter_state.last_reading_ts
                         THEN EXCLUDED.last_total_m3 ELSE meter_state.last_total_m3 END,
    last_reading_ts = greatest(meter_state.last_reading_ts, EXCLUDED.last_reading_ts),
    last_received_at = greatest(meter_state.last_received_at, EXCLUDED.last_received_at),
    readings_stored = meter_state.readings_stored + EXCLUDED.readings_stored,
    updated_at = now()"""

# For each (meter, lo, hi): the reading before lo, every reading in [lo, hi), the reading at or after hi.
POINTS_AROUND = f"""
SELECT s.meter_id, r.ts, r.total_m3, r.flow_m3h
FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) AS s(meter_id, lo, hi)
CROSS JOIN LATERAL (
    (SELECT ts, total_m3, flow_m3h FROM readings
     WHERE meter_id = s.meter_id AND ts < s.lo AND ts >= s.lo - interval '{WINDOW}'
     ORDER BY ts DESC LIMIT 1)
    UNION ALL
    (SELECT ts, total_m3, flow_m3h FROM readings WHERE meter_id = s.meter_id AND ts >= s.lo AND ts < s.hi)
    UNION ALL
    (SELECT ts, total_m3, flow_m3h FROM readings
     WHERE meter_id = s.meter_id AND ts >= s.hi AND ts < s.hi + interval '{WINDOW}'
     ORDER BY ts LIMIT 1)
) r
ORDER BY s.meter_id, r.ts"""

STAGE_DAYS = """
DROP TABLE IF EXISTS stage_days;
CREATE TEMP TABLE stage_days (LIKE daily_volumes INCLUDING DEFAULTS) ON COMMIT DROP"""
COPY_DAYS = """
COPY stage_days (meter_id, day, volume_m3, readings, first_ts, last_ts, coverage, method, flags, flow_m3) FROM STDIN (FORMAT BINARY)"""
DAY_TYPES = [
    "text",
    "date",
    "numeric",
    "int4",
    "timestamptz",
    "timestamptz",
    "float4",
    "text",
    "text[]",
    "numeric",
]
UPSERT_DAYS = """
INSERT INTO daily_volumes (meter_id, day, volume_m3, readings, first_ts, last_ts, coverage, method, flags, flow_m3)
SELECT meter_id, day, volume_m3, readings, first_ts, last_ts, coverage, method, flags, flow_m3 FROM stage_days
ON CONFLICT (meter_id, day) DO UPDATE SET
    volume_m3 = EXCLUDED.volume_m3, readings = EXCLUDED.readings, first_ts = EXCLUDED.first_ts,
    last_ts = EXCLUDED.last_ts, coverage = EXCLUDED.coverage, method = EXCLUDED.method,
    flags = EXCLUDED.flags, flow_m3 = EXCLUDED.flow_m3, updated_at = now()"""

DELETE_EVENTS_IN = """
DELETE FROM meter_events e USING unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) AS s(meter_id, lo, hi)
WHERE e.meter_id = s.meter_id AND e.ts > s.lo AND e.ts <= s.hi"""
INSERT_EVENT = """
INSERT INTO meter_events (meter_id, ts, kind, total_before, total_after, prev_ts, implied_m3)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (meter_id, ts, kind) DO NOTHING"""
