"""Deliveries received and not yet taken by the pipeline, bounded in bytes: the back-pressure."""

from __future__ import annotations

import threading
from collections import deque

from ingest.message import Delivery


class Inbox:
    """``held`` counts raw bytes from receipt until their batch is committed; beyond ``max_bytes`` a
    source waits (:meth:`put`) or is told to (:meth:`offer`), so TCP stops the sender upstream."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.held = 0
        self._items: deque[Delivery] = deque()
        self._cond = threading.Condition()

    def put(self, item: Delivery, stopping: threading.Event) -> bool:
        """Queue ``item``, waiting for room; False (not queued, so never acknowledged) once stopping."""
        with self._cond:
            while self.held > self.max_bytes and not stopping.is_set():
                self._cond.wait(0.25)
            return self._append(item, stopping)

    def offer(self, item: Delivery, stopping: threading.Event) -> bool | None:
        """Queue ``item`` without waiting: True if queued, None when full (try again), False once
        stopping. For sources on an event loop, which must not block."""
        with self._cond:
            if self.held > self.max_bytes and not stopping.is_set():
                return None
            return self._append(item, stopping)

    def _append(self, item: Delivery, stopping: threading.Event) -> bool:
        if stopping.is_set():
            return False
        self._items.append(item)
        self.held += len(item.raw)
        self._cond.notify_all()
        return True

    def get(self, timeout: float) -> Delivery | None:
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            return self._items.popleft() if self._items else None

    def release(self, nbytes: int) -> None:
        with self._cond:
            self.held -= nbytes
            self._cond.notify_all()

    def __len__(self) -> int:
        return len(self._items)
