"""Writing one batch of decoded messages in one transaction.

Readings go through a staging table into the hypertable with ``ON CONFLICT DO NOTHING``; a reading
already stored with the same values is a duplicate (counted, dropped), with other values a conflict
(kept in reading_conflicts). In the same transaction: refusals, status events, meter state, and the
daily volumes of every meter-day the new readings touch, recomputed from the stored readings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from devices.readings import Reading
from infra.calendar import day_bounds, local_day
from ingest import queries as q
from ingest.message import Message, MeterInfo, Source
from ingest.tails import Tail, extend, take_tail
from ingest.volumes import (
    DailyVolume,
    IntervalKind,
    Point,
    finish,
    interval,
    tally_days,
    touched_days,
)

Conn = psycopg.Connection[Any]


@dataclass
class StoreResult:
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    status_events: int = 0
    days: int = 0
    newest_ts: datetime | None = None
    tails: dict[str, Tail | None] = field(default_factory=dict)  # each touched meter's next tail

    def merge(self, other: StoreResult) -> StoreResult:
        newest = max((t for t in (self.newest_ts, other.newest_ts) if t is not None), default=None)
        return StoreResult(
            self.stored + other.stored,
            self.duplicates + other.duplicates,
            self.conflicts + other.conflicts,
            self.rejected + other.rejected,
            self.status_events + other.status_events,
            self.days + other.days,
            newest,
            {**self.tails, **other.tails},
        )


def apply_tails(tails: dict[str, Tail], result: StoreResult) -> None:
    """Once the transaction holding ``result`` has committed: the fast path's cache follows it."""
    for meter_id, tail in result.tails.items():
        if tail is None:
            tails.pop(meter_id, None)
        else:
            tails[meter_id] = tail


def _values(reading: Reading) -> tuple[Any, ...]:
    return (reading.total_m3, reading.flow_m3h, reading.battery_v, reading.rssi, tuple(reading.alarms))


def _stored_values(row: Sequence[Any]) -> tuple[Any, ...]:
    _meter, _ts, total, flow, battery, rssi, alarms = row
    return (total, flow, battery, rssi, tuple(alarms or ()))


def _row(reading: Reading, message: Message) -> tuple[Any, ...]:
    """A reading as stored: meter, device time, receive time, total, flow, battery, rssi, alarms."""
    return (
        reading.meter_id,
        reading.ts,
        message.received_at,
        reading.total_m3,
        reading.flow_m3h,
        reading.battery_v,
        reading.rssi,
        list(reading.alarms),
    )


def _write_rejected(cur: psycopg.Cursor[Any], messages: Sequence[Message], result: StoreResult) -> None:
    rows = [
        (
            m.received_at,
            str(m.source),
            m.meter_id,
            m.topic,
            m.peer,
            m.payload,
            r.element,
            str(r.reason),
            r.message,
            r.clock_ahead_s,
        )
        for m in messages
        for r in m.refusals
    ]
    if rows:
        with cur.copy(q.COPY_REJECTED) as copy:
            for row in rows:
                copy.write_row(row)
    result.rejected.update(r[7] for r in rows)


def _write_readings(
    cur: psycopg.Cursor[Any], messages: Sequence[Message], result: StoreResult, nested: bool
) -> dict[str, list[Reading]]:
    """Insert new readings; classify the rest as duplicates or conflicts. Returns the new ones by meter."""
    first: dict[tuple[str, datetime], tuple[Reading, Message]] = {}
    occurrences: list[tuple[Reading, Message]] = []
    for message in messages:
        for reading in message.readings:
            occurrences.append((reading, message))
            first.setdefault((reading.meter_id, reading.ts), (reading, message))
    if not first:
        return {}
    cur.execute(q.STAGE_READINGS)
    with cur.copy(q.COPY_STAGE) as copy:
        copy.set_types(q.STAGE_TYPES)
        for reading, message in first.values():
            copy.write_row(_row(reading, message))
    stored: dict[tuple[str, datetime], Any] = {}
    low, high = min(ts for _m, ts in first), max(ts for _m, ts in first)
    if nested:
        inserted = {(m, ts) for m, ts in cur.execute(q.INSERT_FROM_STAGE_RETURNING).fetchall()}
        skipped = [k for k in first if k not in inserted]
        if skipped:
            keys = ([m for m, _t in skipped], [t for _m, t in skipped], low, high)
            stored = {(r[0], r[1]): r for r in cur.execute(q.STORED_AT, keys).fetchall()}
    else:
        cur.execute(q.INSERT_FROM_STAGE)
        if cur.rowcount < len(first):  # some were stored already: compare them with what is stored
            stored = {(r[0], r[1]): r for r in cur.execute(q.STORED_BEFORE, (low, high)).fetchall()}
    new: dict[str, list[Reading]] = {}
    for reading, message in occurrences:
        key = (reading.meter_id, reading.ts)
        inserted_now = key not in stored
        if inserted_now and first[key][0] is reading:
            new.setdefault(reading.meter_id, []).append(reading)
            result.stored += 1
            continue
        held = _values(first[key][0]) if inserted_now else _stored_values(stored[key])
        if _values(reading) == held:
            result.duplicates += 1
        else:
            result.conflicts += 1
            cur.execute(
                q.INSERT_CONFLICT,
                (*_row(reading, message), held[0], str(message.source), message.topic, message.peer),
            )
    return new


