"""The runner between the sources and the database: batch, store, isolate, retry, acknowledge.

Sources (``ingest/sources/``) hand over :class:`ingest.message.Delivery` values through
:meth:`Pipeline.submit` (or :meth:`Pipeline.offer` from an event loop) from their own threads. The
pipeline's thread decodes each with the source's own decoder against the meter directory, batches
(flush on size or age), stores each batch in one transaction (isolating what the database refuses as
the data's fault, :mod:`ingest.isolation`), and only then calls each delivery's ``ack``. The inbox
holds at most ``INTAKE_COLLECTOR_MAX_HELD_MB`` of raw bytes, so a slow or absent database stops the
sources instead of growing memory.

Every use of the database (start-up checks, the meter directory, each batch) goes through one
retrying path (:class:`infra.database.Database`): bounded by a watchdog, retried with backoff on a
fresh connection, acknowledging nothing meanwhile. The pipeline knows no transport.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import psycopg

from devices.readings import Reason, Refusal
from infra.database import Database, DatabaseUnavailable, GaveUp
from infra.migrations import check_current
from infra.systemd import Heartbeat
from ingest.directory import MeterDirectory
from ingest.errors import SystemicError, describe
from ingest.inbox import Inbox
from ingest.isolation import store_isolating
from ingest.logs import log
from ingest.message import Delivery, Limits, Message, MeterInfo
from ingest.metrics import Metrics
from ingest.settings import CollectorSettings
from ingest.store import StoreResult, apply_tails


@dataclass
class _Decoded:
    delivery: Delivery
    messages: list[Message]


class _Lookup:
    """The directory as one delivery's decoder sees it: an unknown name received after the last reload
    reloads it (at most once a second)."""

    def __init__(self, pipeline: Pipeline, received_at: datetime) -> None:
        self._pipeline = pipeline
        self._received_at = received_at

    def meter(self, meter_id: str) -> MeterInfo | None:
        self._pipeline.reload_if_due(meter_id in self._pipeline.directory.meters, self._received_at)
        return self._pipeline.directory.registered.meter(meter_id)

    def rtu(self, address: str) -> Mapping[int, Sequence[MeterInfo]]:
        self._pipeline.reload_if_due(address in self._pipeline.directory.registered.rtus, self._received_at)
        return self._pipeline.directory.registered.rtu(address)


class Pipeline:
    def __init__(
        self,
        settings: CollectorSettings,
        logger: logging.Logger,
        metrics: Metrics,
        stopping: threading.Event,
        application_name: str = "intake-collector",
        commit_when_idle: bool = False,
    ) -> None:
        self.settings = settings
        # Group commit: flush as soon as nothing more waits in the inbox (the batch size and age stay
        # the bounds). For senders that wait for each confirmation (RTUs), where the batch age would
        # otherwise be every frame's latency; a busy source still fills batches while one commits.
        self.commit_when_idle = commit_when_idle
        self.log = logger
        self.metrics = metrics
        self.stopping = stopping
        self.zone = settings.zone
        self.limits = Limits(
            timedelta(seconds=settings.collector_max_future_skew_s),
            settings.collector_max_readings_per_message,
            settings.zone,
        )
        self.inbox = Inbox(int(settings.collector_max_held_mb * 1024 * 1024))
        self.heartbeat = Heartbeat()
        self.directory = MeterDirectory(self.zone, settings.collector_directory_refresh_s)
        self.db = Database(
            settings.database_url,
            application_name,
            replace(settings.database_bounds, timezone="UTC"),  # device times compared in UTC
            retry=lambda exc: isinstance(exc, psycopg.Error | DatabaseUnavailable | OSError | SystemicError),
            on_retry=self._on_db_retry,
            stopping=stopping,
            shutdown_timeout_s=settings.collector_shutdown_timeout_s,
        )

    # --- what sources call (from their own threads) ---------------------------------------------------
    def submit(self, delivery: Delivery) -> bool:
        """Queue a delivery, waiting while the inbox is full; False once stopping (it will never be
        acknowledged: the source keeps it, or its sender sends it again)."""
        queued = self.inbox.put(delivery, self.stopping)
        self.metrics.held_bytes.set(self.inbox.held)
        return queued

    def offer(self, delivery: Delivery) -> bool | None:
        """:meth:`submit` without waiting: None when the inbox is full (try again later)."""
        queued = self.inbox.offer(delivery, self.stopping)
        self.metrics.held_bytes.set(self.inbox.held)
        return queued

    # --- start and run ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Sinks before sources: the schema this code expects, then the meters (raises GaveUp)."""
        self.db.run("check the schema", check_current)
        self.db.run("load the meter directory", self.directory.refresh)
        self.metrics.db_healthy.set(1)
        self.heartbeat.ready()

    def run(self) -> None:
        """The write loop, until stopping and drained (raises GaveUp when the database never came back
        in time to drain: nothing held is acknowledged)."""
        batch: list[_Decoded] = []
        readings = 0
        oldest = 0.0
        max_age = self.settings.collector_batch_age_ms / 1000
        while True:
            self.heartbeat.beat()  # systemd's watchdog: the write loop turns
            wait = min(0.25, max(0.0, oldest + max_age - time.monotonic())) if batch else 0.25  # see stopping
            delivery = self.inbox.get(wait)
            if delivery is not None:
                decoded = _Decoded(delivery, self._decode(delivery))
                if not batch:
                    oldest = time.monotonic()
                batch.append(decoded)
                count = sum(len(m.readings) for m in decoded.messages)
                readings += max(1, count)
                self.metrics.messages.inc()
                self.metrics.readings_received.inc(count)
            # Once stopping, the inbox takes nothing new: what it holds is drained, then we stop.
            draining = self.stopping.is_set() and len(self.inbox) == 0
            if batch and (
                readings >= self.settings.collector_batch_size
                or time.monotonic() - oldest >= max_age
                or draining
                or (self.commit_when_idle and len(self.inbox) == 0)
            ):
                self._flush(batch)
                batch, readings = [], 0
            self.metrics.unacked.set(len(self.inbox) + len(batch))
            if draining and not batch:
                return

    def close(self) -> None:
        self.db.close()

    # --- inside the loop -------------------------------------------------------------------------------
    def reload_if_due(self, known: bool, received_at: datetime) -> None:
        wait = self.directory.reload_due(known, received_at)
        if wait is not None:
            time.sleep(wait)
            self.db.run("reload the meter directory", self.directory.refresh)

    def _decode(self, delivery: Delivery) -> list[Message]:
        try:
            return delivery.decode(_Lookup(self, delivery.received_at), self.limits)
        except Exception as exc:  # a decoder's bug must not lose the input or stop the others: keep it
            if isinstance(exc, SystemicError | psycopg.Error | DatabaseUnavailable | GaveUp):
                raise
            log(self.log, logging.ERROR, "a decoder failed; the input is kept", error=describe(exc))
            why = Refusal(Reason.NOT_DECODED, f"the collector could not decode it: {describe(exc)}")
            return [
                Message(
                    delivery.source, delivery.meter_id, delivery.raw, delivery.received_at, refusals=[why]
                )
            ]

    def _flush(self, batch: list[_Decoded]) -> None:
        started = time.monotonic()
        messages = [m for item in batch for m in item.messages]
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
        for item in batch:  # only now: everything these deliveries became is committed
            item.delivery.ack()
            self.metrics.receive_to_commit.observe((committed - item.delivery.received_at).total_seconds())
        self.inbox.release(sum(len(item.delivery.raw) for item in batch))
        self._count(result, split, len(batch), time.monotonic() - started, committed)

    def _count(self, result: StoreResult, split: int, size: int, seconds: float, committed: datetime) -> None:
        m = self.metrics
        m.db_healthy.set(1)
        m.held_bytes.set(self.inbox.held)
        m.commit_seconds.observe(seconds)
        m.batch_messages.observe(size)
        m.stored.inc(result.stored)
        m.duplicates.inc(result.duplicates)
        m.conflicts.inc(result.conflicts)
        m.status_events.inc(result.status_events)
        m.isolations.inc(split)
        for reason, count in result.rejected.items():
            m.rejected.labels(reason).inc(count)
        if result.newest_ts is not None:
            m.lag.set((committed - result.newest_ts).total_seconds())

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
