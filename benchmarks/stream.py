"""The message streams the ingest benchmark publishes: a queued backlog, and a live paced stream."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devices.codec import encode_readings
from devices.readings import Reading
from devices.topics import readings_topic

STEP = Decimal("0.25")  # m³ per reading: totals only grow, so the volumes are known exactly


def _client(url: str, client_id: str = "", inflight: int = 1000) -> mqtt.Client:
    parts = urlsplit(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(inflight)
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    return client


def open_sessions(url: str, client_ids: Sequence[str], topic: str) -> None:
    """Persistent sessions subscribed to ``topic``, then left: the broker queues for each."""
    for client_id in client_ids:
        parts = urlsplit(url)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        subscribed = threading.Event()
        client.on_subscribe = lambda *_a, done=subscribed: done.set()
        client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, clean_start=True, properties=props)
        client.loop_start()
        client.subscribe(topic, qos=1)
        if not subscribed.wait(10):
            raise TimeoutError(f"no SUBACK for {client_id}")
        client.disconnect()
        client.loop_stop()


def backlog(
    meters: Sequence[str],
    messages: int,
    per_message: int,
    end: datetime,
    totals: dict[str, tuple[Decimal, Decimal]],
) -> Iterator[tuple[str, bytes]]:
    """``messages`` messages, time-major (every meter's reading of one tick, then the next tick), as
    meters publish; 15-minute readings ending before ``end``. ``totals`` gets each meter's first and
    last totalizer reading."""
    ticks = -(-messages // len(meters))
    start = end - timedelta(minutes=15 * ticks * per_message) - timedelta(hours=1)
    sent = 0
    for tick in range(ticks):
        for n, meter in enumerate(meters):
            if sent == messages:
                return
            first = tick * per_message
            readings = [
                Reading(meter, start + timedelta(minutes=15 * (first + k)), STEP * (first + k) + n)
                for k in range(per_message)
            ]
            totals[meter] = (totals.get(meter, (readings[0].total_m3,))[0], readings[-1].total_m3)
            yield readings_topic(meter), encode_readings(readings)
            sent += 1


def _wait(infos: list[mqtt.MQTTMessageInfo]) -> None:
    for info in infos:
        info.wait_for_publish(timeout=60)
        if not info.is_published():
            raise TimeoutError(f"message {info.mid} was not acknowledged")
    infos.clear()


def publish(url: str, stream: Iterator[tuple[str, bytes]]) -> int:
    """Publish at QoS 1 as fast as the broker acknowledges; returns the number of messages. (In
    windows of 20,000: paho has 65,535 message ids.)"""
    client = _client(url)
    client.loop_start()
    infos: list[mqtt.MQTTMessageInfo] = []
    sent = 0
    try:
        for topic, payload in stream:
            infos.append(client.publish(topic, payload, qos=1))
            sent += 1
            if len(infos) == 20_000:
                _wait(infos)
        _wait(infos)
    finally:
        client.disconnect()
        client.loop_stop()
    return sent


@dataclass
class LiveStream:
    """Meters publishing in real time at ``rate`` messages/s in all, device time = publish time."""

    url: str
    meters: Sequence[str]
    rate: float
    per_message: int
    totals: dict[str, Decimal] = field(default_factory=dict)
    sent_messages: int = 0
    sent_readings: int = 0

    def run(self, seconds: float) -> datetime:
        """Publish for ``seconds``; returns the device time of the first reading."""
        client = _client(self.url, inflight=10_000)
        client.loop_start()
        started = time.monotonic()
        first = datetime.now(UTC)
        infos: list[mqtt.MQTTMessageInfo] = []
        at = 0
        try:
            while (elapsed := time.monotonic() - started) < seconds:
                due = int(elapsed * self.rate)
                while self.sent_messages < due:
                    meter = self.meters[at % len(self.meters)]
                    at += 1
                    now = datetime.now(UTC)
                    readings = []
                    for k in range(self.per_message):
                        total = self.totals.get(meter, Decimal(10) ** 6) + STEP
                        self.totals[meter] = total
                        ts = now - timedelta(microseconds=self.per_message - 1 - k)
                        readings.append(Reading(meter, ts, total))
                    infos.append(client.publish(readings_topic(meter), encode_readings(readings), qos=1))
                    if len(infos) == 20_000:
                        _wait(infos)
                    self.sent_messages += 1
                    self.sent_readings += self.per_message
                time.sleep(0.002)
            _wait(infos)
        finally:
            client.disconnect()
            client.loop_stop()
        return first
