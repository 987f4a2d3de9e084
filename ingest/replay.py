"""`intake rejected replay`: kept raw payloads fed again through the collector's own decode and store.

For what was refused for a reason that has since gone away: a meter registered late (unknown_meter),
a removal date corrected (inactive_meter), rows the database refused while it was not itself
(db_refused). Each message is decoded as it was received (its original receive time, so a clock
check judges it as the collector did) against today's registry, and stored as the collector stores.

- A rejected row is marked replayed (``replayed_at``, ``replay_result``) when what it refused is now
  stored; a row whose part is refused again stays as it is, for a later replay. Nothing is deleted.
- A refusal the replay finds that no row records (a reading the first refusal hid: a message refused
  whole for its unknown meter, with one bad reading in it) is kept as a new rejected row.
- Idempotent: readings are identified by (meter, device time), so a reading stored by an earlier
  replay, or meanwhile by the collector, is a duplicate; a second run finds nothing left to replay.
- In chunks of ``CHUNK`` messages, each in one transaction.
- By source: a kept MQTT payload is decoded with its topic, a kept SZY 206 frame as the gateway
  decodes it (without the connection's binding: a frame refused for coming on another intake's
  connection, rtu_mismatch, is never replayed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg

from devices.readings import Reason
from ingest.decode import decode_message
from ingest.directory import Registered, load_registered
from ingest.errors import describe, is_data_error
from ingest.frames import decode_frame
from ingest.message import Limits, Message, Source
from ingest.store import Conn, store

CHUNK = 200
# A frame refused for coming on a connection bound to another intake's RTU is evidence of who sent
# it, not a reading whose cause can go away: a replay (which has no connection) leaves it as it is.
NEVER_REPLAYED = (str(Reason.RTU_MISMATCH),)
CANDIDATES = """
SELECT id, received_at, source, topic, peer, payload, element FROM rejected_messages r
WHERE replayed_at IS NULL AND reason <> ALL(%(never)s)
  AND (%(reason)s::text IS NULL OR reason = %(reason)s)
  AND (%(meter)s::text IS NULL OR meter_id = %(meter)s)
  AND (%(since)s::timestamptz IS NULL OR received_at >= %(since)s)
  AND (%(scope)s::text IS NULL OR EXISTS (  -- a division's user: what names a meter of its own (now)
          SELECT 1 FROM meters m JOIN intakes i ON i.code = m.intake_code
          WHERE m.meter_id = r.meter_id AND in_scope(i.division_code, %(scope)s)))
ORDER BY id LIMIT %(limit)s"""
MARK = "UPDATE rejected_messages SET replayed_at = now(), replay_result = %s WHERE id = ANY(%s)"


@dataclass
class Replayed:
    messages: int = 0
    rows_resolved: int = 0
    rows_still_refused: int = 0
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    new_refusals: int = 0
    still: Counter[str] = field(default_factory=Counter)  # why rows stay refused
    more: bool = False  # the row limit was reached: more may wait for the next run


@dataclass
class _Kept:
    """One message as kept: its rejected rows (id -> refused element; None: the whole message)."""

    received_at: datetime
    source: Source
    topic: str | None
    peer: str | None
    payload: bytes
    rows: dict[int, int | None] = field(default_factory=dict)


def _decode(item: _Kept, registered: Registered, limits: Limits) -> list[Message]:
    """The kept input decoded as its source decodes it, as of its receive time, against today's registry."""
    if item.source is Source.SZY206:
        return decode_frame(item.payload, item.received_at, item.peer, None, registered, limits)
    return [decode_message(item.topic or "", item.payload, item.received_at, False, registered.meter, limits)]


Progress = Callable[[str], None]


def replay(
    conn: Conn,
    zone: ZoneInfo,
    limits: Limits,
    reason: str | None = None,
    meter: str | None = None,
    since: datetime | None = None,
    progress: Progress = lambda _line: None,
    scope: str | None = None,
    limit: int | None = None,
) -> Replayed:
    """Replay the unreplayed rejected messages that match; ``conn`` in autocommit mode. ``scope``: only
    those naming a meter inside that division; ``limit``: at most that many rejected rows (the rest
    wait for the next run, ``more`` says so)."""
    kept: dict[tuple[datetime, str, str | None, bytes], _Kept] = {}
    query = {
        "reason": reason,
        "meter": meter,
        "since": since,
        "never": list(NEVER_REPLAYED),
        "scope": scope,
        "limit": limit,
    }
    rows = conn.execute(CANDIDATES, query).fetchall()
    for row_id, received_at, source, topic, peer, payload, element in rows:
        key = (received_at, source, topic, bytes(payload))
        item = _Kept(received_at, Source(source), topic, peer, bytes(payload))
        kept.setdefault(key, item).rows[row_id] = element
    registered = load_registered(conn, zone)
    done = Replayed(more=limit is not None and len(rows) == limit)
    messages = list(kept.values())
    for start in range(0, len(messages), CHUNK):
        chunk = messages[start : start + CHUNK]
        with conn.transaction():
            for item in chunk:
                _one(conn, item, registered, zone, limits, done)
        progress(f"replayed {min(start + CHUNK, len(messages))} of {len(messages)} messages")
    return done


def _one(
    conn: Conn, item: _Kept, registered: Registered, zone: ZoneInfo, limits: Limits, done: Replayed
) -> None:
    decoded = _decode(item, registered, limits)
    refused_now = {r.element: r for m in decoded for r in m.refusals}
    recorded = set(item.rows.values())
    # refusals no row records yet are kept as new rows
    messages = [replace(m, refusals=[r for r in m.refusals if r.element not in recorded]) for m in decoded]
    fresh = [r for m in messages for r in m.refusals]
    try:
        with conn.transaction():  # a savepoint: one message the database refuses leaves the others
            result = store(conn, messages, registered.meters, zone)
    except psycopg.Error as exc:
        if not is_data_error(exc):
            raise  # the database is not itself: stop, nothing of this chunk is marked
        done.messages += 1
        done.rows_still_refused += len(item.rows)
        done.still[f"db_refused: {describe(exc)}"] += len(item.rows)
        return
    resolved = [i for i, element in item.rows.items() if element not in refused_now]
    for element in item.rows.values():
        if element in refused_now:
            done.rows_still_refused += 1
            done.still[str(refused_now[element].reason)] += 1
    if resolved:
        what = f"stored {result.stored}, duplicates {result.duplicates}, conflicts {result.conflicts}"
        conn.execute(MARK, (what, resolved))
    done.messages += 1
    done.rows_resolved += len(resolved)
    done.stored += result.stored
    done.duplicates += result.duplicates
    done.conflicts += result.conflicts
    done.new_refusals += len(fresh)
