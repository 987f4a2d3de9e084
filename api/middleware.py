"""One plain ASGI middleware around the app: security headers on every response, and requests
counted and timed by route template. (Starlette's BaseHTTPMiddleware re-streams every body through
a queue; for an 8.6 MB map that cost tens of milliseconds per layer.)"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import API_PREFIX, ApiMetrics

# The dashboard loads nothing from elsewhere, so the browser may refuse anything that tries.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
_ENCODED = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


class Instrumented:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                present = {k.lower() for k, _v in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((k, v) for k, v in _ENCODED if k not in present),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            self._record(scope, status[0], time.perf_counter() - started)

    def _record(self, scope: MutableMapping[str, Any], status: int, seconds: float) -> None:
        # The route's template, not the path, so labels stay few; included routers give it without
        # their prefix, and every included router is under the one API prefix.
        route = getattr(scope.get("route"), "path", None)
        prefix = API_PREFIX if str(scope.get("path", "")).startswith(API_PREFIX + "/") else ""
        template = f"{prefix}{route}" if route else "unmatched"
        self.metrics.requests.labels(scope["method"], template, str(status)).inc()
        self.metrics.seconds.labels(template).observe(seconds)
