"""`intake gateway szy206`: RTUs' SZY 206 frames over TCP into TimescaleDB, through the same pipeline.

The TCP source (``ingest/sources/szy206.py``) runs on an asyncio loop in its own thread; the pipeline
(``ingest/pipeline.py``) on the main thread. The sink starts first (the schema checked, the meters
loaded), then the server; on SIGTERM the server takes no new connection and no connection is read,
the pipeline commits what it holds and queues the last confirmations, and only then are the
connections closed. Why not publish to the broker under each meter's account instead: that would put
every meter's password in the gateway and a second hop before the commit that confirms a frame
(docs/SZY206.md).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from types import FrameType

from infra.database import GaveUp
from infra.settings import redact_url
from ingest.logs import log
from ingest.metrics import Metrics
from ingest.pipeline import Pipeline
from ingest.settings import GatewaySettings
from ingest.sources.szy206 import GatewayMetrics, Szy206Source


class Gateway:
    def __init__(self, settings: GatewaySettings, logger: logging.Logger, metrics: Metrics) -> None:
        self.settings = settings
        self.log = logger
        self.metrics = metrics
        self.stopping = threading.Event()
        self.started = threading.Event()
        self.pipeline = Pipeline(
            settings, logger, metrics, self.stopping, "intake-gateway", settings.gateway_commit_when_idle
        )
        gateway_metrics = GatewayMetrics(metrics)
        limits = self.pipeline.limits
        self.source = Szy206Source(
            settings, logger, gateway_metrics, self.pipeline.offer, self.stopping, limits
        )
        self._failed: list[BaseException] = []

    @property
    def port(self) -> int:
        return self.source.port

    def stop(self) -> None:
        """What SIGTERM does: take nothing new, commit and confirm what is held, close, return."""
        self.stopping.set()

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        log(self.log, logging.INFO, "stopping: draining what is held", signal=signal.Signals(signum).name)
        self.stopping.set()

    def _serve(self) -> None:
        try:
            asyncio.run(self.source.serve(self.started))
        except BaseException as exc:  # the server could not start (port in use): stop the pipeline too
            self._failed.append(exc)
            self.started.set()
            self.stopping.set()

    def run(self, install_signals: bool = True) -> int:
        if install_signals:
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)
        self.metrics.serve(self.settings.gateway_metrics_port)
        log(
            self.log,
            logging.INFO,
            "gateway starting",
            database=redact_url(self.settings.database_url),
            host=self.settings.gateway_host,
            port=self.settings.gateway_port,
            max_connections=self.settings.gateway_max_connections,
            idle_timeout_s=self.settings.gateway_idle_timeout_s,
        )
        try:
            self.pipeline.start()
        except GaveUp:
            return 1
        server = threading.Thread(target=self._serve, name="szy206-server", daemon=True)
        server.start()
        self.started.wait()
        code = 0
        try:
            self.pipeline.run()
        except GaveUp as exc:
            log(self.log, logging.ERROR, "stopped without confirming what is held", error=str(exc))
            code = 1
        finally:
            self.stopping.set()
            self.source.drained()
            server.join(timeout=30)
            self.pipeline.close()
        if self._failed:
            log(self.log, logging.ERROR, "the TCP server failed", error=str(self._failed[0]))
            code = 1
        log(self.log, logging.INFO, "gateway stopped")
        return code
