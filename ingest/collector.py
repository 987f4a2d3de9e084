"""`intake collect`: MQTT readings into TimescaleDB, each message acknowledged only after its commit.

Threads: paho's network loop only timestamps incoming messages and queues them; the main thread
decodes, batches (flush on size or age), stores each batch in one transaction and then sends the
PUBACKs. The broker sends at most Receive Maximum unacknowledged messages, so a slow or absent
database stops the flow instead of growing memory: that is the back-pressure.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from devices.codec import Reason, Refusal
from devices.topics import direct_subscriptions, shared_subscriptions
from infra.database import DatabaseUnavailable, connect
from infra.settings import redact_url
from ingest import queries as q
from ingest.decode import Limits, decode_message
from ingest.errors import is_transient
from ingest.logs import log
from ingest.metrics import Metrics
from ingest.settings import CollectorSettings
from ingest.store import Message, MeterInfo, StoreResult, store
from ingest.tails import Tail

DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
Conn = psycopg.Connection[Any]


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    payload: bytes
    qos: int
    mid: int
    retain: bool
    received_at: datetime
    generation: int  # which broker connection delivered it: acks go only on that connection


class MeterDirectory:
    """Registered meters, cached; reloaded periodically and when an unknown id shows up. Also each
    meter's tail for the store's in-order fast path, dropped when the meter's registration changes."""

    def __init__(self) -> None:
        self.meters: dict[str, MeterInfo] = {}
        self.tails: dict[str, Tail] = {}
        self._loaded = 0.0

    def refresh(self, conn: Conn) -> None:
        meters = {
            m: MeterInfo(m, cap, interval, active)
            for m, cap, interval, active in conn.execute(q.ACTIVE_METERS).fetchall()
        }
        for meter_id in [m for m in self.tails if meters.get(m) != self.meters.get(m)]:
            del self.tails[meter_id]
        self.meters = meters
        self._loaded = time.monotonic()

    def lookup(self, conn: Conn, meter_id: str) -> MeterInfo | None:
        age = time.monotonic() - self._loaded
        if age > 60 or (meter_id not in self.meters and age > 1):
            self.refresh(conn)
        return self.meters.get(meter_id)


def _merge(a: StoreResult, b: StoreResult) -> StoreResult:
    newest = max((t for t in (a.newest_ts, b.newest_ts) if t is not None), default=None)
    return StoreResult(
        a.stored + b.stored,
        a.duplicates + b.duplicates,
        a.conflicts + b.conflicts,
        a.rejected + b.rejected,
        a.status_events + b.status_events,
        a.days + b.days,
        newest,
    )


