"""The collector under systemd: READY=1 once its sinks are up, then WATCHDOG=1 from its write loop
(deploy/systemd/intake-collector.service restarts it when the loop stops turning)."""

from __future__ import annotations

import signal
import socket
import uuid
from pathlib import Path

from infra.sandbox import PrivateMosquitto
from infra.testbed import register_meters
from tests.infra.test_systemd import heard
from tests.ingest.test_faults import collector_process


def test_the_collector_says_ready_then_beats_from_its_write_loop(
    database_url: str, broker: PrivateMosquitto, tmp_path: Path
) -> None:
    register_meters(database_url, ["M1"])
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(30)
        log = tmp_path / "collector.log"
        extra = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"}
        process = collector_process(database_url, broker.url, f"c-{uuid.uuid4().hex[:6]}", log, extra)
        try:
            said = heard(sock, beats=3)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    assert said[0] == "READY=1" and said.count("WATCHDOG=1") >= 3, (said, log.read_text())
    assert process.returncode == 0, log.read_text()
