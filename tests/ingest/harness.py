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
from ingest.gateway import Gateway
from ingest.metrics import Metrics
from ingest.settings import CollectorSettings, GatewaySettings
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


def gateway_settings_for(database_url: str, **overrides: Any) -> GatewaySettings:
    """A gateway's settings on a free port; it logs in to the database as the collector's role."""
    values: dict[str, Any] = {
        "database_url": as_role(database_url, COLLECTOR),
        "gateway_host": "127.0.0.1",
        "gateway_port": 0,
        "gateway_metrics_port": 0,
        "collector_batch_age_ms": 50,
        "collector_log_format": "text",
        **overrides,
    }
    return GatewaySettings(**values)


@contextmanager
def running_gateway(settings: GatewaySettings) -> Iterator[Gateway]:
    gateway = Gateway(settings, logs.setup("text"), Metrics())
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(SystemExit(gateway.run(install_signals=False)))
        except BaseException as exc:  # surfaced to the test below
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    wait_until(lambda: gateway.port != 0 or bool(outcome), 15, "the gateway to listen")
    try:
        yield gateway
    finally:
        gateway.stop()
        thread.join(timeout=60)
        assert not thread.is_alive(), "gateway did not stop"
        if outcome and not (isinstance(outcome[0], SystemExit) and outcome[0].code == 0):
            raise AssertionError(f"the gateway ended with {outcome[0]!r}")


def register_rtu(url: str, channels: dict[str, tuple[str, int]]) -> None:
    """Put meters on RTU addresses and channels (meter id -> (address, channel))."""
    with psycopg.connect(url) as conn:
        for meter_id, (address, channel) in channels.items():
            conn.execute(
                "UPDATE meters SET rtu_address = %s, rtu_channel = %s WHERE meter_id = %s",
                (address, channel, meter_id),
            )
