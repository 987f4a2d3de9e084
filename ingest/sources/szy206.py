"""The SZY 206 source: an asyncio TCP server for RTUs, framing each stream and answering the link.

Per connection: read with a bound (the framer holds at most one frame and a little garbage), cut the
stream into pieces (``devices.szy206.Framer``), and hand every piece to the pipeline, kept whatever
it is. A readable uplink frame binds the connection to its address (the first one it speaks for) and
brings the RTU online; a link check is answered at once; a self-report (C0H, and an alarm 81H) is
confirmed only when the pipeline has committed what it became, so an RTU that resends after a lost
confirmation is stored once (readings are identified by meter and device time). A frame that fails
its CRC or framing is kept but not confirmed: the RTU sends it again. Logout, close or idle timeout
take the RTU offline once its last connection is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge

from devices.readings import Refused, Status
from devices.szy206 import Afn, Cut, Frame, Framer, Link, LinkCheck, Piece, answer, decode_uplink, parse_frame
from ingest.frames import LATE_ALARM, decode_piece, link_status
from ingest.logs import log
from ingest.message import Delivery, Kind, Limits, Lookup, Message, Source
from ingest.metrics import Metrics
from ingest.settings import GatewaySettings

Offer = Callable[[Delivery], "bool | None"]
CONFIRMED_AFNS = frozenset({Afn.SELF_REPORT, 0x81})  # reports the centre confirms
READ_CHUNK = 4096
POLL_S = 0.5  # how often a reading connection looks at the stop flag


@dataclass
class GatewayMetrics:
    metrics: Metrics

    def __post_init__(self) -> None:
        r = self.metrics.registry
        self.connections = Gauge("intake_gateway_connections", "open RTU connections", registry=r)
        self.refused_connections = Counter(
            "intake_gateway_refused_connections",
            "connections closed at once: too many open, or from outside the allowed networks",
            ["why"],
            registry=r,
        )
        self.frames = Counter("intake_gateway_frames", "pieces cut from RTU streams", ["cut"], registry=r)
        self.confirmations = Counter(
            "intake_gateway_confirmations", "confirmations sent after the commit", registry=r
        )
        self.late_frames = Counter(
            "intake_gateway_late_frames", "reports stored after the delay their time label allows", registry=r
        )
        self.idle_closed = Counter(
            "intake_gateway_idle_closed", "connections closed after the idle timeout", registry=r
        )


@dataclass(eq=False)
class _Connection:
    peer: str
    writer: asyncio.StreamWriter
    bound: str | None = None  # the address the connection first spoke for
    online: bool = False
    garbage: int = 0

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)


@dataclass
class Szy206Source:
    settings: GatewaySettings
    log: logging.Logger
    metrics: GatewayMetrics
    offer: Offer
    stopping: threading.Event
    limits: Limits
    links: dict[str, set[_Connection]] = field(default_factory=dict)
    port: int = 0  # once serving: the port it listens on
    _open: set[_Connection] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _loop: asyncio.AbstractEventLoop | None = None
    _drained: asyncio.Event | None = None

    async def serve(self, started: threading.Event) -> None:
        """Serve until stopping and :meth:`drained` has been called (the pipeline has committed and
        confirmed what it held); then close every connection."""
        self._loop = asyncio.get_running_loop()
        self._drained = asyncio.Event()
        server = await asyncio.start_server(
            self._connection, self.settings.gateway_host, self.settings.gateway_port, limit=READ_CHUNK * 4
        )
        self.port = server.sockets[0].getsockname()[1]
        started.set()
        log(self.log, logging.INFO, "gateway listening", port=self.port, host=self.settings.gateway_host)
        async with server:
            while not self.stopping.is_set():
                await asyncio.sleep(POLL_S)
            server.close()  # sources stop first: no new connections
            await self._drained.wait()
            for connection in list(self._open):
                with contextlib.suppress(Exception):
                    connection.writer.close()

    def drained(self) -> None:
        """Called from the pipeline's thread once it has stopped: the last confirmations are queued."""
        if self._loop is not None and self._drained is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                self._loop.call_soon_threadsafe(self._drained.set)

    # --- one connection ----------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")  # None when the peer has already gone
        host, port = peername[:2] if peername else ("unknown", 0)
        connection = _Connection(f"{host}:{port}", writer)
        if len(self._open) >= self.settings.gateway_max_connections or self.stopping.is_set():
            self.metrics.refused_connections.labels("too_many").inc()
            writer.close()
            return
        if not _allowed(host, self.settings.allowed_networks):
            self.metrics.refused_connections.labels("network").inc()
            log(
                self.log,
                logging.WARNING,
                "RTU connection from outside the allowed networks",
                peer=connection.peer,
            )
            writer.close()
            return
        self._open.add(connection)
        self.metrics.connections.set(len(self._open))
        framer = Framer(self.settings.gateway_max_frame_bytes)
        try:
            await self._read(connection, reader, framer)
            for piece in framer.close():  # a half frame at the end is kept too
                await self._piece(connection, piece)
        except (ConnectionError, OSError) as exc:
            log(self.log, logging.INFO, "RTU connection lost", peer=connection.peer, error=str(exc))
        finally:
            self._offline(connection)
            if self.stopping.is_set() and self._drained is not None:
                await self._drained.wait()  # its confirmations go out before it is closed
            self._open.discard(connection)
            self.metrics.connections.set(len(self._open))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.drain(), 5)
                writer.close()

    async def _read(self, connection: _Connection, reader: asyncio.StreamReader, framer: Framer) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.gateway_idle_timeout_s
        limit = self.settings.gateway_max_garbage_kb * 1024
        while not self.stopping.is_set():
            try:
                data = await asyncio.wait_for(reader.read(READ_CHUNK), POLL_S)
            except TimeoutError:
                if loop.time() > deadline:
                    self.metrics.idle_closed.inc()
                    log(
                        self.log,
                        logging.INFO,
                        "RTU idle; closing",
                        peer=connection.peer,
                        rtu=connection.bound,
                    )
                    return
                continue
            if not data:
                return
            deadline = loop.time() + self.settings.gateway_idle_timeout_s
            for piece in framer.feed(data):
                await self._piece(connection, piece)
            if connection.garbage > limit:
                log(
                    self.log,
                    logging.WARNING,
                    "not an RTU: too many bytes outside frames",
                    peer=connection.peer,
                )
                return

    async def _piece(self, connection: _Connection, piece: Piece) -> None:
        self.metrics.frames.labels(str(piece.cut)).inc()
        received_at = datetime.now(UTC)
        if piece.cut is not Cut.FRAME:
            connection.garbage += len(piece.raw)
            await self._submit(self._delivery(connection, piece, received_at))
            return
        try:
            frame = parse_frame(piece.raw)
        except Refused:  # kept with its reason, not confirmed: the RTU sends it again
            await self._submit(self._delivery(connection, piece, received_at))
            return
        if not frame.control.uplink:
            await self._submit(self._delivery(connection, piece, received_at))
            return
        address = str(frame.address)
        if connection.bound is None:
            connection.bound = address
        if address != connection.bound:  # kept (rtu_mismatch, or the same intake's), never answered
            await self._submit(self._delivery(connection, piece, received_at))
            return
        await self._online(connection, received_at)
        ack = self._confirmation(connection, frame) if frame.afn in CONFIRMED_AFNS else _nothing
        await self._submit(self._delivery(connection, piece, received_at, ack))
        if frame.afn == Afn.LINK_CHECK:
            self._link_check(connection, frame)

    def _link_check(self, connection: _Connection, frame: Frame) -> None:
        try:
            said = decode_uplink(frame)
        except Refused:
            return  # kept by the pipeline with its reason
        connection.send(answer(frame, self.settings.gateway_password))  # a link check needs no commit
        if isinstance(said, LinkCheck) and said.link is Link.LOGOUT:
            self._offline(connection)

    def _confirmation(self, connection: _Connection, frame: Frame) -> Callable[[], None]:
        reply = answer(frame, self.settings.gateway_password)

        def confirm() -> None:  # called on the pipeline's thread after the commit
            if self._loop is None:
                return
            with contextlib.suppress(RuntimeError):  # the loop has ended: the RTU resends, stored once
                self._loop.call_soon_threadsafe(self._confirm, connection, reply)

        return confirm

    def _confirm(self, connection: _Connection, reply: bytes) -> None:
        connection.send(reply)
        self.metrics.confirmations.inc()

    # --- status ------------------------------------------------------------------------------------
    async def _online(self, connection: _Connection, at: datetime) -> None:
        if connection.online or connection.bound is None:
            return
        connection.online = True
        links = self.links.setdefault(connection.bound, set())
        links.add(connection)
        if len(links) == 1:
            await self._submit(self._status(connection.bound, Status.ONLINE, connection.peer, at))

    def _offline(self, connection: _Connection) -> None:
        if not connection.online or connection.bound is None:
            return
        connection.online = False
        links = self.links.get(connection.bound, set())
        links.discard(connection)
        if not links:
            self.links.pop(connection.bound, None)
            if not self.stopping.is_set():  # a gateway that stops takes nothing new, offline neither
                status = self._status(connection.bound, Status.OFFLINE, connection.peer, datetime.now(UTC))
                task = asyncio.get_running_loop().create_task(self._submit(status))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _status(self, address: str, status: Status, peer: str, at: datetime) -> Delivery:
        def decode(lookup: Lookup, _limits: Limits) -> list[Message]:
            return link_status(address, status, at, peer, lookup)

        return Delivery(Source.SZY206, Kind.STATUS, None, b"", at, decode)

    # --- handing over --------------------------------------------------------------------------------
    def _delivery(
        self,
        connection: _Connection,
        piece: Piece,
        received_at: datetime,
        ack: Callable[[], None] | None = None,
    ) -> Delivery:
        bound, peer = connection.bound, connection.peer

        def decode(lookup: Lookup, limits: Limits) -> list[Message]:
            messages = decode_piece(piece.cut, piece.raw, received_at, peer, bound, lookup, limits)
            late = sum(1 for m in messages for r in m.readings if LATE_ALARM in r.alarms)
            if late:
                self.metrics.late_frames.inc(late)
            return messages

        return Delivery(Source.SZY206, Kind.READING, None, piece.raw, received_at, decode, ack or _nothing)

    async def _submit(self, delivery: Delivery) -> None:
        """Hand over, waiting (without blocking the loop) while the pipeline's inbox is full: the
        connection is not read meanwhile, so TCP slows the RTU."""
        while True:
            queued = self.offer(delivery)
            if queued is not None:
                return  # False: stopping; it is not confirmed, and the RTU sends it again
            await asyncio.sleep(0.05)


def _nothing() -> None:
    pass


def _allowed(host: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)
