"""A TCP relay between a client and a server that can fall silent without closing anything.

``partition()`` makes every connection drop what it is sent, in both directions, while both sockets
stay open: packets vanish, no reset, the way a firewall or NAT that lost its state behaves. New
connections made during the partition are just as silent. ``heal()`` lets new connections through
again; the old ones stay silent for good (their state is gone on the far side).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

from infra.sandbox import free_port


@dataclass
class _Pair:
    client: socket.socket
    server: socket.socket
    silent: bool = False


@dataclass
class Relay:
    target_port: int
    port: int = field(default_factory=free_port)
    connections: int = 0
    _partitioned: bool = False
    _pairs: list[_Pair] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _listener: socket.socket | None = None
    _closed: bool = False

    def start(self) -> Relay:
        listener = socket.create_server(("127.0.0.1", self.port))
        self._listener = listener
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def url(self, url: str) -> str:
        """``url`` with its port replaced by the relay's."""
        return url.replace(f":{self.target_port}", f":{self.port}", 1)

    def partition(self) -> None:
        with self._lock:
            self._partitioned = True
            for pair in self._pairs:
                pair.silent = True

    def heal(self) -> None:
        with self._lock:
            self._partitioned = False

    def close(self) -> None:
        self._closed = True
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for pair in self._pairs:
                for sock in (pair.client, pair.server):
                    with contextlib.suppress(OSError):
                        sock.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._closed:
            try:
                client, _addr = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                pair = _Pair(client, server, silent=self._partitioned)
                self._pairs.append(pair)
                self.connections += 1
            threading.Thread(target=self._pump, args=(pair, client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(pair, server, client), daemon=True).start()

    def _pump(self, pair: _Pair, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                if not pair.silent:  # a silent link carries no FIN either
                    for sock in (pair.client, pair.server):
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_RDWR)
                return
            if pair.silent:
                continue  # dropped on the floor
            try:
                sink.sendall(data)
            except OSError:
                return
