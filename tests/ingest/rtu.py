"""An RTU's side of a TCP link to the gateway, for tests: send bytes, read the centre's frames."""

from __future__ import annotations

import socket
import time

from devices.szy206 import Cut, Frame, Framer, parse_frame


class RtuLink:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.framer = Framer()
        self.frames: list[Frame] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self, timeout: float = 10.0) -> Frame | None:
        """The next frame from the centre, or None when none came in ``timeout`` (or the link closed)."""
        deadline = time.monotonic() + timeout
        while not self.frames:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                return None
            if not data:
                return None
            self.frames += [parse_frame(p.raw) for p in self.framer.feed(data) if p.cut is Cut.FRAME]
        return self.frames.pop(0)

    def closed(self, timeout: float = 10.0) -> bool:
        """True once the gateway has closed the link."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096) == b""
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()
