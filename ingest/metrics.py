"""Prometheus metrics of one collector process."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.messages = Counter(
            "intake_messages_received", "messages received from every source (MQTT, SZY 206)", registry=r
        )
        self.readings_received = Counter(
            "intake_readings_received", "readings decoded from messages", registry=r
        )
        self.stored = Counter("intake_readings_stored", "readings newly stored", registry=r)
        self.duplicates = Counter(
            "intake_readings_duplicate", "readings already stored with the same values", registry=r
        )
        self.conflicts = Counter(
            "intake_readings_conflict", "readings with a stored time but other values", registry=r
        )
        self.rejected = Counter("intake_rejected", "messages or readings refused", ["reason"], registry=r)
        self.status_events = Counter("intake_status_events", "status messages recorded", registry=r)
        self.batch_messages = Histogram(
            "intake_batch_messages",
            "messages per committed batch",
            registry=r,
            buckets=(1, 10, 100, 500, 1000, 2000, 5000, 10000),
        )
        self.commit_seconds = Histogram(
            "intake_commit_seconds", "time to store and commit a batch", registry=r
        )
        self.receive_to_commit = Histogram(
            "intake_receive_to_commit_seconds", "from receiving a message to committing it", registry=r
        )
        self.unacked = Gauge(
            "intake_unacked_messages", "messages received and not yet acknowledged", registry=r
        )
        self.lag = Gauge(
            "intake_lag_seconds", "commit time minus the newest device time in the last batch", registry=r
        )
        self.db_retries = Counter(
            "intake_db_retries", "database uses retried on a fresh connection after an error", registry=r
        )
        self.db_systemic = Counter(
            "intake_db_systemic_errors",
            "database refusals that were not the data's fault (nothing acknowledged, retried)",
            ["sqlstate"],
            registry=r,
        )
        self.db_healthy = Gauge(
            "intake_db_healthy", "0 while the collector is retrying the database, else 1", registry=r
        )
        self.held_bytes = Gauge(
            "intake_held_bytes", "payload bytes received and not yet committed and acknowledged", registry=r
        )
        self.isolations = Counter(
            "intake_poison_isolations", "parts split off a batch and rejected as the data's fault", registry=r
        )
        self.broker_dropped = Gauge(
            "intake_broker_dropped_messages", "the broker's $SYS/broker/publish/messages/dropped", registry=r
        )
        self.connected = Gauge("intake_broker_connected", "1 while connected to the broker", registry=r)

    def serve(self, port: int) -> None:
        if port:
            start_http_server(port, addr="0.0.0.0", registry=self.registry)  # noqa: S104 - scraped by Prometheus
