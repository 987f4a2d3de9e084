"""From an MQTT message to what the store writes: readings, refusals, or a status. Pure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from devices.codec import decode_readings, decode_status
from devices.errors import InvalidValue
from devices.readings import Reason, Refusal, Refused
from devices.topics import Channel, parse_topic
from ingest.message import Limits, Message, MeterInfo, Source


def decode_message(
    topic: str,
    payload: bytes,
    received_at: datetime,
    retained: bool,
    lookup: Callable[[str], MeterInfo | None],
    limits: Limits,
) -> Message:
    message = Message(Source.MQTT, None, payload, received_at, retained=retained, topic=topic)
    try:
        where = parse_topic(topic)
    except InvalidValue as exc:
        message.refusals.append(Refusal(Reason.BAD_TOPIC, str(exc)))
        return message
    message.meter_id = where.meter_id
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
            message.refusals.append(refused.refusal())
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