def _write_status(cur: psycopg.Cursor[Any], messages: Sequence[Message], result: StoreResult) -> None:
    for message in messages:
        if message.status is None or message.meter_id is None:
            continue
        said = {
            "meter": message.meter_id,
            "at": message.received_at,
            "status": str(message.status),
            "retained": message.retained,
        }
        cur.execute(q.INSERT_STATUS_EVENT, said)
        result.status_events += cur.rowcount
        cur.execute(q.UPSERT_STATUS, said)


def _write_state(
    cur: psycopg.Cursor[Any], new: Mapping[str, list[Reading]], messages: Sequence[Message]
) -> dict[str, tuple[datetime | None, int, int]]:
    """Lock the meters' state rows, update them; returns what each said before: newest ts, count and
    volumes version."""
    meters = sorted(new)
    before = {m: (ts, n, v) for m, ts, n, v in cur.execute(q.LOCK_STATE, (meters,)).fetchall()}
    # when the meter was last heard from: a reading a person entered is not the meter speaking
    heard = [m.received_at for m in messages if m.source is not Source.MANUAL]
    received = max(heard) if heard else None
    newest = [max(new[m], key=lambda r: r.ts) for m in meters]
    cur.execute(
        q.UPSERT_LAST_READING,
        (
            meters,
            [r.ts for r in newest],
            [r.total_m3 for r in newest],
            [received] * len(meters),
            [len(new[m]) for m in meters],
        ),
    )
    return before


def points_around(
    cur: psycopg.Cursor[Any], spans: Iterable[tuple[str, datetime, datetime]]
) -> dict[str, list[Point]]:
    spans = list(spans)
    rows = cur.execute(
        q.POINTS_AROUND, ([s[0] for s in spans], [s[1] for s in spans], [s[2] for s in spans])
    ).fetchall()
    out: dict[str, list[Point]] = {}
    for meter_id, ts, total, flow in rows:
        out.setdefault(meter_id, []).append(Point(ts, total, flow))
    return out


def day_row(meter_id: str, v: DailyVolume) -> tuple[Any, ...]:
    return (
        meter_id,
        v.day,
        v.volume_m3,
        v.readings,
        v.first_ts,
        v.last_ts,
        v.coverage,
        str(v.method),
        list(v.flags),
        v.flow_m3,
    )


def _extend_tails(
    new: Mapping[str, list[Reading]],
    meters: Mapping[str, MeterInfo],
    zone: ZoneInfo,
    before: Mapping[str, tuple[datetime | None, int, int]],
    tails: Mapping[str, Tail],
) -> dict[str, tuple[list[DailyVolume], Tail]]:
    """The fast path for meters whose cached tail is current and whose new readings simply follow it."""
    plans = {}
    for meter_id, readings in new.items():
        tail = tails.get(meter_id)
        if tail is None or before.get(meter_id) != (tail.last.ts, tail.stored, tail.version):
            continue
        info = meters[meter_id]
        points = sorted((Point(r.ts, r.total_m3, r.flow_m3h) for r in readings), key=lambda p: p.ts)
        plan = extend(tail, points, len(readings), zone, info.capacity, info.max_gap, info.max_rate_m3h)
        if plan is not None:
            plans[meter_id] = plan
    return plans


def _write_volumes(
    cur: psycopg.Cursor[Any],
    new: Mapping[str, list[Reading]],
    meters: Mapping[str, MeterInfo],
    zone: ZoneInfo,
    before: Mapping[str, tuple[datetime | None, int, int]],
    tails: Mapping[str, Tail],
) -> tuple[int, dict[str, Tail | None]]:
    """Write every meter-day the new readings touch: extended from a tail (fast path) or recomputed
    from the stored readings around them. Returns the day count and each meter's next tail."""
    plans = _extend_tails(new, meters, zone, before, tails)
    rows = [day_row(m, v) for m, (volumes, _t) in plans.items() for v in volumes]
    next_tails: dict[str, Tail | None] = {m: tail for m, (_v, tail) in plans.items()}
    slow = {m: rs for m, rs in new.items() if m not in plans}
    events: list[tuple[Any, ...]] = []
    if slow:
        again = _recompute(cur, slow, meters, zone, before)
        rows += again.rows
        next_tails.update(again.tails)
        events = again.events
        points = again.points
        cur.execute(
            q.DELETE_EVENTS_IN,
            (list(points), [p[0].ts for p in points.values()], [p[-1].ts for p in points.values()]),
        )
    cur.execute(q.STAGE_DAYS)
    with cur.copy(q.COPY_DAYS) as copy:
        copy.set_types(q.DAY_TYPES)
        for row in rows:
            copy.write_row(row)
    cur.execute(q.UPSERT_DAYS)
    if events:
        cur.executemany(q.INSERT_EVENT, events)
    return len(rows), next_tails