class Collector:
    def __init__(self, settings: CollectorSettings, logger: logging.Logger, metrics: Metrics) -> None:
        self.settings = settings
        self.log = logger
        self.metrics = metrics
        self.zone = settings.zone
        self.limits = Limits(
            timedelta(seconds=settings.collector_max_future_skew_s),
            settings.collector_max_readings_per_message,
        )
        self.inbox: queue.SimpleQueue[Incoming] = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.generation = 0
        self.directory = MeterDirectory()
        self.conn: Conn | None = None
        self.client = self._make_client()

    # --- broker ---------------------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.settings.collector_client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        broker = self.settings.broker
        if broker.username:
            client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(
        self,
        client: mqtt.Client,
        _u: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _p: Properties | None,
    ) -> None:
        if reason.is_failure:
            log(self.log, logging.ERROR, "broker refused the connection", reason=str(reason))
            return
        self.generation += 1
        # A resumed session keeps its subscriptions, except shared ones on brokers that forget them
        # on restart: subscribe again then. Retain handling 1: retained statuses only on a new subscription.
        shared = self.settings.collector_subscription == "shared"
        if shared or not flags.session_present:
            options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
            topics = shared_subscriptions(self.settings.collector_group) if shared else direct_subscriptions()
            client.subscribe([(t, options) for t in topics])
            client.subscribe(DROPPED_TOPIC, qos=0)
        self.metrics.connected.set(1)
        log(
            self.log,
            logging.INFO,
            "connected to broker",
            session_present=flags.session_present,
            generation=self.generation,
        )

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: mqtt.DisconnectFlags, reason: ReasonCode, _p: Properties | None
    ) -> None:
        self.metrics.connected.set(0)
        if not self.stopping.is_set():
            log(self.log, logging.WARNING, "disconnected from broker; reconnecting", reason=str(reason))

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == DROPPED_TOPIC:
            with contextlib.suppress(ValueError):
                self.metrics.broker_dropped.set(float(msg.payload))
            return
        self.inbox.put(
            Incoming(
                msg.topic,
                bytes(msg.payload),
                msg.qos,
                msg.mid,
                msg.retain,
                datetime.now(UTC),
                self.generation,
            )
        )

    def _connect_broker(self) -> None:
        broker = self.settings.broker
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.settings.collector_session_expiry_s
        props.ReceiveMaximum = self.settings.collector_receive_maximum
        delay = 0.5
        while not self.stopping.is_set():
            try:
                self.client.connect(
                    broker.host, broker.port, keepalive=30, clean_start=False, properties=props
                )
                return
            except OSError as exc:
                log(
                    self.log,
                    logging.WARNING,
                    "broker unreachable; retrying",
                    broker=redact_url(self.settings.mqtt_url),
                    error=str(exc),
                    retry_in_s=delay,
                )
                self.stopping.wait(delay)
                delay = min(delay * 2, 30)

    # --- database -------------------------------------------------------------------------------------
    def _db(self) -> Conn:
        delay = 0.5
        deadline: float | None = None
        while self.conn is None or self.conn.closed:
            try:
                self.conn = connect(self.settings.database_url, "intake-collector", autocommit=True)
                self.directory.refresh(self.conn)
            except (DatabaseUnavailable, psycopg.OperationalError) as exc:
                self.conn = None
                if self.stopping.is_set():
                    deadline = deadline or time.monotonic() + self.settings.collector_shutdown_timeout_s
                    if time.monotonic() > deadline:
                        raise
                log(
                    self.log,
                    logging.WARNING,
                    "database unavailable; retrying",
                    error=str(exc),
                    retry_in_s=delay,
                )
                time.sleep(delay)
                delay = min(delay * 2, 10)
        return self.conn

    def _store_isolating(self, messages: Sequence[Message]) -> StoreResult:
        """Store; if the database refuses some row, split until the refused part is alone, reject it."""
        conn = self._db()
        try:
            return store(conn, messages, self.directory.meters, self.zone, self.directory.tails)
        except psycopg.Error as exc:
            if is_transient(exc):
                raise
            self.metrics.isolations.inc()
            reason = (
                f"{exc.sqlstate or ''} {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}".strip()
            )
        if len(messages) > 1:
            half = len(messages) // 2
            return _merge(self._store_isolating(messages[:half]), self._store_isolating(messages[half:]))
        (message,) = messages
        if len(message.readings) > 1:
            half = len(message.readings) // 2
            first = replace(message, readings=message.readings[:half])
            rest = replace(message, readings=message.readings[half:], refusals=[], status=None)
            return _merge(self._store_isolating([first]), self._store_isolating([rest]))
        what = f"reading at {message.readings[0].ts.isoformat()}: " if message.readings else ""
        log(
            self.log, logging.ERROR, "database refused a message; rejected", topic=message.topic, error=reason
        )
        refused = replace(
            message,
            readings=[],
            status=None,
            refusals=[
                *message.refusals,
                Refusal(Reason.DB_REFUSED, f"{what}the database refused it: {reason}"),
            ],
        )
        return store(conn, [refused], self.directory.meters, self.zone, self.directory.tails)

    # --- the write loop -------------------------------------------------------------------------------
    def _flush(self, batch: list[tuple[Incoming, Message]]) -> None:
        started = time.monotonic()
        delay = 0.5
        while True:
            try:
                result = self._store_isolating([m for _i, m in batch])
                break
            except (psycopg.Error, DatabaseUnavailable, OSError) as exc:
                if not is_transient(exc) and not isinstance(exc, DatabaseUnavailable):
                    raise
                self.metrics.db_retries.inc()
                log(
                    self.log,
                    logging.WARNING,
                    "database error; batch kept unacknowledged, retrying",
                    error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                    retry_in_s=delay,
                    messages=len(batch),
                )
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                time.sleep(delay)
                delay = min(delay * 2, 10)
                if (
                    self.stopping.is_set()
                    and time.monotonic() - started > self.settings.collector_shutdown_timeout_s
                ):
                    raise
        committed = datetime.now(UTC)
        for incoming, _m in batch:  # only now: every reading of these messages is committed
            if incoming.qos > 0 and incoming.generation == self.generation:
                self.client.ack(incoming.mid, incoming.qos)
            self.metrics.receive_to_commit.observe((committed - incoming.received_at).total_seconds())
        m = self.metrics
        m.commit_seconds.observe(time.monotonic() - started)
        m.batch_messages.observe(len(batch))
        m.stored.inc(result.stored)
        m.duplicates.inc(result.duplicates)
        m.conflicts.inc(result.conflicts)
        m.status_events.inc(result.status_events)
        for reason, count in result.rejected.items():
            m.rejected.labels(reason).inc(count)
        if result.newest_ts is not None:
            m.lag.set((committed - result.newest_ts).total_seconds())

    def _decode(self, incoming: Incoming) -> Message:
        conn = self._db()

        def lookup(meter_id: str) -> MeterInfo | None:
            return self.directory.lookup(conn, meter_id)

        return decode_message(
            incoming.topic, incoming.payload, incoming.received_at, incoming.retain, lookup, self.limits
        )

    def _write_loop(self) -> None:
        batch: list[tuple[Incoming, Message]] = []
        readings = 0
        oldest = 0.0
        max_age = self.settings.collector_batch_age_ms / 1000
        while True:
            wait = min(0.25, max(0.0, oldest + max_age - time.monotonic())) if batch else 0.25  # see stopping
            try:
                incoming: Incoming | None = self.inbox.get(timeout=wait)
            except queue.Empty:
                incoming = None
            if incoming is not None:
                message = self._decode(incoming)
                if not batch:
                    oldest = time.monotonic()
                batch.append((incoming, message))
                readings += max(1, len(message.readings))
                self.metrics.messages.inc()
                self.metrics.readings_received.inc(len(message.readings))
            draining = self.stopping.is_set() and self.inbox.empty()
            if batch and (
                readings >= self.settings.collector_batch_size
                or time.monotonic() - oldest >= max_age
                or draining
            ):
                self._flush(batch)
                batch, readings = [], 0
            self.metrics.unacked.set(self.inbox.qsize() + len(batch))
            if draining and not batch:
                return

    # --- lifetime -------------------------------------------------------------------------------------
    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        log(self.log, logging.INFO, "stopping: draining what is held", signal=signal.Signals(signum).name)
        self.stopping.set()

    def stop(self) -> None:
        """Ask the collector to drain, commit what it holds and return (what SIGTERM does)."""
        self.stopping.set()

    def run(self, install_signals: bool = True) -> int:
        if install_signals:  # only the main thread may; tests run collectors in threads and call stop()
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)
        self.metrics.serve(self.settings.collector_metrics_port)
        log(
            self.log,
            logging.INFO,
            "collector starting",
            broker=redact_url(self.settings.mqtt_url),
            database=redact_url(self.settings.database_url),
            client_id=self.settings.collector_client_id,
            subscription=self.settings.collector_subscription,
            group=self.settings.collector_group,
            receive_maximum=self.settings.collector_receive_maximum,
            batch_size=self.settings.collector_batch_size,
            metrics_port=self.settings.collector_metrics_port,
        )
        self._db()  # the sink before the source
        self._connect_broker()
        self.client.loop_start()
        try:
            self._write_loop()
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            if self.conn is not None:
                self.conn.close()
        log(self.log, logging.INFO, "collector stopped")
        return 0
