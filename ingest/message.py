"""What a source hands the pipeline, and what the pipeline stores: no transport in sight.

A source (MQTT, SZY 206 over TCP, ...) turns what it receives into :class:`Delivery` values: the
raw bytes, when they came, which meter they name if the transport says, and an ``ack`` to call once
they are durable. The pipeline decodes each delivery (with the source's own ``decode``, against the
meter directory) into :class:`Message` values, stores them in batches, and calls ``ack`` after the
commit (Redpanda Connect's AckFunc, Telegraf's tracking metrics).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from devices.readings import Reading, Refusal, Status

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Source(StrEnum):
    """Where a message came from; stored with what it became (rejected_messages.source)."""

    MQTT = "mqtt"
    SZY206 = "szy206"
    MANUAL = (
        "manual"  # read from the display by a person (人工抄表, ingest/manual.py): not heard from the meter
    )


class Kind(StrEnum):
    READING = "reading"
    STATUS = "status"


@dataclass(frozen=True, slots=True)
class Limits:
    """How decoders judge what they decode."""

    max_future_skew: timedelta = timedelta(minutes=5)
    max_readings_per_message: int = 10_000
    zone: ZoneInfo = SHANGHAI  # INTAKE_TIMEZONE: what an RTU's local clock means


@dataclass(frozen=True, slots=True)
class MeterInfo:
    meter_id: str
    capacity: Decimal | None
    report_interval_s: int
    service_ends: datetime | None = None  # when its removal day ends (local midnight); None: not removed
    max_rate_m3h: Decimal | None = None  # the most it could pass in an hour (devices.model.max_flow_m3h)
    intake_code: str | None = None
    service_starts: datetime | None = None  # when its installation day began (local midnight)

    @property
    def max_gap(self) -> timedelta:
        """The longest interval still counted as metered: two reporting intervals, at least an hour."""
        return max(timedelta(seconds=2 * self.report_interval_s), timedelta(hours=1))

    def in_service_at(self, ts: datetime) -> bool:
        return (self.service_starts is None or ts >= self.service_starts) and (
            self.service_ends is None or ts < self.service_ends
        )


class Lookup(Protocol):
    """The meter directory as a decoder sees it (reloaded for an unknown name, at most once a second)."""

    def meter(self, meter_id: str) -> MeterInfo | None: ...

    def rtu(self, address: str) -> Mapping[int, Sequence[MeterInfo]]:
        """The meters registered with an RTU address, by channel (1, 2, ...), every one it has had."""
        ...


@dataclass
class Message:
    """One delivery (or one meter's part of it) after decoding: readings, refused parts, or a status."""

    source: Source
    meter_id: str | None  # the meter it is about; None when no meter could be named
    payload: bytes  # the raw input, as received
    received_at: datetime
    readings: list[Reading] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    status: Status | None = None
    retained: bool = False
    topic: str | None = None  # MQTT: the topic it came on
    peer: str | None = None  # TCP sources: the remote address it came from


Decode = Callable[[Lookup, Limits], list[Message]]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One thing a source received, with how to decode it and how to acknowledge it."""

    source: Source
    kind: Kind
    meter_id: str | None  # when the transport names the meter (an MQTT topic); else None
    raw: bytes
    received_at: datetime
    decode: Decode
    ack: Callable[[], None] = lambda: None  # called once, after what it became is committed
