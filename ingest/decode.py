"""From an MQTT message to what the store writes: readings, refusals, or a status. Pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from devices.codec import Reason, Refusal, Refused, decode_readings, decode_status
from devices.errors import InvalidValue
from devices.topics import Channel, parse_topic
from ingest.store import Message, MeterInfo


@dataclass(frozen=True, slots=True)
class Limits:
    max_future_skew: timedelta = timedelta(minutes=5)
    max_readings_per_message: int = 10_000


def decode_message(
    topic: str,
    payload: bytes,
    received_at: datetime,
    retained: bool,
    lookup: Callable[[str], MeterInfo | None],
    limits: Limits,
) -> Message:
    message = Message(topic, payload, received_at, retained=retained)
    try:
        where = parse_topic(topic)
    except InvalidValue as exc:
        message.refusals.append(Refusal(Reason.BAD_TOPIC, str(exc)))
        return message
    meter = lookup(where.meter_id)
    if meter is None:
        message.refusals.append(Refusal(Reason.UNKNOWN_METER, f"meter {where.meter_id!r} is not registered"))
        return message
    if where.channel is Channel.STATUS:
        if meter.service_ends is not None and received_at >= meter.service_ends:
            message.refusals.append(
                Refusal(Reason.INACTIVE_METER, f"meter {where.meter_id!r} has been removed")
            )
            return message
        try:
            message.status = decode_status(payload)
        except Refused as refused:
            message.refusals.append(Refusal(refused.reason, refused.message))
        return message
    decoded = decode_readings(
        where.meter_id,
        payload,
        received_at,
        limits.max_future_skew,
        meter.capacity,
        limits.max_readings_per_message,
        meter.service_ends,
    )
    message.readings = decoded.readings
    message.refusals = decoded.refusals
    return message
