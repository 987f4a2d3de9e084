"""Storing a batch the database refuses part of: whose fault is it?

A row is the data's fault only when the rest of its batch commits without it. The whole batch goes in
one transaction. When the database refuses it with a data error (:data:`ingest.errors.DATA_CLASSES`),
the batch is split in savepoints, by messages and then by the readings of one message, until each
refused part is alone; those parts are rejected (``db_refused``, raw payload kept) and the rest is
committed, in the same transaction. The refusal is systemic instead, and the transaction is rolled
back with nothing acknowledged, when

- the database refuses with an error that is not a data error (no split is tried: a revoked grant
  or a read-only replica refuses every half alike), or
- the refused messages (by the database, or by the collector's own arithmetic) exceed
  ``max(1, max_refused_share × messages)`` and come from more than one meter: one meter's bad
  data, even a whole batch of it, cannot stall the others (an attacker holding one meter's
  password), while a new constraint or trigger that refuses everyone is not taken for data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

import psycopg

from devices.readings import Reason, Refusal
from ingest.errors import SystemicError, describe, is_data_error
from ingest.message import Message, MeterInfo
from ingest.store import Conn, StoreResult, store
from ingest.tails import Tail


@dataclass(frozen=True, slots=True)
class Refused:
    message: Message
    reason: str  # what the database said (SQLSTATE and message)


def store_isolating(
    conn: Conn,
    messages: Sequence[Message],
    meters: Mapping[str, MeterInfo],
    zone: ZoneInfo,
    tails: dict[str, Tail],
    max_refused_share: float,
) -> tuple[StoreResult, int]:
    """Store the batch, rejecting what is the data's fault; the result and how many parts were split
    off. Raises :class:`SystemicError` (rolled back) when the refusal is not the data's fault. The
    caller applies ``result.tails`` after this returns (the transaction has committed by then); in
    the common case the store has already done so."""
    try:  # the common case: one plain transaction, no savepoints
        return store(conn, messages, meters, zone, tails), 0  # updates ``tails`` once committed
    except psycopg.Error as exc:
        if not is_data_error(exc):
            raise  # systemic: the caller retries it, acknowledging nothing
    except Exception:  # noqa: S110 - isolated below, where it is named in the rejection
        pass
    with conn.transaction():
        result, refused = _split(conn, list(messages), meters, zone, dict(tails))
        if refused:
            _check_not_systemic(refused, len(messages), max_refused_share)
            rejected = [_as_rejection(r) for r in refused]
            result = result.merge(store(conn, rejected, meters, zone))
    return result, len(refused)


def _split(
    conn: Conn,
    messages: list[Message],
    meters: Mapping[str, MeterInfo],
    zone: ZoneInfo,
    tails: dict[str, Tail],
) -> tuple[StoreResult, list[Refused]]:
    try:
        return store(conn, messages, meters, zone, tails), []
    except psycopg.Error as exc:
        if not is_data_error(exc):
            raise
        reason = describe(exc)
    except Exception as exc:  # a value our own arithmetic cannot take: treated like a data error
        reason = f"the collector could not store it: {describe(exc)}"
    if len(messages) > 1:
        half = len(messages) // 2
        first, refused_first = _split(conn, messages[:half], meters, zone, tails)
        tails = {**tails, **{m: t for m, t in first.tails.items() if t is not None}}
        for meter_id in [m for m, t in first.tails.items() if t is None]:
            tails.pop(meter_id, None)
        rest, refused_rest = _split(conn, messages[half:], meters, zone, tails)
        return first.merge(rest), refused_first + refused_rest
    (message,) = messages
    if len(message.readings) > 1:
        half = len(message.readings) // 2
        head = replace(message, readings=message.readings[:half])
        tail = replace(message, readings=message.readings[half:], refusals=[], status=None)
        return _split(conn, [head, tail], meters, zone, tails)
    return StoreResult(), [Refused(message, reason)]


def _check_not_systemic(refused: Sequence[Refused], messages: int, max_share: float) -> None:
    meters = {r.message.meter_id for r in refused} | {
        reading.meter_id for r in refused for reading in r.message.readings
    }
    if len(refused) > max(1, max_share * messages) and len(meters) > 1:
        raise SystemicError(
            f"the database refused {len(refused)} of {messages} messages from {len(meters)} meters: "
            f"not one row's fault ({refused[0].reason})"
        )


def _as_rejection(refused: Refused) -> Message:
    """The refused part as a rejection: its raw payload kept with what the database said."""
    message = refused.message
    what = f"reading at {message.readings[0].ts.isoformat()}: " if message.readings else ""
    return replace(
        message,
        readings=[],
        status=None,
        refusals=[
            *message.refusals,
            Refusal(Reason.DB_REFUSED, f"{what}the database refused it: {refused.reason}"),
        ],
    )
