"""Publishing a fleet's readings over MQTT with aiomqtt, through the shared codec and topics."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiomqtt

from devices.codec import encode_readings
from devices.readings import Reading
from devices.topics import readings_topic
from infra.settings import BrokerAddress
from simulators.faults import Fault, inject
from simulators.fleet import Planned


@dataclass
class Progress:
    messages: int = 0
    readings: int = 0


def _messages(meter_readings: list[Reading], per_message: int) -> list[tuple[bytes, int]]:
    """One reading per message, or store-and-forward arrays of ``per_message``; with their counts."""
    chunks = [meter_readings[i : i + per_message] for i in range(0, len(meter_readings), per_message)]
    return [(encode_readings(chunk), len(chunk)) for chunk in chunks]


async def _connect(
    stack: contextlib.AsyncExitStack,
    broker: BrokerAddress,
    user: str | None,
    password: str | None,
    in_flight: int,
) -> aiomqtt.Client:
    client = aiomqtt.Client(
        broker.host,
        broker.port,
        username=user,
        password=password,
        protocol=aiomqtt.ProtocolVersion.V5,
        max_inflight_messages=in_flight,
        tls_context=broker.tls_context(),
    )
    await stack.enter_async_context(client)
    client.pending_calls_threshold = in_flight + 1  # up to in_flight pending is the plan, not a warning
    return client


async def backfill(
    broker: BrokerAddress,
    fleet: Sequence[Planned],
    start: datetime,
    end: datetime,
    per_message: int = 1,
    in_flight: int = 500,
    report: Callable[[Progress], None] = lambda _p: None,
    faults: frozenset[Fault] = frozenset(),
    seed: int = 1,
    passwords: Mapping[str, str] | None = None,
) -> Progress:
    """Publish every reading of [start, end) for every meter at QoS 1, as fast as the broker acks.

    Meters take turns, a day at a time, so the collector sees the fleet advance together. With
    ``passwords`` (by meter id) each meter publishes on its own connection, as the broker's ACL wants.
    """
    progress = Progress()
    limit = asyncio.Semaphore(in_flight)
    async with contextlib.AsyncExitStack() as stack:
        if passwords is None:
            shared = await _connect(stack, broker, broker.username, broker.password, in_flight)
            clients = {p.meter.meter_id: shared for p in fleet}
        else:
            clients = {
                p.meter.meter_id: await _connect(
                    stack, broker, p.meter.meter_id, passwords[p.meter.meter_id], in_flight
                )
                for p in fleet
            }

        async def send(meter_id: str, topic: str, payload: bytes, count: int, retain: bool = False) -> None:
            async with limit:
                await clients[meter_id].publish(topic, payload, qos=1, retain=retain)
            progress.messages += 1
            progress.readings += count

        if faults:  # a faulty fleet: each meter's whole period at once, in its (faulty) order
            rng = random.Random(seed)  # noqa: S311 - simulation, not secrets
            ids = [p.meter.meter_id for p in fleet]
            for n, planned in enumerate(fleet):
                meter_id = planned.meter.meter_id
                readings = list(planned.meter.readings(start, end))
                neighbour = ids[(n + 1) % len(ids)]
                for pub in inject(meter_id, readings, faults, rng, neighbour, planned.meter.capacity):
                    await send(meter_id, pub.topic, pub.payload, pub.readings, pub.retain)
            report(progress)
            return progress

        day = start
        while day < end:
            until = min(day + timedelta(days=1), end)
            tasks = [
                send(planned.meter.meter_id, readings_topic(planned.meter.meter_id), payload, count)
                for planned in fleet
                for payload, count in _messages(list(planned.meter.readings(day, until)), per_message)
            ]
            await asyncio.gather(*tasks)
            report(progress)
            day = until
    return progress
