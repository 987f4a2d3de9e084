"""Virtual RTUs (遥测终端) speaking SZY 206 over TCP, as installed at intakes.

Each RTU connects to the gateway, logs in (AFN 02H F0), and sends a self-report (AFN C0H) per
reading time of its first channel with every channel's flow and whole-m³ totalizer, then waits for
the confirmation (stop-and-wait, as RTUs do). A report not confirmed in time is sent again on a new
connection, with the frame count one lower (FCB 3, 2, 1, ...), until confirmed: nothing confirmed is
ever dropped, nothing unconfirmed is forgotten. Idle, it sends a keep-alive (F2). Half the RTUs send
SZY 206-2016's 5-byte time label, half SL/T 427-2021's 7 bytes; a report more than 20 days old goes
with the 7-byte label either way (a 5-byte one cannot say its month).

Faults (``RtuFault``), each on its own RTU of a run: drop a confirmation (resend: stored once), a copy
with a bad CRC before the good frame, garbage between frames, half a frame then a disconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from devices.readings import Reading
from devices.szy206 import (
    Address,
    Afn,
    Framer,
    Link,
    flow_report,
    label_at,
    link_check,
    parse_frame,
)
from simulators.clock import SimClock
from simulators.meter import VirtualMeter

FAR = timedelta(days=365 * 50)
SHORT_LABEL_AGE = timedelta(days=20)


class RtuFault(StrEnum):
    DROP_CONFIRMATION = "drop_confirmation"
    BAD_CRC = "bad_crc"
    GARBAGE = "garbage"
    HALF_FRAME = "half_frame"


@dataclass
class RtuProgress:
    connected: int = 0
    connections: int = 0
    sent: int = 0  # report frames sent, resends included
    confirmed: int = 0
    resent: int = 0
    # (meter id, device time) of every reading whose report was confirmed: what must be stored
    confirmed_readings: set[tuple[str, datetime]] = field(default_factory=set)


@dataclass
class VirtualRtu:
    address: Address
    channels: list[VirtualMeter]  # channel 1, 2, ...
    full_label: bool = False
    fault: RtuFault | None = None
    upcoming: Iterator[Reading] = field(default_factory=lambda: iter(()))
    pending: list[Reading] | None = None  # every channel's reading in flight or due, until confirmed
    fcb: int = 3
    faulted: bool = False  # the fault has been played once

    def start(self, at: datetime) -> None:
        self.upcoming = self.channels[0].readings(at, at + FAR)

    def next_report(self) -> list[Reading]:
        first = next(self.upcoming)
        return [first, *(m.reading_at(first.ts) for m in self.channels[1:])]

    def frame(self, readings: Sequence[Reading], zone: ZoneInfo) -> bytes:
        """The self-report of one reading time: every channel's flow and whole-m³ totalizer. The short
        label is read against the receive time, so a report older than SHORT_LABEL_AGE in real time
        (an accelerated catch-up, a backlog) goes with the full one."""
        ts = readings[0].ts
        values = [(r.flow_m3h, int(r.total_m3)) for r in readings]
        full = self.full_label or datetime.now(UTC) - ts > SHORT_LABEL_AGE
        return flow_report(self.address, values, label_at(ts.astimezone(zone), 0, full), fcb=self.fcb)


@dataclass
class RtuRun:
    host: str
    port: int
    clock: SimClock
    began: float
    zone: ZoneInfo
    progress: RtuProgress
    stop: asyncio.Event
    confirm_timeout: float = 10.0
    keepalive_s: float = 60.0

    def now(self) -> datetime:
        return self.clock.at(time.monotonic() - self.began)


async def wait_for_answer(reader: asyncio.StreamReader, framer: Framer, afn: int, timeout: float) -> bool:
    """Wait for the centre's frame with ``afn``; False on timeout or a closed connection."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return False
        try:
            data = await asyncio.wait_for(reader.read(1024), left)
        except TimeoutError:
            return False
        if not data:
            return False
        for piece in framer.feed(data):
            with contextlib.suppress(Exception):
                frame = parse_frame(piece.raw)
                if not frame.control.uplink and frame.afn == afn:
                    return True


async def run_rtu(rtu: VirtualRtu, run: RtuRun) -> None:
    """Connect, log in, report until stopped; on any trouble reconnect and send what is unconfirmed."""
    delay = 0.5
    while not run.stop.is_set():
        writer = None
        try:
            reader, writer = await asyncio.open_connection(run.host, run.port)
            run.progress.connections += 1
            run.progress.connected += 1
            try:
                framer = Framer()
                writer.write(link_check(rtu.address, Link.LOGIN))
                if not await wait_for_answer(reader, framer, Afn.LINK_CHECK, run.confirm_timeout):
                    raise ConnectionError("no answer to the login")
                delay = 0.5
                await _report(rtu, run, reader, writer, framer)
            finally:
                run.progress.connected -= 1
        except (ConnectionError, OSError):
            pass
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
        if not run.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.stop.wait(), delay)
            delay = min(delay * 2, 10)


