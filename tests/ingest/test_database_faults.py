"""The database refuses or vanishes for reasons that are not the data's fault: nothing is rejected,
nothing lost, nothing stored twice, and the collector keeps running.

- a grant revoked mid-stream (and restored), and a trigger refusing every meter's rows: systemic,
  retried, zero ``db_refused``;
- one meter's rows refused by the database: rejected alone, the other meters unaffected;
- a schema older than the code: the collector refuses to start and says which migration is missing;
- PostgreSQL stopped for longer than the meter directory's refresh while readings arrive for a meter
  registered meanwhile: the collector waits and stores everything;
- a silent network partition (a relay that stops forwarding without closing), to the database and to
  the broker: noticed within the documented bounds, reconnected, everything stored exactly once.
"""

from __future__ import annotations

import shutil
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
import pytest

from devices.topics import readings_topic
from infra import migrations
from infra.sandbox import PrivateMosquitto, PrivatePostgres
from infra.testbed import register_meters
from tests.conftest import drop_database, fresh_database
from tests.ingest.harness import count, running_collector, scalar, settings_for, wait_until
from tests.ingest.test_faults import collector_process
from tests.mqtt import PacedPublisher, publish_all
from tests.relay import Relay
from tests.roles import COLLECTOR

START = datetime(2026, 3, 1, tzinfo=UTC)


def stream(meters: list[str], per_meter: int) -> list[tuple[str, bytes]]:
    """Every meter's readings, 15 minutes apart, interleaved as a fleet sends them."""
    return [
        (
            readings_topic(m),
            orjson.dumps({"ts": (START + timedelta(minutes=15 * i)).isoformat(), "total_m3": i}),
        )
        for i in range(per_meter)
        for m in meters
    ]


def assert_each_stored_once(url: str, expected: int) -> None:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT (meter_id, ts)) FROM readings").fetchone()
        refused = conn.execute("SELECT count(*) FROM rejected_messages").fetchone()
    assert row == (expected, expected)
    assert refused == (0,)


@pytest.mark.slow
def test_a_revoked_grant_mid_stream_rejects_nothing_and_loses_nothing(
    database_url: str, broker: PrivateMosquitto
) -> None:
    meters = [f"G{n:02d}" for n in range(20)]
    register_meters(database_url, meters)
    messages = stream(meters, 1000)  # 20,000 readings
    with running_collector(settings_for(database_url, broker.url)) as collector:
        publisher = PacedPublisher(broker.url, messages, per_second=1500)
        publisher.start()
        wait_until(lambda: count(database_url, "readings") > 3000, timeout=60, what="3,000 readings")
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(f"REVOKE INSERT ON readings FROM {COLLECTOR}")
            time.sleep(10)
            stalled = count(database_url, "readings")
            admin.execute(f"GRANT INSERT ON readings TO {COLLECTOR}")
        wait_until(
            lambda: publisher.done.is_set() and count(database_url, "readings") == len(messages),
            timeout=120,
            what="every reading after the grant came back",
        )
        refused_grant = collector.metrics.db_systemic.labels("42501")._value.get()
    assert publisher.unacknowledged == []
    assert stalled < len(messages)
    assert refused_grant >= 1
    assert_each_stored_once(database_url, len(messages))


REFUSE_ALL = """
CREATE FUNCTION refuse_readings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.meter_id LIKE %s THEN
        RAISE EXCEPTION 'readings are not taken (a constraint the validation does not know)'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_readings BEFORE INSERT ON readings FOR EACH ROW EXECUTE FUNCTION refuse_readings();
"""


def test_a_refusal_of_every_meter_is_systemic_not_bad_data(
    database_url: str, broker: PrivateMosquitto
) -> None:
    """A data-class error (23514) for the rows of many meters at once is not those rows' fault."""
    meters = [f"T{n}" for n in range(5)]
    register_meters(database_url, meters)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(REFUSE_ALL.replace("%s", "'T%'"))
    messages = stream(meters, 20)
    settings = settings_for(database_url, broker.url, collector_batch_age_ms=2000)  # one batch, all meters
    with running_collector(settings) as collector:
        publisher = PacedPublisher(broker.url, messages, per_second=10_000)
        publisher.start()
        wait_until(lambda: collector.metrics.db_systemic.labels("none")._value.get() >= 2, what="retries")
        held = count(database_url, "readings"), count(database_url, "rejected_messages")
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("DROP TRIGGER refuse_readings ON readings")
        wait_until(lambda: count(database_url, "readings") == len(messages), what="every reading")
    assert held == (0, 0)
    assert_each_stored_once(database_url, len(messages))


def test_one_meters_refused_rows_do_not_stall_the_others(database_url: str, broker: PrivateMosquitto) -> None:
    """An attacker holding one meter's password makes the database refuse every row it sends: those
    are rejected as that meter's own fault; the other meters' readings all land."""
    meters = ["EVIL", "A1", "A2", "A3"]
    register_meters(database_url, meters)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(REFUSE_ALL.replace("%s", "'EVIL'"))
    messages = stream(meters, 50)
    with running_collector(settings_for(database_url, broker.url, collector_batch_size=40)) as collector:
        PacedPublisher(broker.url, messages, per_second=2000).start()
        wait_until(lambda: count(database_url, "readings") == 150, what="the good meters' readings")
        wait_until(lambda: count(database_url, "rejected_messages") == 50, what="EVIL's readings rejected")
        assert collector.metrics.db_systemic.labels("none")._value.get() == 0
    reasons = scalar(database_url, "SELECT array_agg(DISTINCT reason) FROM rejected_messages")
    assert reasons == ["db_refused"]
    others = "SELECT count(*) FROM rejected_messages WHERE topic NOT LIKE 'meters/EVIL/%%'"
    assert scalar(database_url, others) == 0


