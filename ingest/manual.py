"""Manual readings (人工抄表) stored through the collector's own checks and store.

Each entry is judged as the collector judges a reading (devices/codec.py: not ahead of the clock,
not after the meter's removal, within its register) and, being a person's entry, not before the
meter's installation. What passes is written by :func:`ingest.store.store`: the reading, the meter's
state, and the daily volumes of every day it touches, so the interval between two manual readings
is computed as for any meter. In the same transaction ``manual_readings`` records who read it and
who entered it. Every refused entry comes back with its row and reason; the others are stored.

- An entry identical to a stored reading is not stored again (a batch entered twice stores nothing
  twice); one that differs from a stored reading at the same time is kept in ``reading_conflicts``
  and comes back as a conflict, as a meter's would.
- When the database refuses the batch as data, the entries are stored one by one in savepoints and
  the refused ones come back with what it said; any other refusal raises with nothing stored.
- A meter outside ``scope`` (the caller's division) is answered as unknown: a caller learns nothing
  about meters it may not see.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import orjson
import psycopg

from devices.codec import check_in_service, check_reading_total, check_time
from devices.manual import Channel, ManualEntry, RowProblem
from devices.readings import Reading, Refused
from ingest.directory import load_meters
from ingest.errors import describe, is_data_error
from ingest.message import Limits, Message, MeterInfo, Source
from ingest.store import Conn, store

VISIBLE = """
SELECT m.meter_id FROM meters m JOIN intakes i ON i.code = m.intake_code
WHERE m.meter_id = ANY(%(meters)s) AND in_scope(i.division_code, %(scope)s)"""
STORED = """
SELECT r.meter_id, r.ts, r.total_m3, mr.meter_id IS NOT NULL
FROM readings r LEFT JOIN manual_readings mr ON mr.meter_id = r.meter_id AND mr.ts = r.ts
WHERE (r.meter_id, r.ts) IN (SELECT * FROM unnest(%(meters)s::text[], %(stamps)s::timestamptz[]))
  AND r.ts BETWEEN %(low)s AND %(high)s"""
RECORD = """
INSERT INTO manual_readings (meter_id, ts, total_m3, read_by, photo_ref, entered_by, entered_at, channel)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"""


@dataclass
class ManualResult:
    stored: list[ManualEntry] = field(default_factory=list)
    already: list[ManualEntry] = field(default_factory=list)  # the same reading was stored before
    problems: list[RowProblem] = field(default_factory=list)  # refused, or in conflict with a stored one
    days: int = 0  # daily volumes written


def _judge(entry: ManualEntry, meter: MeterInfo, now: datetime, limits: Limits) -> Reading:
    """The collector's own checks, and one for a person's entry: not before the meter was installed."""
    ts = check_in_service(check_time(entry.ts, now, limits.max_future_skew), meter.service_ends)
    if meter.service_starts is not None and ts < meter.service_starts:
        raise ValueError(
            f"read at {ts.isoformat()}, before the meter was installed ({meter.service_starts.date()})"
        )
    return Reading(entry.meter_id, ts, check_reading_total(entry.total_m3, meter.capacity))


def _message(
    meter_id: str, entries: Sequence[ManualEntry], readings: list[Reading], now: datetime
) -> Message:
    """One meter's entries as the store takes a delivery: the readings, and what was entered as payload."""
    payload = orjson.dumps(
        [
            {"row": e.row, "ts": e.ts.isoformat(), "total_m3": str(e.total_m3), "read_by": e.read_by}
            for e in entries
        ]
    )
    return Message(Source.MANUAL, meter_id, payload, now, readings=readings)


