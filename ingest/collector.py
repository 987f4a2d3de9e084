"""`intake collect`: MQTT readings into TimescaleDB, each message acknowledged only after its commit.

The MQTT source (``ingest/sources/mqtt.py``) in front of the pipeline (``ingest/pipeline.py``): the
sink starts first (the schema checked, the meters loaded), then the source; on SIGTERM the source
takes nothing new, the pipeline commits and acknowledges what it holds, then the source disconnects.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from infra.database import Database, GaveUp
from infra.settings import redact_url
from ingest.inbox import Inbox
from ingest.logs import log
from ingest.metrics import Metrics
from ingest.pipeline import Pipeline
from ingest.settings import CollectorSettings
from ingest.sources.mqtt import MqttSource


class Collector:
    def __init__(self, settings: CollectorSettings, logger: logging.Logger, metrics: Metrics) -> None:
        self.settings = settings
        self.log = logger
        self.metrics = metrics
        self.stopping = threading.Event()
        self.pipeline = Pipeline(settings, logger, metrics, self.stopping)
        self.source = MqttSource(settings, logger, metrics, self.pipeline.submit, self.stopping)

    @property
    def inbox(self) -> Inbox:
        return self.pipeline.inbox

    @property
    def db(self) -> Database:
        return self.pipeline.db

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        log(self.log, logging.INFO, "stopping: draining what is held", signal=signal.Signals(signum).name)
        self.stopping.set()

    def stop(self) -> None:
        """Ask the collector to drain, commit what it holds and return (what SIGTERM does)."""
        self.stopping.set()

    def run(self, install_signals: bool = True) -> int:
        if install_signals:  # only the main thread may; tests run collectors in threads and call stop()
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)
        self.metrics.serve(self.settings.collector_metrics_port)
        log(
            self.log,
            logging.INFO,
            "collector starting",
            broker=redact_url(self.settings.mqtt_url),
            database=redact_url(self.settings.database_url),
            client_id=self.settings.collector_client_id,
            subscription=self.settings.collector_subscription,
            group=self.settings.collector_group,
            receive_maximum=self.settings.collector_receive_maximum,
            batch_size=self.settings.collector_batch_size,
            metrics_port=self.settings.collector_metrics_port,
        )
        try:
            self.pipeline.start()
        except GaveUp:
            return 1
        self.source.start()
        code = 0
        try:
            self.pipeline.run()
        except GaveUp as exc:
            log(self.log, logging.ERROR, "stopped without acknowledging what is held", error=str(exc))
            code = 1
        finally:
            self.source.stop()
            self.pipeline.close()
        log(self.log, logging.INFO, "collector stopped")
        return code
