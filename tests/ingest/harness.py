"""Running a collector against the test database and a private broker, and waiting on its results."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from ingest import logs
from ingest.collector import Collector
from ingest.metrics import Metrics
from ingest.settings import CollectorSettings
from tests.roles import COLLECTOR, as_role


def settings_for(database_url: str, mqtt_url: str, **overrides: Any) -> CollectorSettings:
    """A collector's settings; it logs in to the database as the collector's own role."""
    values: dict[str, Any] = {
        "database_url": as_role(database_url, COLLECTOR),
        "mqtt_url": mqtt_url,
        "collector_client_id": f"collector-{uuid.uuid4().hex[:8]}",
        "collector_metrics_port": 0,
        "collector_batch_age_ms": 50,
        "collector_log_format": "text",
        **overrides,
    }
    return CollectorSettings(**values)


@contextmanager
def running_collector(settings: CollectorSettings) -> Iterator[Collector]:
    collector = Collector(settings, logs.setup("text"), Metrics())
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            collector.run(install_signals=False)
        except BaseException as exc:  # surfaced to the test below
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while collector.metrics.connected._value.get() != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield collector
    finally:
        collector.stop()
        thread.join(timeout=60)
        assert not thread.is_alive(), "collector did not stop"
        if outcome:
            raise outcome[0]


def wait_until(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def scalar(url: str, sql: str, *params: Any) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


def count(url: str, table: str) -> int:
    return int(scalar(url, f"SELECT count(*) FROM {table}"))
