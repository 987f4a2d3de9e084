"""The harness itself gives real TimescaleDB and real Mosquitto."""

from __future__ import annotations

import psycopg

from infra.sandbox import PrivatePostgres
from tests.conftest import drop_database, fresh_database


def test_readings_is_a_hypertable(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT num_dimensions FROM timescaledb_information.hypertables "
            "WHERE hypertable_name = 'readings'"
        ).fetchone()
        chunk = conn.execute(
            "SELECT time_interval FROM timescaledb_information.dimensions WHERE hypertable_name = 'readings'"
        ).fetchone()
    assert row == (1,)
    assert chunk is not None and str(chunk[0]) == "7 days, 0:00:00"


def test_each_test_gets_its_own_database(database_url: str, postgres: PrivatePostgres) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO readings (meter_id, ts, total_m3) VALUES ('M1', now(), 1)")
        conn.commit()
    other = fresh_database(postgres)
    try:
        with psycopg.connect(postgres.url(other)) as conn:
            count = conn.execute("SELECT count(*) FROM readings").fetchone()
    finally:
        drop_database(postgres, other)
    assert count == (0,)


def test_database_survives_a_crash_restart(postgres: PrivatePostgres, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO readings (meter_id, ts, total_m3) VALUES ('M1', '2026-01-01T00:00+08', 5.25)"
        )
        conn.commit()
    postgres.restart(mode="immediate")
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT meter_id, total_m3::text FROM readings").fetchall()
    assert rows == [("M1", "5.25")]
