"""What one client can make the API hold: request bodies bounded in bytes, expensive routes bounded in
how many run at once.

- **Bodies**: at most ``INTAKE_API_MAX_BODY_KB`` (JSON bodies), or ``INTAKE_API_MAX_UPLOAD_MB`` on the
  upload routes (the registry workbook). A declared ``Content-Length`` above the limit is refused at
  once; a body sent without one is counted as it arrives and refused when it passes the limit.
  Either way the answer is 413 with a problem document, and nothing of the body is kept.
- **Concurrency by route class**: a route that declares ``Depends(limited("report"))`` (compliance,
  annual volumes, the forms' exports, the map, bucketed readings) or ``limited("import")`` runs at most
  ``INTAKE_API_REPORT_CONCURRENCY`` / ``INTAKE_API_IMPORT_CONCURRENCY`` at once; one more is answered
  429 with ``Retry-After`` instead of queueing for the database pool, so expensive requests cannot
  take every connection the cheap ones need.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import TooManyRequests

UPLOAD_PATHS = frozenset(
    {"/api/v1/registry/import", "/api/v1/verify", "/api/v1/reference-lists", "/api/v1/manual-readings"}
)
RETRY_AFTER_S = 5


@dataclass(frozen=True, slots=True)
class BodyLimits:
    body_bytes: int
    upload_bytes: int

    def for_path(self, path: str) -> int:
        return self.upload_bytes if path in UPLOAD_PATHS else self.body_bytes


class _Exceeded(Exception):
    pass


class LimitedBodies:
    """ASGI middleware: 413 for a body beyond the path's limit, whether declared or streamed."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_path(scope.get("path", ""))
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(scope, send, limit)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _Exceeded
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _Exceeded:
            if not started:
                await _refuse(scope, send, limit)


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    import orjson

    body = orjson.dumps(
        {
            "type": "about:blank",
            "title": "Payload Too Large",
            "status": 413,
            "detail": f"the request body is larger than the {_size(limit)} this route takes",
            "instance": scope.get("path", ""),
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/problem+json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n / 2**10:g} KiB"


class RouteClasses:
    """A bounded number of places per route class, taken without waiting."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self._places = {kind: threading.BoundedSemaphore(n) for kind, n in sizes.items()}
        self.sizes = sizes

    def take(self, kind: str) -> threading.BoundedSemaphore:
        places = self._places[kind]
        if not places.acquire(blocking=False):
            raise TooManyRequests(
                f"{self.sizes[kind]} {kind} request(s) are already running; try again in {RETRY_AFTER_S} s",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        return places


def limited(kind: str) -> Callable[[Request], Iterator[None]]:
    """A dependency holding one of the ``kind`` places for the request, or answering 429."""

    def hold(request: Request) -> Iterator[None]:
        places = request.app.state.route_classes.take(kind)
        try:
            yield
        finally:
            places.release()

    hold.route_class = kind  # type: ignore[attr-defined]  # read by the docs test
    return hold
