"""`intake volumes recompute`: a meter's daily volumes, its totalizer events and so its monthly and
yearly rollups rebuilt from its raw readings, after a change the stored rollup did not see (a
totalizer capacity or reporting interval corrected in the registry, another INTAKE_TIMEZONE).

Bounded transactions: one per meter and window of at most 31 local days, each under the meter's row
lock in meter_state (a collector storing the same meter waits, and vice versa), each bumping the
meter's ``volumes_version`` so the collector's fast path drops a tail taken before it. The result
is what a from-scratch computation over the readings gives (the same ``ingest.volumes`` functions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from infra.calendar import day_bounds, days_between, local_day
from ingest import queries as q
from ingest.directory import load_meters
from ingest.message import MeterInfo
from ingest.store import Conn, day_row, event_rows, points_around
from ingest.volumes import daily_volumes

WINDOW_DAYS = 31

SPAN = "SELECT min(ts), max(ts) FROM readings WHERE meter_id = %s"
# Stored days may reach beyond the readings' local days (written in another time zone): those go too.
STORED_SPAN = "SELECT min(day), max(day) FROM daily_volumes WHERE meter_id = %s"
STATE = "INSERT INTO meter_state (meter_id) VALUES (%s) ON CONFLICT (meter_id) DO NOTHING"
LOCK = "SELECT volumes_version FROM meter_state WHERE meter_id = %s FOR UPDATE"
BUMP = "UPDATE meter_state SET volumes_version = volumes_version + 1, updated_at = now() WHERE meter_id = %s"
# Days the readings no longer reach go, unless a correction holds them (it stays, with its trail).
DELETE_OTHER_DAYS = """
DELETE FROM daily_volumes WHERE meter_id = %s AND day BETWEEN %s AND %s AND NOT (day = ANY(%s::date[]))
  AND correction_id IS NULL"""


@dataclass
class Recomputed:
    meters: int = 0
    days_written: int = 0
    days_removed: int = 0
    events: int = 0


Progress = Callable[[str], None]


def recompute(
    conn: Conn,
    zone: ZoneInfo,
    meter: str | None = None,
    since: date | None = None,
    until: date | None = None,
    progress: Progress = lambda _line: None,
) -> Recomputed:
    """Rebuild the volumes of ``meter`` (every meter when None) from ``since`` to ``until`` (default:
    its first to its last reading's day). ``conn`` must be in autocommit mode."""
    directory = load_meters(conn, zone)  # what the collector knows of each meter, the same way
    meters = sorted(m for m in directory if meter is None or m == meter)
    done = Recomputed()
    for n, meter_id in enumerate(meters, 1):
        info = directory[meter_id]
        first_ts, last_ts = conn.execute(SPAN, (meter_id,)).fetchone() or (None, None)
        if first_ts is None or last_ts is None:
            progress(f"{meter_id}: no readings ({n} of {len(meters)} meters)")
            continue
        low, high = conn.execute(STORED_SPAN, (meter_id,)).fetchone() or (None, None)
        first = max(since or date.min, min(d for d in (local_day(first_ts, zone), low) if d is not None))
        last = min(until or date.max, max(d for d in (local_day(last_ts, zone), high) if d is not None))
        before = (done.days_written, done.days_removed, done.events)
        start = first
        while start <= last:
            end = min(start + timedelta(days=WINDOW_DAYS - 1), last)
            _window(conn, info, zone, start, end, done)
            start = end + timedelta(days=1)
        done.meters += 1
        progress(
            f"{meter_id}: {first}..{last}, {done.days_written - before[0]} days written, "
            f"{done.days_removed - before[1]} removed, {done.events - before[2]} totalizer events "
            f"({n} of {len(meters)} meters)"
        )
    return done


def _window(conn: Conn, info: MeterInfo, zone: ZoneInfo, start: date, end: date, done: Recomputed) -> None:
    lo, hi = day_bounds(start, zone)[0], day_bounds(end, zone)[1]
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(STATE, (info.meter_id,))
        cur.execute(LOCK, (info.meter_id,))
        points = points_around(cur, [(info.meter_id, lo, hi)]).get(info.meter_id, [])
        days: list[date] = []
        if points:  # the days the readings' intervals reach, within the window
            reach = (local_day(points[0].ts, zone), local_day(points[-1].ts, zone))
            days = days_between(max(start, reach[0]), min(end, reach[1]))
        volumes = daily_volumes(points, days, zone, info.capacity, info.max_gap, info.max_rate_m3h)
        cur.execute(q.STAGE_DAYS)
        with cur.copy(q.COPY_DAYS) as copy:
            copy.set_types(q.DAY_TYPES)
            for v in volumes:
                copy.write_row(day_row(info.meter_id, v))
        cur.execute(q.UPSERT_DAYS)
        cur.execute(DELETE_OTHER_DAYS, (info.meter_id, start, end, days))
        done.days_removed += cur.rowcount
        done.days_written += len(volumes)
        cur.execute(q.DELETE_EVENTS_IN, ([info.meter_id], [lo], [hi]))
        events = [e for e in event_rows(info.meter_id, points, info) if lo < e[1] <= hi]
        if events:
            cur.executemany(q.INSERT_EVENT, events)
        done.events += len(events)
        cur.execute(BUMP, (info.meter_id,))