def event_rows(meter_id: str, series: Sequence[Point], info: MeterInfo) -> list[tuple[Any, ...]]:
    """meter_events rows for the totalizer events in ``series``: rollovers, resets (with the volume a
    rollover would have meant), implausible rises (with their volume)."""
    rows = []
    for a, b in pairwise(series):
        item = interval(a, b, info.capacity, info.max_rate_m3h)
        if item.kind is not IntervalKind.NORMAL:
            rows.append((meter_id, b.ts, str(item.kind), a.total, b.total, a.ts, item.implied_m3))
    return rows


@dataclass
class _Recomputed:
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # daily_volumes rows
    tails: dict[str, Tail | None] = field(default_factory=dict)  # each meter's next tail, if any
    events: list[tuple[Any, ...]] = field(default_factory=list)  # meter_events rows (rollovers, resets)
    points: dict[str, list[Point]] = field(default_factory=dict)  # the stored readings it read


def _recompute(
    cur: psycopg.Cursor[Any],
    new: Mapping[str, list[Reading]],
    meters: Mapping[str, MeterInfo],
    zone: ZoneInfo,
    before: Mapping[str, tuple[datetime | None, int, int]],
) -> _Recomputed:
    """The slow path: recompute the touched days from the stored readings around the new ones."""
    # One fetch covers the local days of the new readings and their neighbours; only meters whose
    # touched days reach further (a late reading inside a long outage) need a second, wider one.
    spans = {
        m: (
            day_bounds(local_day(min(r.ts for r in rs), zone), zone)[0],
            day_bounds(local_day(max(r.ts for r in rs), zone), zone)[1],
        )
        for m, rs in new.items()
    }
    points = points_around(cur, ((m, lo, hi) for m, (lo, hi) in spans.items()))
    touched = {m: touched_days([p.ts for p in points[m]], (r.ts for r in rs), zone) for m, rs in new.items()}
    wider = {
        m: (day_bounds(min(days), zone)[0], day_bounds(max(days), zone)[1]) for m, days in touched.items()
    }
    wider = {m: (lo, hi) for m, (lo, hi) in wider.items() if lo < spans[m][0] or hi > spans[m][1]}
    if wider:
        points.update(points_around(cur, ((m, lo, hi) for m, (lo, hi) in wider.items())))
    out = _Recomputed(points=points)
    for meter_id, days in touched.items():
        info = meters[meter_id]
        series = points[meter_id]
        tallies, inside = tally_days(series, days, zone, info.capacity, info.max_gap, info.max_rate_m3h)
        out.rows += [
            day_row(meter_id, finish(d, t, day_bounds(d, zone), inside[d])) for d, t in tallies.items()
        ]
        out.events += event_rows(meter_id, series, info)
        # A tail only when the newest new reading is the meter's newest stored one (the neighbour
        # search is bounded, so a later reading far away would not be in ``series``).
        newest_before, count_before, version = before.get(meter_id, (None, 0, 0))
        newest = max(r.ts for r in new[meter_id])
        last, last_day = series[-1], local_day(series[-1].ts, zone)
        is_newest = newest_before is None or newest_before <= newest
        out.tails[meter_id] = None
        if last.ts == newest and is_newest and last_day in tallies:
            stored = count_before + len(new[meter_id])
            out.tails[meter_id] = take_tail(stored, last, tallies[last_day], inside[last_day], version)
    return out


def store(
    conn: Conn,
    messages: Sequence[Message],
    meters: Mapping[str, MeterInfo],
    zone: ZoneInfo,
    tails: dict[str, Tail] | None = None,
) -> StoreResult:
    """Write a batch in one transaction (a savepoint inside the caller's): all of it, or on error none.

    ``tails`` is the caller's cache for the in-order fast path. When this is the outermost transaction
    it is updated once it has committed; inside a caller's transaction the next tails are only
    returned (``result.tails``), for the caller to apply with :func:`apply_tails` after its commit."""
    outermost = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    result = StoreResult()
    with conn.transaction(), conn.cursor() as cur:
        _write_rejected(cur, messages, result)
        new = _write_readings(cur, messages, result, nested=not outermost)
        _write_status(cur, messages, result)
        if new:
            before = _write_state(cur, new, messages)
            result.days, result.tails = _write_volumes(cur, new, meters, zone, before, tails or {})
            result.newest_ts = max(r.ts for rs in new.values() for r in rs)
    if tails is not None and outermost:
        apply_tails(tails, result)
    return result