def test_the_collector_refuses_a_schema_older_than_the_code(
    postgres: PrivatePostgres, broker: PrivateMosquitto, tmp_path: Path
) -> None:
    name = fresh_database(postgres, "template0")
    try:
        older = tmp_path / "migrations"
        older.mkdir()
        available = migrations.discover()
        for m in available[:-1]:
            shutil.copy(migrations.MIGRATIONS_DIR / m.filename, older / m.filename)
        with psycopg.connect(postgres.url(name)) as conn:
            migrations.migrate(conn, older)
        log = tmp_path / "collector.log"
        # as the owner: the older schema has no grants for the collector's role yet
        process = collector_process(
            postgres.url(name), broker.url, f"c-{uuid.uuid4().hex[:6]}", log, role=None
        )
        try:
            assert process.wait(timeout=60) == 1
        finally:
            process.kill()
        said = log.read_text()
        assert available[-1].filename in said and "intake db migrate" in said
        assert "connected to broker" not in said
    finally:
        drop_database(postgres, name)


@pytest.mark.slow
def test_a_database_restart_longer_than_the_directory_refresh_is_waited_out(
    database_url: str, broker: PrivateMosquitto, postgres: PrivatePostgres, tmp_path: Path
) -> None:
    register_meters(database_url, ["KNOWN"])
    log = tmp_path / "collector.log"
    extra = {"INTAKE_COLLECTOR_DIRECTORY_REFRESH_S": "1", "INTAKE_DATABASE_TIMEOUT_S": "5"}
    process = collector_process(database_url, broker.url, f"c-{uuid.uuid4().hex[:6]}", log, extra)
    try:
        wait_until(lambda: "connected to broker" in log.read_text(), what="the collector to connect")
        publish_all(
            broker.url, readings_topic("KNOWN"), [orjson.dumps({"ts": START.isoformat(), "total_m3": 1})]
        )
        wait_until(lambda: count(database_url, "readings") == 1, what="the first reading")
        register_meters(database_url, ["LATE"])  # registered after the collector last read the directory
        postgres.stop(mode="fast")
        try:
            later = [
                orjson.dumps({"ts": (START + timedelta(hours=h)).isoformat(), "total_m3": h}) for h in (1, 2)
            ]
            publish_all(broker.url, readings_topic("LATE"), later)
            publish_all(broker.url, readings_topic("KNOWN"), later)
            time.sleep(4)  # longer than the directory's refresh interval
            assert process.poll() is None, log.read_text()[-3000:]
        finally:
            postgres.start()
        wait_until(
            lambda: count(database_url, "readings") == 5, timeout=90, what="every reading after the restart"
        )
        assert process.poll() is None, log.read_text()[-3000:]
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert count(database_url, "rejected_messages") == 0


@pytest.mark.slow
def test_a_silent_partition_to_the_database_is_noticed_and_nothing_is_lost(
    database_url: str, broker: PrivateMosquitto, postgres: PrivatePostgres
) -> None:
    meters = [f"P{n}" for n in range(10)]
    register_meters(database_url, meters)
    relay = Relay(postgres.port).start()
    messages = stream(meters, 60)  # 600 readings over about 20 s
    try:
        settings = settings_for(relay.url(database_url), broker.url, database_timeout_s=3)
        with running_collector(settings) as collector:
            publisher = PacedPublisher(broker.url, messages, per_second=30)
            publisher.start()
            wait_until(lambda: count(database_url, "readings") >= 60, what="the first readings")
            relay.partition()
            time.sleep(12)  # four database timeouts: each use of a connection is cut after one
            during = count(database_url, "readings")
            cuts_during = collector.db.watchdog.cuts
            relay.heal()
            wait_until(
                lambda: publisher.done.is_set() and count(database_url, "readings") == len(messages),
                timeout=90,
                what="every reading after the network healed",
            )
    finally:
        relay.close()
    assert during < len(messages)
    assert cuts_during >= 1  # the watchdog cut the silent connection: it did not wait on it for good
    assert relay.connections >= 2  # and a fresh one was opened
    assert_each_stored_once(database_url, len(messages))


@pytest.mark.slow
def test_a_silent_partition_to_the_broker_is_noticed_and_nothing_is_lost(
    database_url: str, broker: PrivateMosquitto
) -> None:
    meters = [f"Q{n}" for n in range(10)]
    register_meters(database_url, meters)
    relay = Relay(broker.port).start()
    messages = stream(meters, 60)
    try:
        settings = settings_for(database_url, relay.url(broker.url), mqtt_keepalive_s=5)
        with running_collector(settings):
            publisher = PacedPublisher(broker.url, messages, per_second=30)
            publisher.start()
            wait_until(lambda: count(database_url, "readings") >= 60, what="the first readings")
            relay.partition()
            time.sleep(15)  # three keepalives: the silent link is noticed within two (docs/PROTOCOL.md)
            noticed = relay.connections
            relay.heal()
            wait_until(
                lambda: publisher.done.is_set() and count(database_url, "readings") == len(messages),
                timeout=90,
                what="every reading after the network healed",
            )
    finally:
        relay.close()
    assert noticed >= 2  # keepalive found the silent link and the collector tried a new one
    assert_each_stored_once(database_url, len(messages))
