"""A meter's password opens nothing but that meter's own session and topics, on the broker the
project configures (client ids bound to usernames, the registry's ACL)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from infra.sandbox import PrivateMosquitto
from tests.devices.conftest import COLLECTOR
from tests.ingest.harness import count, running_collector, settings_for, wait_until
from tests.mqtt import Subscriber, publish_all

Secured = tuple[PrivateMosquitto, dict[str, str], str, Path]


def readings(n: int) -> list[bytes]:
    start = datetime.now(UTC) - timedelta(hours=n)
    return [orjson.dumps({"ts": (start + timedelta(hours=i)).isoformat(), "total_m3": i}) for i in range(n)]


def test_a_meter_cannot_take_the_collectors_session_or_its_queue(secured: Secured) -> None:
    broker, passwords, database_url, _auth = secured
    url = f"mqtt://{COLLECTOR}:{passwords[COLLECTOR]}@127.0.0.1:{broker.port}"
    settings = settings_for(database_url, url, collector_client_id="intake-collector-1")
    with running_collector(settings):
        pass  # its persistent session and subscriptions now exist; it goes away
    publish_all(
        broker.url, "meters/M-JP-1/readings", readings(200), username="M-JP-1", password=passwords["M-JP-1"]
    )
    for stolen in ("intake-collector-1", COLLECTOR):  # the setting's client id, and its username
        thief = Subscriber(
            broker.url,
            "meters/+/readings",
            client_id=stolen,
            persistent=True,
            username="M-JP-2",
            password=passwords["M-JP-2"],
        ).start()
        time.sleep(2)
        thief.stop()
        assert thief.messages == []
    with running_collector(settings):
        wait_until(lambda: count(database_url, "readings") == 200, what="the queued readings, all of them")


def test_a_meter_cannot_knock_another_off_with_its_client_id(secured: Secured) -> None:
    broker, passwords, _url, _auth = secured
    dropped = threading.Event()
    victim = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="M-JP-1", protocol=mqtt.MQTTv5)
    victim.username_pw_set("M-JP-1", passwords["M-JP-1"])
    victim.on_disconnect = lambda *_a: dropped.set()
    victim.connect("127.0.0.1", broker.port)
    victim.loop_start()
    try:
        time.sleep(0.5)
        publish_all(
            broker.url,
            "meters/M-BP-1/readings",
            readings(1),
            username="M-BP-1",
            password=passwords["M-BP-1"],
            client_id="M-JP-1",
        )
        time.sleep(1.5)
        assert not dropped.is_set()
        info = victim.publish("meters/M-JP-1/status", b"online", qos=1)
        info.wait_for_publish(timeout=10)
        assert info.is_published()
    finally:
        victim.disconnect()
        victim.loop_stop()


def test_a_meter_cannot_read_another_meter_or_the_brokers_statistics(secured: Secured) -> None:
    broker, passwords, _url, _auth = secured
    mine = passwords["M-JP-1"]
    others = Subscriber(broker.url, "meters/M-JP-2/readings", username="M-JP-1", password=mine).start()
    stats = Subscriber(broker.url, "$SYS/#", username="M-JP-1", password=mine).start()
    control = Subscriber(broker.url, "$SYS/#", username=COLLECTOR, password=passwords[COLLECTOR]).start()
    try:
        publish_all(
            broker.url, "meters/M-JP-2/readings", readings(3), username="M-JP-2", password=passwords["M-JP-2"]
        )
        assert control.wait_for(1, timeout=15, quiet=15)  # the collector does get $SYS
        time.sleep(1)
        assert others.messages == [] and stats.messages == []
    finally:
        for s in (others, stats, control):
            s.stop()
