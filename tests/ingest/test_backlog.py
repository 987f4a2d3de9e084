"""A collector under a backlog: SIGTERM ends it within the shutdown timeout (it stops taking new
messages, drains what it holds, and leaves the rest with the broker); the payload it holds is bounded
in bytes; a status said twice is one event."""

from __future__ import annotations

import signal
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
import pytest

from devices.topics import readings_topic, status_topic
from infra.sandbox import PrivateMosquitto, PrivatePostgres
from infra.testbed import register_meters
from tests.ingest.harness import count, running_collector, scalar, settings_for, wait_until
from tests.ingest.test_faults import collector_process
from tests.mqtt import PacedPublisher, publish_all

START = datetime(2026, 3, 1, tzinfo=UTC)
METERS = [f"B{n}" for n in range(10)]
BACKLOG = 50_000


@pytest.mark.slow
def test_sigterm_under_a_backlog_stops_within_the_timeout_and_loses_nothing(
    database_url: str, broker: PrivateMosquitto, tmp_path: Path
) -> None:
    register_meters(database_url, METERS)
    client_id = f"c-{uuid.uuid4().hex[:6]}"
    log = tmp_path / "collector.log"
    settings = {"INTAKE_COLLECTOR_RECEIVE_MAXIMUM": "500", "INTAKE_COLLECTOR_SHUTDOWN_TIMEOUT_S": "10"}
    first = collector_process(database_url, broker.url, client_id, log, settings)
    wait_until(lambda: "connected to broker" in log.read_text(), what="the session to exist")
    first.terminate()
    assert first.wait(timeout=30) == 0
    messages = [
        (
            readings_topic(m),
            orjson.dumps({"ts": (START + timedelta(minutes=15 * i)).isoformat(), "total_m3": i}),
        )
        for i in range(BACKLOG // len(METERS))
        for m in METERS
    ]
    publisher = PacedPublisher(broker.url, messages, per_second=100_000)  # queued for the absent collector
    publisher.start()
    wait_until(publisher.done.is_set, timeout=120, what="the backlog to be queued")
    assert publisher.unacknowledged == []

    second = collector_process(database_url, broker.url, client_id, log, settings)
    try:
        wait_until(lambda: count(database_url, "readings") > 1000, timeout=60, what="the drain to begin")
        second.send_signal(signal.SIGTERM)
        stopped = second.wait(timeout=10 + 20)  # the shutdown timeout, and time to start and exit
    finally:
        second.kill()
    at_exit = count(database_url, "readings")
    assert stopped == 0, log.read_text()[-2000:]
    assert at_exit < BACKLOG // 2  # it stopped taking new messages instead of draining the broker

    third = collector_process(database_url, broker.url, client_id, log, settings)
    try:
        wait_until(lambda: count(database_url, "readings") == BACKLOG, timeout=180, what="the rest of it")
    finally:
        third.terminate()
        third.wait(timeout=60)
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT (meter_id, ts)) FROM readings").fetchone()
    assert row == (BACKLOG, BACKLOG)
    assert count(database_url, "rejected_messages") == 0


def test_a_status_said_again_is_not_a_second_event(database_url: str, broker: PrivateMosquitto) -> None:
    """A redelivered birth (or a retained status sent again) is the same status: one event."""
    register_meters(database_url, ["S1"])
    with running_collector(settings_for(database_url, broker.url)):
        publish_all(broker.url, status_topic("S1"), [b"online", b"online"])
        wait_until(
            lambda: scalar(database_url, "SELECT last_status FROM meter_state") == "online", what="birth"
        )
        publish_all(broker.url, status_topic("S1"), [b"offline", b"offline", b"online"])
        wait_until(lambda: collector_saw(database_url, 3), what="the later statuses")
        time.sleep(0.5)
    events = scalar(
        database_url, "SELECT array_agg(status ORDER BY received_at, id) FROM meter_status_events"
    )
    assert events == ["online", "offline", "online"]


def collector_saw(url: str, events: int) -> bool:
    return count(url, "meter_status_events") >= events


def test_the_payload_held_unacknowledged_is_bounded_in_bytes(
    database_url: str, broker: PrivateMosquitto, postgres: PrivatePostgres
) -> None:
    """With the database away, the collector holds at most INTAKE_COLLECTOR_MAX_HELD_MB (and one
    message more); the broker keeps the rest. Everything is stored once the database is back."""
    register_meters(database_url, ["BIG"], interval_s=60)
    big = [
        orjson.dumps(
            [
                {"ts": (START + timedelta(minutes=1000 * n + i)).isoformat(), "total_m3": 1000 * n + i}
                for i in range(1000)
            ]
        )
        for n in range(20)
    ]
    size = max(len(b) for b in big)  # about 60 KB each, 1.2 MB in all
    settings = settings_for(database_url, broker.url, collector_max_held_mb=0.25)
    with running_collector(settings) as collector:
        postgres.stop(mode="fast")
        try:
            publish_all(broker.url, readings_topic("BIG"), big)
            time.sleep(3)
            held = collector.inbox.held
            messages = collector.metrics.messages._value.get()
        finally:
            postgres.start()
        wait_until(lambda: count(database_url, "readings") == 20_000, timeout=120, what="every reading")
    assert 0 < held <= 0.25 * 1024 * 1024 + size
    assert messages < len(big)  # the rest waited at the broker
