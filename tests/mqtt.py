"""Small paho-mqtt helpers for tests: a subscriber that records what it receives, a publisher."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or (8883 if parts.scheme == "mqtts" else 1883)


def _tls(client: mqtt.Client, url: str, ca_file: str | None) -> None:
    """mqtts:// URLs: verify the broker's certificate against ``ca_file``."""
    if urlsplit(url).scheme == "mqtts":
        client.tls_set(ca_certs=ca_file)


@dataclass
class Subscriber:
    """An MQTT v5 client that subscribes to ``topic`` and keeps every message it gets."""

    url: str
    topic: str
    client_id: str = ""
    persistent: bool = False
    qos: int = 1
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    messages: list[mqtt.MQTTMessage] = field(default_factory=list)
    granted: list[int] = field(default_factory=list)  # the SUBACK's reason codes
    _subscribed: threading.Event = field(default_factory=threading.Event)
    _client: mqtt.Client | None = None

    def start(self) -> Subscriber:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        client.on_message = lambda _c, _u, msg: self.messages.append(msg)

        def on_subscribe(_c: mqtt.Client, _u: object, _mid: int, codes: list[Any], _p: object) -> None:
            self.granted.extend(int(c.value) for c in codes)
            self._subscribed.set()

        client.on_subscribe = on_subscribe

        def on_connect(c: mqtt.Client, _u: object, flags: mqtt.ConnectFlags, _r: object, _p: object) -> None:
            if not (self.persistent and flags.session_present):
                c.subscribe(self.topic, qos=self.qos)
            else:
                self._subscribed.set()

        client.on_connect = on_connect
        if self.username:
            client.username_pw_set(self.username, self.password)
        _tls(client, self.url, self.ca_file)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if self.persistent:
            props.SessionExpiryInterval = 3600
        host, port = _host_port(self.url)
        client.connect(host, port, clean_start=not self.persistent, properties=props)
        client.loop_start()
        self._client = client
        if not self._subscribed.wait(10):
            raise TimeoutError(f"no SUBACK for {self.topic}")
        return self

    def wait_for(self, count: int, timeout: float = 20.0, quiet: float = 3.0) -> list[mqtt.MQTTMessage]:
        """Messages so far, once ``count`` arrived, none came for ``quiet`` s, or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        seen, last_change = len(self.messages), time.monotonic()
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
            if len(self.messages) != seen:
                seen, last_change = len(self.messages), time.monotonic()
            elif time.monotonic() - last_change > quiet:
                break
        return list(self.messages)

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None


def publish_all(
    url: str,
    topic: str,
    payloads: list[bytes],
    qos: int = 1,
    username: str | None = None,
    password: str | None = None,
    ca_file: str | None = None,
    client_id: str = "",
) -> None:
    """Publish every payload and return once the broker has acknowledged each (QoS 1 PUBACK)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if username:
        client.username_pw_set(username, password)
    _tls(client, url, ca_file)
    client.max_inflight_messages_set(500)
    host, port = _host_port(url)
    client.connect(host, port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=qos) for payload in payloads]
        for info in infos:
            info.wait_for_publish(timeout=30)
            if not info.is_published():
                raise TimeoutError(f"message {info.mid} to {topic} was not acknowledged")
    finally:
        client.disconnect()
        client.loop_stop()


def connect_reason(url: str, username: str | None, password: str | None) -> str:
    """What the broker answers to CONNECT with these credentials: 'Success' or the refusal's reason."""
    answer: list[str] = []
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if username is not None:
        client.username_pw_set(username, password)

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        answer.append(str(reason))
        done.set()

    client.on_connect = on_connect
    host, port = _host_port(url)
    client.connect(host, port)
    client.loop_start()
    try:
        if not done.wait(10):
            raise TimeoutError("no CONNACK")
    finally:
        client.disconnect()
        client.loop_stop()
    return answer[0]


class PacedPublisher(threading.Thread):
    """Publishes ``messages`` (topic, payload) at QoS 1 at about ``per_second``, in the background;
    ``done`` is set once every one was acknowledged by the broker."""

    def __init__(self, url: str, messages: list[tuple[str, bytes]], per_second: float) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.messages = messages
        self.per_second = per_second
        self.done = threading.Event()
        self.unacknowledged: list[int] = []

    def run(self) -> None:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        client.max_inflight_messages_set(1000)
        host, port = _host_port(self.url)
        client.connect(host, port)
        client.loop_start()
        try:
            started = time.monotonic()
            infos = []
            for n, (topic, payload) in enumerate(self.messages):
                lead = started + n / self.per_second - time.monotonic()
                if lead > 0:
                    time.sleep(lead)
                infos.append(client.publish(topic, payload, qos=1))
            for info in infos:
                info.wait_for_publish(timeout=60)
            self.unacknowledged = [i.mid for i in infos if not i.is_published()]
        finally:
            client.disconnect()
            client.loop_stop()
            self.done.set()
