"""Opening connections to the service's PostgreSQL/TimescaleDB database, and bounding every wait on them.

A network that drops packets without a reset (a firewall or NAT that lost its state, a cable pulled
between hosts) leaves a client waiting on its socket forever. Three bounds apply to every connection a
long-running process (collector, API, monitor) opens here:

- TCP keepalives and ``tcp_user_timeout``: the kernel gives up on a peer that stops acknowledging;
- ``statement_timeout`` and ``idle_in_transaction_session_timeout``: the server gives up on a statement
  or an abandoned transaction;
- :class:`Watchdog`: a deadline on each use of a connection; when it passes, the socket is shut down,
  so the blocked call raises at once even when something between us and the server still acknowledges
  packets (a proxy that went silent). The work is then retried on a fresh connection.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg

from infra.errors import InfraError
from infra.settings import redact_url

T = TypeVar("T")
CONNECT_TIMEOUT_S = 10  # a server that accepts the connection but never answers its startup
Conn = psycopg.Connection[Any]


class DatabaseUnavailable(InfraError):
    """The database could not be reached (transient: retry later)."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """How long a long-running process waits on the database before it gives up on a connection."""

    statement_s: float = 60.0  # a statement (server side) and a use of a connection (client side)
    keepalive_idle_s: int = 10  # TCP keepalive probes after this much silence ...
    keepalive_interval_s: int = 5  # ... this far apart ...
    keepalive_count: int = 3  # ... and the connection is dead after this many unanswered
    user_timeout_s: int = 30  # data unacknowledged this long: the connection is dead
    timezone: str | None = None  # the session's TimeZone, when the process wants one (the collector: UTC)

    def libpq(self) -> dict[str, Any]:
        ms = int(self.statement_s * 1000)
        options = f"-c statement_timeout={ms} -c idle_in_transaction_session_timeout={ms}"
        if self.timezone:
            options += f" -c TimeZone={self.timezone}"
        return {
            "connect_timeout": CONNECT_TIMEOUT_S,
            "keepalives": 1,
            "keepalives_idle": self.keepalive_idle_s,
            "keepalives_interval": self.keepalive_interval_s,
            "keepalives_count": self.keepalive_count,
            "tcp_user_timeout": self.user_timeout_s * 1000,
            "options": options,
        }


def connect(
    url: str, application_name: str = "intake", bounds: Bounds | None = None, **kwargs: object
) -> psycopg.Connection[tuple[object, ...]]:
    """A new connection; raises :class:`DatabaseUnavailable` with the URL (password hidden) on failure.
    With ``bounds`` (long-running processes), keepalives and server-side timeouts are set."""
    params: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT_S,
        **(bounds.libpq() if bounds is not None else {}),
        **kwargs,
    }
    try:
        return psycopg.connect(url, application_name=application_name, **params)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(f"cannot connect to {redact_url(url)}: {reason}") from exc


def timescaledb_version(conn: psycopg.Connection[tuple[object, ...]]) -> str | None:
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return str(row[0]) if row else None


def cut(conn: Conn) -> None:
    """Shut the connection's socket down under whoever is waiting on it: their call raises at once."""
    with contextlib.suppress(OSError, psycopg.Error):
        fd = conn.pgconn.socket
        dup = socket.socket(fileno=os.dup(fd))
        try:
            dup.shutdown(socket.SHUT_RDWR)
        finally:
            dup.close()


class Watchdog:
    """Deadlines on uses of connections, kept by one thread; a use that outlives its deadline has its
    connection cut (:func:`cut`). Cheap enough for every batch and every request."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._guarded: dict[int, Conn] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self.cuts = 0  # how many connections it had to cut

    @contextlib.contextmanager
    def guard(self, conn: Conn, seconds: float) -> Iterator[None]:
        token = next(self._ids)
        with self._wake:
            self._guarded[token] = conn
            heapq.heappush(self._heap, (time.monotonic() + seconds, token))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()
            self._wake.notify()
        try:
            yield
        finally:
            with self._wake:
                self._guarded.pop(token, None)

    def _run(self) -> None:
        with self._wake:
            while True:
                while self._heap and self._heap[0][1] not in self._guarded:
                    heapq.heappop(self._heap)  # finished in time
                if not self._heap:
                    self._wake.wait()
                    continue
                due, token = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._heap)
                conn = self._guarded.pop(token)
                self.cuts += 1
                cut(conn)


class GaveUp(InfraError):
    """The process is stopping and the database did not come back within the shutdown timeout."""


class Database:
    """One connection used only through :meth:`run`: every use is bounded by the watchdog and retried
    with backoff on a fresh connection when it fails for any reason ``retry`` accepts. A process's one
    retrying path to the database (the collector's batches, its meter directory, its start-up checks).
    """

    def __init__(
        self,
        url: str,
        application_name: str,
        bounds: Bounds,
        retry: Callable[[BaseException], bool],
        on_retry: Callable[[str, BaseException, float], None],
        stopping: threading.Event,
        shutdown_timeout_s: float,
    ) -> None:
        self.url = url
        self.application_name = application_name
        self.bounds = bounds
        self.retry = retry
        self.on_retry = on_retry
        self.stopping = stopping
        self.shutdown_timeout_s = shutdown_timeout_s
        self.watchdog = Watchdog()
        self._conn: Conn | None = None
        self._stopping_since: float | None = None

    def run(self, what: str, work: Callable[[Conn], T]) -> T:
        delay = 0.5
        while True:
            try:
                conn = self._connection()
                with self.watchdog.guard(conn, self.bounds.statement_s):
                    return work(conn)
            except Exception as exc:
                if not self.retry(exc):
                    raise
                self.close()  # never trust a connection that failed: the next attempt opens a fresh one
                if self.stopping.is_set():
                    self._stopping_since = self._stopping_since or time.monotonic()
                    if time.monotonic() - self._stopping_since > self.shutdown_timeout_s:
                        raise GaveUp(f"{what}: the database did not come back while stopping") from exc
                self.on_retry(what, exc, delay)
                self._sleep(delay)
                delay = min(delay * 2, 10.0)

    def _connection(self) -> Conn:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.url, self.application_name, self.bounds, autocommit=True)
        return self._conn

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:  # a stop request shortens the wait to the shutdown timeout
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None