async def _report(
    rtu: VirtualRtu, run: RtuRun, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, framer: Framer
) -> None:
    idle_since = time.monotonic()
    while not run.stop.is_set():
        if rtu.pending is None:
            rtu.pending = rtu.next_report()
            rtu.fcb = 3
        now = run.now()
        due = rtu.pending[0].ts
        if due > now:  # not due yet: keep the link alive meanwhile
            wait = run.clock.elapsed_at(due) - (time.monotonic() - run.began)
            if time.monotonic() - idle_since > run.keepalive_s:
                writer.write(link_check(rtu.address, Link.KEEP_ALIVE))
                if not await wait_for_answer(reader, framer, Afn.LINK_CHECK, run.confirm_timeout):
                    raise ConnectionError("no answer to the keep-alive")
                idle_since = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.stop.wait(), max(0.001, min(wait, run.keepalive_s)))
            continue
        frame = rtu.frame(rtu.pending, run.zone)
        if await _fault(rtu, writer, frame):
            raise ConnectionError("half a frame sent: the link drops")
        writer.write(frame)
        run.progress.sent += 1
        confirmed = await wait_for_answer(reader, framer, Afn.SELF_REPORT, run.confirm_timeout)
        if confirmed and rtu.fault is RtuFault.DROP_CONFIRMATION and not rtu.faulted:
            rtu.faulted = True
            confirmed = False  # as if it never arrived: the RTU times out and resends
        if not confirmed:
            rtu.fcb = max(0, rtu.fcb - 1)
            run.progress.resent += 1
            raise ConnectionError("no confirmation: send again on a new connection")
        run.progress.confirmed += 1
        for reading in rtu.pending:
            run.progress.confirmed_readings.add((reading.meter_id, reading.ts))
        rtu.pending = None
        idle_since = time.monotonic()


async def _fault(rtu: VirtualRtu, writer: asyncio.StreamWriter, frame: bytes) -> bool:
    """Play the RTU's fault once, before ``frame``; True when the link must drop (half a frame)."""
    if rtu.fault is None or rtu.faulted or rtu.fault is RtuFault.DROP_CONFIRMATION:
        return False
    rtu.faulted = True
    if rtu.fault is RtuFault.BAD_CRC:
        broken = bytearray(frame)
        broken[-2] ^= 0xFF
        writer.write(bytes(broken))
    elif rtu.fault is RtuFault.GARBAGE:
        writer.write(b"AT+CSQ\r\n\x00\xff" + bytes(range(0x10, 0x30)))
    elif rtu.fault is RtuFault.HALF_FRAME:
        writer.write(frame[: len(frame) // 2])
        await writer.drain()
        return True
    return False


def plan_rtus(
    meters: Sequence[VirtualMeter],
    addresses: Mapping[str, tuple[str, int]],
    faults: Sequence[RtuFault] = (),
) -> list[VirtualRtu]:
    """The RTUs the meters are registered on (meter id -> RTU address and channel); the faults go to
    the first RTUs, one each; every other RTU sends the short label, the rest the full one."""
    by_address: dict[str, dict[int, VirtualMeter]] = {}
    for meter in meters:
        if meter.meter_id in addresses:
            address, channel = addresses[meter.meter_id]
            by_address.setdefault(address, {})[channel] = meter
    rtus = []
    for n, (address, channels) in enumerate(sorted(by_address.items())):
        ordered = [channels[c] for c in sorted(channels)]
        fault = faults[n] if n < len(faults) else None
        rtus.append(VirtualRtu(Address.parse(address), ordered, full_label=n % 2 == 1, fault=fault))
    return rtus


async def run_rtus(
    rtus: Sequence[VirtualRtu],
    host: str,
    port: int,
    clock: SimClock,
    zone: ZoneInfo,
    stop: asyncio.Event,
    report: Callable[[RtuProgress, datetime], None] = lambda _p, _t: None,
    report_every: float = 5.0,
    confirm_timeout: float = 10.0,
    keepalive_s: float = 60.0,
    progress: RtuProgress | None = None,
) -> RtuProgress:
    """Run every RTU until ``stop`` is set (``progress``: to watch it from outside while it runs)."""
    progress = progress or RtuProgress()
    run = RtuRun(host, port, clock, time.monotonic(), zone, progress, stop, confirm_timeout, keepalive_s)
    for rtu in rtus:
        rtu.start(clock.start)
    tasks = [asyncio.create_task(run_rtu(rtu, run)) for rtu in rtus]
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), report_every)
        report(progress, run.now())
    await asyncio.gather(*tasks)
    return progress
