"""Broker reachability check (the collector has its own client; this is for `intake status`)."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from infra.errors import InfraError
from infra.settings import BrokerAddress


class BrokerUnavailable(InfraError):
    """The MQTT broker could not be reached or refused the connection."""


def probe(address: BrokerAddress, timeout: float = 5.0) -> None:
    """Connect with MQTT v5 and disconnect; raise :class:`BrokerUnavailable` with the reason."""
    done = threading.Event()
    outcome: list[str] = []

    def on_connect(
        _c: mqtt.Client, _u: object, _f: mqtt.ConnectFlags, reason: ReasonCode, _p: Properties | None
    ) -> None:
        outcome.append("" if not reason.is_failure else str(reason))
        done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_connect = on_connect
    if address.username:
        client.username_pw_set(address.username, address.password)
    context = address.tls_context()
    if context is not None:
        client.tls_set_context(context)
    try:
        client.connect(address.host, address.port, keepalive=10)
    except OSError as exc:
        raise BrokerUnavailable(f"cannot reach {address!r}: {exc.strerror or exc}") from exc
    client.loop_start()
    try:
        if not done.wait(timeout):
            raise BrokerUnavailable(f"{address!r} did not answer CONNECT within {timeout:.0f} s")
        if outcome[0]:
            raise BrokerUnavailable(f"{address!r} refused the connection: {outcome[0]}")
    finally:
        client.disconnect()
        client.loop_stop()
