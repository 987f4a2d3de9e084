"""`intake collect`: MQTT readings into TimescaleDB, each message acknowledged only after its commit.

Threads: paho's network loop only timestamps incoming messages and queues them; the main thread
decodes, batches (flush on size or age), stores each batch in one transaction and then sends the
PUBACKs. The broker sends at most Receive Maximum unacknowledged messages and the inbox holds at most
``INTAKE_COLLECTOR_MAX_HELD_MB`` of payload (paho's thread waits, so TCP stops the broker), so a slow
or absent database stops the flow instead of growing memory: that is the back-pressure.

Every use of the database (start-up checks, the meter directory, each batch) goes through one
retrying path (:class:`infra.database.Database`): bounded by a watchdog, retried with backoff on a
fresh connection, acknowledging nothing meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections import deque
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

from devices.topics import direct_subscriptions, shared_subscriptions
from infra.database import Database, DatabaseUnavailable, GaveUp
from infra.migrations import check_current
from infra.settings import redact_url
from ingest.decode import Limits, decode_message
from ingest.directory import MeterDirectory
from ingest.errors import SystemicError, describe
from ingest.isolation import store_isolating
from ingest.logs import log
from ingest.metrics import Metrics
from ingest.settings import CollectorSettings
from ingest.store import Message, MeterInfo, StoreResult, apply_tails

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


class Inbox:
    """Messages received and not yet taken by the write loop. ``held`` counts payload bytes from receipt
    until their batch is committed; beyond ``max_bytes`` the receiving thread waits."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.held = 0
        self._items: deque[Incoming] = deque()
        self._cond = threading.Condition()

    def put(self, item: Incoming, stopping: threading.Event) -> bool:
        """Queue ``item``; False (not queued, so not acknowledged) once the collector is stopping."""
        with self._cond:
            while self.held > self.max_bytes and not stopping.is_set():
                self._cond.wait(0.25)
            if stopping.is_set():
                return False
            self._items.append(item)
            self.held += len(item.payload)
            self._cond.notify_all()
            return True

    def get(self, timeout: float) -> Incoming | None:
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            return self._items.popleft() if self._items else None

    def release(self, nbytes: int) -> None:
        with self._cond:
            self.held -= nbytes
            self._cond.notify_all()

    def __len__(self) -> int:
        return len(self._items)


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
        self.stopping = threading.Event()
        self.inbox = Inbox(int(settings.collector_max_held_mb * 1024 * 1024))
        self.generation = 0
        self.directory = MeterDirectory(self.zone, settings.collector_directory_refresh_s)
        self.db = Database(
            settings.database_url,
            "intake-collector",
            replace(settings.database_bounds, timezone="UTC"),  # device times compared in UTC
            retry=lambda exc: isinstance(exc, psycopg.Error | DatabaseUnavailable | OSError | SystemicError),
            on_retry=self._on_db_retry,
            stopping=self.stopping,
            shutdown_timeout_s=settings.collector_shutdown_timeout_s,
        )
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
        context = broker.tls_context()
        if context is not None:
            client.tls_set_context(context)
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
        incoming = Incoming(
            msg.topic, bytes(msg.payload), msg.qos, msg.mid, msg.retain, datetime.now(UTC), self.generation
        )
        # While stopping, nothing new is taken: unacknowledged, it stays with the broker for next time.
        self.inbox.put(incoming, self.stopping)
        self.metrics.held_bytes.set(self.inbox.held)

    def _connect_broker(self) -> None:
        broker = self.settings.broker
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.settings.collector_session_expiry_s
        props.ReceiveMaximum = self.settings.collector_receive_maximum
        delay = 0.5
        while not self.stopping.is_set():
            try:
                self.client.connect(
                    broker.host,
                    broker.port,
                    keepalive=self.settings.mqtt_keepalive_s,
                    clean_start=False,
                    properties=props,
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
    def _on_db_retry(self, what: str, exc: BaseException, delay: float) -> None:
        self.metrics.db_retries.inc()
        self.metrics.db_healthy.set(0)
        if isinstance(exc, SystemicError | psycopg.Error) and not isinstance(
            exc, psycopg.OperationalError | psycopg.InterfaceError
        ):  # not the database being away: it answered, and refused for a reason not the data's
            self.metrics.db_systemic.labels(getattr(exc, "sqlstate", None) or "none").inc()
        log(
            self.log,
            logging.WARNING,
            "database error; nothing acknowledged, retrying",
            doing=what,
            error=describe(exc),
            retry_in_s=delay,
            held_messages=len(self.inbox),
        )

    def _lookup(self, meter_id: str, received_at: datetime) -> MeterInfo | None:
        wait = self.directory.reload_due(meter_id, received_at)
        if wait is not None:
            time.sleep(wait)
            self.db.run("reload the meter directory", self.directory.refresh)
        return self.directory.meters.get(meter_id)

    # --- the write loop -------------------------------------------------------------------------------
    def _flush(self, batch: list[tuple[Incoming, Message]]) -> None:
        started = time.monotonic()
        messages = [m for _i, m in batch]
        result, split = self.db.run(
            "store a batch",
            lambda conn: store_isolating(
                conn,
                messages,
                self.directory.meters,
                self.zone,
                self.directory.tails,
                self.settings.collector_max_refused_share,
            ),
        )
        apply_tails(self.directory.tails, result)
        committed = datetime.now(UTC)
        for incoming, _m in batch:  # only now: every reading of these messages is committed
            if incoming.qos > 0 and incoming.generation == self.generation:
                self.client.ack(incoming.mid, incoming.qos)
            self.metrics.receive_to_commit.observe((committed - incoming.received_at).total_seconds())
        self.inbox.release(sum(len(i.payload) for i, _m in batch))
        self._count(result, split, batch, time.monotonic() - started, committed)

    def _count(
        self,
        result: StoreResult,
        split: int,
        batch: list[tuple[Incoming, Message]],
        seconds: float,
        committed: datetime,
    ) -> None:
        m = self.metrics
        m.db_healthy.set(1)
        m.held_bytes.set(self.inbox.held)
        m.commit_seconds.observe(seconds)
        m.batch_messages.observe(len(batch))
        m.stored.inc(result.stored)
        m.duplicates.inc(result.duplicates)
        m.conflicts.inc(result.conflicts)
        m.status_events.inc(result.status_events)
        m.isolations.inc(split)
        for reason, count in result.rejected.items():
            m.rejected.labels(reason).inc(count)
        if result.newest_ts is not None:
            m.lag.set((committed - result.newest_ts).total_seconds())

    def _decode(self, incoming: Incoming) -> Message:
        return decode_message(
            incoming.topic,
            incoming.payload,
            incoming.received_at,
            incoming.retain,
            lambda meter_id: self._lookup(meter_id, incoming.received_at),
            self.limits,
        )

    def _write_loop(self) -> None:
        batch: list[tuple[Incoming, Message]] = []
        readings = 0
        oldest = 0.0
        max_age = self.settings.collector_batch_age_ms / 1000
        while True:
            wait = min(0.25, max(0.0, oldest + max_age - time.monotonic())) if batch else 0.25  # see stopping
            incoming = self.inbox.get(wait)
            if incoming is not None:
                message = self._decode(incoming)
                if not batch:
                    oldest = time.monotonic()
                batch.append((incoming, message))
                readings += max(1, len(message.readings))
                self.metrics.messages.inc()
                self.metrics.readings_received.inc(len(message.readings))
            # Once stopping, the inbox takes nothing new: what it holds is drained, then we stop.
            draining = self.stopping.is_set() and len(self.inbox) == 0
            if batch and (
                readings >= self.settings.collector_batch_size
                or time.monotonic() - oldest >= max_age
                or draining
            ):
                self._flush(batch)
                batch, readings = [], 0
            self.metrics.unacked.set(len(self.inbox) + len(batch))
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
        try:  # the sink before the source: the schema this code expects, then the meters
            self.db.run("check the schema", check_current)
            self.db.run("load the meter directory", self.directory.refresh)
        except GaveUp:
            return 1
        self.metrics.db_healthy.set(1)
        self._connect_broker()
        self.client.loop_start()
        code = 0
        try:
            self._write_loop()
        except GaveUp as exc:
            log(self.log, logging.ERROR, "stopped without acknowledging what is held", error=str(exc))
            code = 1
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            self.db.close()
        log(self.log, logging.INFO, "collector stopped")
        return code
