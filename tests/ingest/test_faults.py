"""No loss, no double count through a collector crash, a database crash and a broker restart.

Each test publishes 100,000 QoS 1 readings from 100 meters and breaks something mid-stream; every
reading must end up in the database exactly once, and the daily rollup must equal a recomputation.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devices.topics import readings_topic
from infra.calendar import local_day
from infra.sandbox import PrivateMosquitto, PrivatePostgres
from infra.testbed import register_meters
from ingest.volumes import Point, daily_volumes
from tests.ingest.harness import count, running_collector, settings_for, wait_until
from tests.roles import COLLECTOR, as_role

ZONE = ZoneInfo("Asia/Shanghai")
METERS = 100
PER_METER = 1000
TOTAL = METERS * PER_METER
START = datetime(2026, 3, 1, tzinfo=ZONE)


def meter_ids() -> list[str]:
    return [f"F{n:03d}" for n in range(METERS)]


class Publisher(threading.Thread):
    """A fleet publishing at QoS 1 through one persistent session; it rides out broker restarts."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.port = int(url.rsplit(":", 1)[1])
        self.done = threading.Event()
        self.failed: list[str] = []

    def run(self) -> None:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"fleet-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv5
        )
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(1, 2)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        client.connect("127.0.0.1", self.port, clean_start=False, properties=props)
        client.loop_start()
        pending: deque[mqtt.MQTTMessageInfo] = deque()
        deadline = time.monotonic() + 240
        for i in range(PER_METER):
            for meter in meter_ids():
                while (
                    len(pending) >= 20_000
                ):  # paho's packet ids are 16-bit: keep well below 65,535 in flight
                    if pending[0].is_published():
                        pending.popleft()
                    elif time.monotonic() > deadline:
                        break
                    else:
                        time.sleep(0.002)
                payload = orjson.dumps(
                    {"ts": (START + timedelta(minutes=15 * i)).isoformat(), "total_m3": round(i * 1.25, 3)}
                )
                pending.append(client.publish(readings_topic(meter), payload, qos=1))
        for info in pending:
            while not info.is_published() and time.monotonic() < deadline:
                time.sleep(0.01)
        infos = list(pending)
        self.failed = [str(i.mid) for i in infos if not i.is_published()]
        client.disconnect()
        client.loop_stop()
        self.done.set()


@pytest.fixture
def fleet(database_url: str) -> str:
    register_meters(database_url, meter_ids(), interval_s=900)
    return database_url


def assert_exactly_once(url: str) -> None:
    with psycopg.connect(url) as conn:
        counts = conn.execute("SELECT count(*), count(DISTINCT (meter_id, ts)) FROM readings").fetchone()
        spread = conn.execute(
            "SELECT min(n), max(n) FROM (SELECT count(*) n FROM readings GROUP BY meter_id) c"
        )
        extremes = spread.fetchone()
        stored = conn.execute(
            "SELECT day, volume_m3, method FROM daily_volumes WHERE meter_id = 'F007' ORDER BY day"
        )
        rollup = stored.fetchall()
    assert counts is not None and extremes is not None
    (total, distinct), (low, high) = counts, extremes
    assert (total, distinct, low, high) == (TOTAL, TOTAL, PER_METER, PER_METER)
    points = [
        Point(START + timedelta(minutes=15 * i), Decimal(str(round(i * 1.25, 3)))) for i in range(PER_METER)
    ]
    days = sorted({local_day(p.ts, ZONE) for p in points})
    scratch = [
        (v.day, v.volume_m3, str(v.method))
        for v in daily_volumes(points, days, ZONE, Decimal(10) ** 8, timedelta(seconds=1800))
    ]
    assert rollup == scratch