def store_manual(
    conn: Conn,
    entries: Sequence[ManualEntry],
    zone: ZoneInfo,
    limits: Limits,
    entered_by: str,
    channel: Channel,
    now: datetime,
    scope: str | None = None,
) -> ManualResult:
    """Judge and store ``entries`` (from one caller, inside ``scope``) in one transaction."""
    done = ManualResult()
    ids = sorted({e.meter_id for e in entries})
    visible = {m for (m,) in conn.execute(VISIBLE, {"meters": ids, "scope": scope})}
    meters = load_meters(conn, zone, sorted(visible)) if visible else {}  # these, not the directory
    judged: dict[str, list[tuple[ManualEntry, Reading]]] = defaultdict(list)
    for entry in entries:
        meter = meters.get(entry.meter_id) if entry.meter_id in visible else None
        if meter is None:
            done.problems.append(
                RowProblem(
                    entry.row, entry.meter_id, "unknown_meter", f"meter {entry.meter_id!r} is not registered"
                )
            )
            continue
        try:
            judged[entry.meter_id].append((entry, _judge(entry, meter, now, limits)))
        except Refused as refused:
            said = refused.refusal()
            done.problems.append(RowProblem(entry.row, entry.meter_id, str(said.reason), said.message))
        except ValueError as exc:
            done.problems.append(RowProblem(entry.row, entry.meter_id, "before_installation", str(exc)))
    accepted = [pair for pairs in judged.values() for pair in pairs]
    if not accepted:
        return done
    with conn.transaction():
        before = _stored(conn, [e for e, _r in accepted])
        for entry, reading in accepted:
            held = before.get((entry.meter_id, reading.ts))
            if held is None:
                continue
            total, manual = held
            if total == reading.total_m3:
                done.already.append(entry)
            else:
                done.problems.append(
                    RowProblem(
                        entry.row,
                        entry.meter_id,
                        "conflict",
                        f"a different reading ({total} m³{', entered by hand' if manual else ''}) is stored "
                        f"for this meter at {reading.ts.isoformat()}; this one is kept as a conflict",
                    )
                )
        # all of them: one that differs from a stored reading is kept in reading_conflicts by the store
        stored = _store(conn, accepted, meters, zone, now, done)
        done.stored = [e for e in stored if (e.meter_id, e.ts) not in before]
        for entry in done.stored:
            conn.execute(
                RECORD,
                (
                    entry.meter_id,
                    entry.ts,
                    entry.total_m3,
                    entry.read_by,
                    entry.photo_ref,
                    entered_by,
                    now,
                    str(channel),
                ),
            )
    done.problems.sort(key=lambda p: p.row)
    return done


def _stored(conn: Conn, entries: Sequence[ManualEntry]) -> dict[tuple[str, datetime], tuple[Decimal, bool]]:
    query = {
        "meters": [e.meter_id for e in entries],
        "stamps": [e.ts for e in entries],
        "low": min(e.ts for e in entries),
        "high": max(e.ts for e in entries),
    }
    return {(m, ts): (total, manual) for m, ts, total, manual in conn.execute(STORED, query)}


def _store(
    conn: Conn,
    pairs: Sequence[tuple[ManualEntry, Reading]],
    meters: dict[str, MeterInfo],
    zone: ZoneInfo,
    now: datetime,
    done: ManualResult,
) -> list[ManualEntry]:
    """Store all of them at once (a savepoint); when the database refuses that as data, one by one.
    The entries the database took."""
    by_meter: dict[str, list[tuple[ManualEntry, Reading]]] = defaultdict(list)
    for pair in pairs:
        by_meter[pair[0].meter_id].append(pair)
    messages = [
        _message(m, [e for e, _r in group], [r for _e, r in group], now)
        for m, group in sorted(by_meter.items())
    ]
    try:
        with conn.transaction():
            done.days += store(conn, messages, meters, zone).days
        return [e for e, _r in pairs]
    except psycopg.Error as exc:
        if not is_data_error(exc):
            raise
    took = []
    for entry, reading in pairs:
        try:
            with conn.transaction():
                done.days += store(
                    conn, [_message(entry.meter_id, [entry], [reading], now)], meters, zone
                ).days
        except psycopg.Error as exc:
            if not is_data_error(exc):
                raise
            done.problems.append(
                RowProblem(
                    entry.row, entry.meter_id, "db_refused", f"the database refused it: {describe(exc)}"
                )
            )
            continue
        took.append(entry)
    return took
