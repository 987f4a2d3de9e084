"""A live fleet: every virtual meter on its own MQTT connection, as in the field.

Each meter connects with its own client id and (when the broker requires them) its own credentials,
leaves a retained last will ``offline`` on its status topic, announces ``online`` (retained) and
publishes its readings at its reporting interval on a simulated clock (simulators/clock.py):
accelerated from a start in the past, then real time. A meter that falls behind (accelerated time,
a slow broker) sends what is due in store-and-forward arrays of up to ``per_message`` readings;
when the broker goes away it keeps its readings and sends them after reconnecting, as a meter's
data logger does. Thousands of meters share one asyncio loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiomqtt

from devices.codec import encode_readings
from devices.readings import Reading
from devices.topics import readings_topic, status_topic
from infra.settings import BrokerAddress
from simulators.clock import SimClock
from simulators.fleet import Planned

FAR = timedelta(days=365 * 50)


@dataclass
class LiveProgress:
    connected: int = 0
    messages: int = 0
    readings: int = 0
    reconnects: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # meter: why the broker refused it


@dataclass
class _Meter:
    planned: Planned
    upcoming: Iterator[Reading]
    held: list[Reading] = field(default_factory=list)  # due but not yet acknowledged by the broker
    next: Reading | None = None

    def due(self, now: datetime, limit: int) -> list[Reading]:
        """Readings whose time has come, oldest first, up to ``limit`` (held ones first)."""
        while len(self.held) < limit:
            if self.next is None:
                self.next = next(self.upcoming)
            if self.next.ts > now:
                break
            self.held.append(self.next)
            self.next = None
        return self.held[:limit]


@dataclass
class _Run:
    """What every meter of one run shares."""

    broker: BrokerAddress
    clock: SimClock
    began: float  # time.monotonic() at the start
    per_message: int
    progress: LiveProgress
    stop: asyncio.Event

    def now(self) -> datetime:
        return self.clock.at(time.monotonic() - self.began)


async def _run_meter(meter: _Meter, password: str | None, run: _Run) -> None:
    broker, progress, stop = run.broker, run.progress, run.stop
    meter_id = meter.planned.meter.meter_id
    will = aiomqtt.Will(status_topic(meter_id), b"offline", qos=1, retain=True)
    delay = 1.0
    while not stop.is_set():
        try:
            async with aiomqtt.Client(
                broker.host,
                broker.port,
                identifier=f"meter-{meter_id}",
                username=meter_id if password is not None else None,
                password=password,
                will=will,
                keepalive=60,
                protocol=aiomqtt.ProtocolVersion.V311,
                tls_context=broker.tls_context(),
            ) as client:
                progress.connected += 1
                delay = 1.0
                try:
                    await client.publish(status_topic(meter_id), b"online", qos=1, retain=True)
                    await _publish_until_stopped(meter, client, run)
                finally:
                    progress.connected -= 1
        except aiomqtt.MqttError as exc:
            if "authori" in str(exc).lower() or "password" in str(exc).lower():
                progress.refused[meter_id] = str(exc)
                return
            progress.reconnects += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 30)


async def _publish_until_stopped(meter: _Meter, client: aiomqtt.Client, run: _Run) -> None:
    meter_id = meter.planned.meter.meter_id
    while not run.stop.is_set():
        batch = meter.due(run.now(), run.per_message)
        if batch:
            await client.publish(readings_topic(meter_id), encode_readings(batch), qos=1)
            del meter.held[: len(batch)]  # acknowledged: the broker has them now
            run.progress.messages += 1
            run.progress.readings += len(batch)
            continue
        assert meter.next is not None
        wait = run.clock.elapsed_at(meter.next.ts) - (time.monotonic() - run.began)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.stop.wait(), max(wait, 0.001))


async def run_fleet(
    broker: BrokerAddress,
    fleet: Sequence[Planned],
    clock: SimClock,
    passwords: Mapping[str, str] | None,
    stop: asyncio.Event,
    per_message: int = 1,
    report: Callable[[LiveProgress, datetime], None] = lambda _p, _t: None,
    report_every: float = 5.0,
    report_live_every: float = 60.0,
) -> LiveProgress:
    """Run every meter until ``stop`` is set; ``passwords`` by meter id when the broker wants them.
    Progress goes to ``report`` every ``report_every`` seconds while catching up, then less often."""
    progress = LiveProgress()
    run = _Run(broker, clock, time.monotonic(), per_message, progress, stop)
    meters = [_Meter(p, p.meter.readings(clock.start, clock.start + FAR)) for p in fleet]
    tasks = [
        asyncio.create_task(
            _run_meter(m, None if passwords is None else passwords.get(m.planned.meter.meter_id, ""), run)
        )
        for m in meters
    ]
    while not stop.is_set():
        every = report_live_every if clock.caught_up(time.monotonic() - run.began) else report_every
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        report(progress, run.now())
        if all(t.done() for t in tasks):
            break
    await asyncio.gather(*tasks)
    return progress