def collector_process(
    url: str,
    mqtt_url: str,
    client_id: str,
    log: Path,
    extra: dict[str, str] | None = None,
    role: str | None = COLLECTOR,
) -> subprocess.Popen[bytes]:
    """``intake collect`` in its own process, logged in as the collector's role (None: as ``url`` says)."""
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
        | {
            "INTAKE_DATABASE_URL": as_role(url, role) if role else url,
            "INTAKE_MQTT_URL": mqtt_url,
            "INTAKE_COLLECTOR_CLIENT_ID": client_id,
            "INTAKE_COLLECTOR_METRICS_PORT": "0",
            "INTAKE_COLLECTOR_LOG_FORMAT": "text",
        }
        | (extra or {})
    )
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "intake", "collect"], env=env, stdout=out, stderr=out)


@pytest.mark.slow
def test_kill_9_of_the_collector_loses_nothing(fleet: str, broker: PrivateMosquitto, tmp_path: Path) -> None:
    client_id = f"collector-{uuid.uuid4().hex[:6]}"
    log = tmp_path / "collector.log"
    first = collector_process(fleet, broker.url, client_id, log)
    try:
        wait_until(lambda: "connected to broker" in log.read_text(), what="the collector to connect")
        publisher = Publisher(broker.url)
        publisher.start()
        wait_until(lambda: count(fleet, "readings") > 20_000, timeout=120, what="20,000 readings")
    finally:
        first.kill()  # SIGKILL: no drain, no goodbye
        first.wait()
    stored_at_kill = count(fleet, "readings")
    second = collector_process(fleet, broker.url, client_id, log)
    try:
        wait_until(
            lambda: publisher.done.is_set() and count(fleet, "readings") == TOTAL,
            timeout=240,
            what="every reading after the restart",
        )
    finally:
        second.terminate()
        second.wait(timeout=60)
    assert publisher.failed == []
    assert stored_at_kill < TOTAL
    assert_exactly_once(fleet)
    assert second.returncode == 0, log.read_text()[-2000:]


def _connected(log: Path) -> bool:
    return "connected to broker" in log.read_text()


@pytest.mark.slow
def test_kill_9_of_one_of_two_shared_collectors_loses_nothing(
    fleet: str, broker: PrivateMosquitto, tmp_path: Path
) -> None:
    """Two collectors share the load ($share/collectors/...); one is killed mid-stream and comes back
    under its client id: what its session held is redelivered to it, and every reading is stored once."""
    shared = {"INTAKE_COLLECTOR_SUBSCRIPTION": "shared", "INTAKE_COLLECTOR_GROUP": "collectors"}
    tag = uuid.uuid4().hex[:6]
    ids, logs = [f"collector-a-{tag}", f"collector-b-{tag}"], [tmp_path / "a.log", tmp_path / "b.log"]
    first = collector_process(fleet, broker.url, ids[0], logs[0], shared)
    other = collector_process(fleet, broker.url, ids[1], logs[1], shared)
    again: subprocess.Popen[bytes] | None = None
    try:
        for log in logs:
            wait_until(partial(_connected, log), what="both collectors to connect")
        publisher = Publisher(broker.url)
        publisher.start()
        wait_until(lambda: count(fleet, "readings") > 20_000, timeout=120, what="20,000 readings")
        first.kill()  # SIGKILL: no drain, no goodbye; the other keeps storing its share
        first.wait()
        stored_at_kill = count(fleet, "readings")
        wait_until(
            lambda: count(fleet, "readings") > stored_at_kill, what="the other collector to go on storing"
        )
        again = collector_process(fleet, broker.url, ids[0], logs[0], shared)
        wait_until(
            lambda: publisher.done.is_set() and count(fleet, "readings") == TOTAL,
            timeout=240,
            what="every reading with one collector killed and back",
        )
    finally:
        for process in (first, other, again):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=60)
    assert publisher.failed == []
    assert stored_at_kill < TOTAL
    assert_exactly_once(fleet)
    assert other.returncode == 0 and again is not None and again.returncode == 0, logs[0].read_text()[-2000:]


