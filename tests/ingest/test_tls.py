"""mqtts:// end to end: meters (the simulator, each with its own password) and the collector talk to
the broker's TLS listener, verifying its certificate against the stack's private CA; a client that
does not trust that CA is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devices import accounts
from infra.sandbox import PrivateMosquitto
from tests.devices.conftest import COLLECTOR, read_issued
from tests.devices.registry_files import good_rows, write_workbook
from tests.devices.test_registry import import_file
from tests.ingest.harness import count, running_collector, settings_for, wait_until
from tests.intake.test_cli import intake


@pytest.fixture
def tls_broker(database_url: str, tmp_path: Path) -> Iterator[tuple[PrivateMosquitto, Path, dict[str, str]]]:
    auth = tmp_path / "auth"
    with psycopg.connect(database_url) as conn:
        import_file(conn, write_workbook(tmp_path, good_rows()))
        issued = accounts.issue(conn, auth, COLLECTOR, [], False).plaintext
    broker = PrivateMosquitto(auth_dir=auth, tls=True).start()
    try:
        assert issued is not None
        yield broker, issued, read_issued(issued)
    finally:
        broker.destroy()


def test_meters_and_the_collector_over_tls_store_everything(
    database_url: str, tls_broker: tuple[PrivateMosquitto, Path, dict[str, str]]
) -> None:
    broker, issued, passwords = tls_broker
    url = broker.tls_url.replace("mqtts://", f"mqtts://{COLLECTOR}:{passwords[COLLECTOR]}@")
    settings = settings_for(database_url, url, mqtt_ca_file=str(broker.ca_file))
    with running_collector(settings) as collector:
        assert collector.metrics.connected._value.get() == 1
        done = intake(
            "simulate",
            "backfill",
            "--from",
            "2026-05-01",
            "--to",
            "2026-05-02",
            "--credentials",
            str(issued),
            INTAKE_DATABASE_URL=database_url,
            INTAKE_MQTT_URL=broker.tls_url,
            INTAKE_MQTT_CA_FILE=str(broker.ca_file),
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "published 121 readings" in done.stdout  # a day: 96 + 24 + 1
        wait_until(lambda: count(database_url, "readings") == 121, what="every reading, over TLS")


def test_a_client_that_does_not_trust_the_ca_is_refused(
    tls_broker: tuple[PrivateMosquitto, Path, dict[str, str]],
) -> None:
    broker, _issued, passwords = tls_broker
    url = broker.tls_url.replace("mqtts://", f"mqtts://{COLLECTOR}:{passwords[COLLECTOR]}@")
    trusting = intake("status", INTAKE_MQTT_URL=url, INTAKE_MQTT_CA_FILE=str(broker.ca_file))
    assert "broker    ok" in trusting.stdout, trusting.stdout
    untrusting = intake("status", INTAKE_MQTT_URL=url)  # the system's CAs do not know ours
    assert "broker    DOWN" in untrusting.stdout and "CERTIFICATE_VERIFY_FAILED" in untrusting.stdout
