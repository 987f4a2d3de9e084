"""The MQTT source: paho, manual acknowledgement, reconnects; hands each message over with its ack.

paho's network thread only timestamps incoming messages and submits them; the pipeline's thread calls
each message's ack once its batch has committed, which sends the PUBACK. The broker sends at most
Receive Maximum unacknowledged messages, and while the pipeline's inbox is full paho's thread waits,
so TCP stops the broker. paho's types stay in this module.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from devices.errors import InvalidValue
from devices.topics import Channel, direct_subscriptions, parse_topic, shared_subscriptions
from infra.settings import redact_url
from ingest.decode import decode_message
from ingest.logs import log
from ingest.message import Delivery, Kind, Limits, Lookup, Message, Source
from ingest.metrics import Metrics
from ingest.settings import CollectorSettings

DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
Submit = Callable[[Delivery], bool]


def mqtt_delivery(
    topic: str, payload: bytes, received_at: datetime, retained: bool, ack: Callable[[], None]
) -> Delivery:
    """A message as the pipeline takes it; the topic names the meter and the kind."""
    try:
        where = parse_topic(topic)
        meter_id, kind = where.meter_id, Kind.STATUS if where.channel is Channel.STATUS else Kind.READING
    except InvalidValue:
        meter_id, kind = None, Kind.READING  # the decoder refuses it, with the reason

    def decode(lookup: Lookup, limits: Limits) -> list[Message]:
        return [decode_message(topic, payload, received_at, retained, lookup.meter, limits)]

    return Delivery(Source.MQTT, kind, meter_id, payload, received_at, decode, ack)


class MqttSource:
    def __init__(
        self,
        settings: CollectorSettings,
        logger: logging.Logger,
        metrics: Metrics,
        submit: Submit,
        stopping: threading.Event,
    ) -> None:
        self.settings = settings
        self.log = logger
        self.metrics = metrics
        self.submit = submit
        self.stopping = stopping
        self.generation = 0  # which broker connection delivered a message: acks go only on that one
        self.client = self._make_client()

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
        ack = self._ack_for(msg.mid, msg.qos, self.generation)
        delivery = mqtt_delivery(msg.topic, bytes(msg.payload), datetime.now(UTC), msg.retain, ack)
        # While stopping, nothing new is taken: unacknowledged, it stays with the broker for next time.
        self.submit(delivery)

    def _ack_for(self, mid: int, qos: int, generation: int) -> Callable[[], None]:
        def ack() -> None:
            if qos > 0 and generation == self.generation:  # a PUBACK on a newer connection means nothing
                self.client.ack(mid, qos)

        return ack

    def start(self) -> None:
        """Connect (retrying until the broker answers or we are stopping) and run paho's thread."""
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
                break
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
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
