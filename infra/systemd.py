"""systemd's notify protocol (sd_notify(3)), without a library: READY=1 once a process serves, and
WATCHDOG=1 from its main loop, so a unit with ``Type=notify`` and ``WatchdogSec=`` is restarted when
the loop stops turning (a hung database call, a deadlock), not only when the process exits.

Outside systemd (no ``NOTIFY_SOCKET``) every call is a cheap no-op.
"""

from __future__ import annotations

import os
import socket
import time


def notify(state: str) -> bool:
    """Send ``state`` to systemd; False when not run by systemd (or the socket is gone)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(state.encode(), address)
    except OSError:
        return False
    return True


class Heartbeat:
    """WATCHDOG=1 from a loop, at most once per half the unit's watchdog interval (``WATCHDOG_USEC``,
    which systemd sets; 10 s when it does not)."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        usec = os.environ.get("WATCHDOG_USEC", "")
        self.every = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else 10.0
        self._last = 0.0

    def ready(self) -> None:
        if self.enabled:
            notify("READY=1")

    def beat(self) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            notify("WATCHDOG=1")

    def stopping(self) -> None:
        if self.enabled:
            notify("STOPPING=1")