@pytest.mark.slow
def test_database_crash_mid_stream_loses_nothing(
    fleet: str, broker: PrivateMosquitto, postgres: PrivatePostgres
) -> None:
    settings = settings_for(fleet, broker.url)
    with running_collector(settings) as collector:
        publisher = Publisher(broker.url)
        publisher.start()
        wait_until(lambda: count(fleet, "readings") > 20_000, timeout=120, what="20,000 readings")
        postgres.stop(mode="immediate")  # like a crash: recovery on start
        time.sleep(2)  # the collector keeps its batch unacknowledged and retries
        unacked_while_down = collector.metrics.unacked._value.get()
        postgres.start()
        wait_until(
            lambda: publisher.done.is_set() and count(fleet, "readings") == TOTAL,
            timeout=240,
            what="every reading after the database came back",
        )
        assert collector.metrics.db_retries._value.get() >= 1
    assert publisher.failed == []
    assert unacked_while_down <= settings.collector_receive_maximum
    assert_exactly_once(fleet)


@pytest.mark.slow
def test_broker_restart_mid_stream_loses_nothing(fleet: str, broker: PrivateMosquitto) -> None:
    with running_collector(settings_for(fleet, broker.url)):
        publisher = Publisher(broker.url)
        publisher.start()
        wait_until(lambda: count(fleet, "readings") > 20_000, timeout=120, what="20,000 readings")
        broker.restart()  # persistence on: sessions and queued messages survive
        wait_until(
            lambda: publisher.done.is_set() and count(fleet, "readings") == TOTAL,
            timeout=240,
            what="every reading after the broker came back",
        )
    assert publisher.failed == []
    assert_exactly_once(fleet)


def test_unacknowledged_window_is_bounded_while_the_database_is_away(
    database_url: str, broker: PrivateMosquitto, postgres: PrivatePostgres
) -> None:
    """Receive Maximum is the back-pressure: with the database gone, the broker holds the rest."""
    register_meters(database_url, ["W1"])
    window = 100
    settings = settings_for(
        database_url, broker.url, collector_receive_maximum=window, collector_batch_size=1000
    )
    with running_collector(settings) as collector:
        postgres.stop(mode="fast")
        try:
            payloads = [
                orjson.dumps({"ts": (START + timedelta(minutes=i)).isoformat(), "total_m3": i})
                for i in range(2000)
            ]
            from tests.mqtt import publish_all

            publish_all(broker.url, readings_topic("W1"), payloads)
            time.sleep(2)
            held = collector.metrics.unacked._value.get()
        finally:
            postgres.start()
        wait_until(lambda: count(database_url, "readings") == 2000, timeout=120, what="all 2000 readings")
    assert 0 < held <= window


def test_sigterm_drains_and_commits_what_the_collector_holds(
    database_url: str, broker: PrivateMosquitto, tmp_path: Path
) -> None:
    """The collector holds 300 messages in a batch that would not flush for a minute; SIGTERM makes it
    commit and acknowledge them before it exits. Its metrics endpoint shows the held window first."""
    import urllib.request

    from infra.sandbox import free_port
    from tests.mqtt import publish_all

    register_meters(database_url, ["T1"])
    port = free_port()
    log = tmp_path / "collector.log"
    env_extra = {"INTAKE_COLLECTOR_BATCH_AGE_MS": "60000", "INTAKE_COLLECTOR_METRICS_PORT": str(port)}
    process = collector_process(database_url, broker.url, f"c-{uuid.uuid4().hex[:6]}", log, env_extra)
    try:
        wait_until(lambda: "connected to broker" in log.read_text(), what="the collector to connect")
        payloads = [
            orjson.dumps({"ts": (START + timedelta(minutes=i)).isoformat(), "total_m3": i})
            for i in range(300)
        ]
        publish_all(broker.url, readings_topic("T1"), payloads)

        def metric(name: str) -> float:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))

        wait_until(lambda: metric("intake_messages_received_total") == 300, what="300 messages received")
        assert metric("intake_unacked_messages") == 300
        assert count(database_url, "readings") == 0  # held, not yet committed
        process.terminate()
        assert process.wait(timeout=60) == 0, log.read_text()[-2000:]
    finally:
        process.kill()
    assert count(database_url, "readings") == 300
    assert "stopping: draining what is held" in log.read_text()
