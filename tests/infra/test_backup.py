"""Backup and restore: a populated database (a county with readings, rollups, a swept ledger, users)
dumped with `intake db backup`, restored with `intake db restore` into an empty database, holds every
row of every table, its hypertable still one, and the restored service takes readings again."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from api import accounts
from api.auth import Role
from devices.readings import Reading
from infra.sandbox import PrivatePostgres
from ingest.directory import load_meters
from ingest.message import Message, Source
from ingest.store import store
from tests.api.conftest import loaded_county
from tests.conftest import drop_database, fresh_database
from tests.intake.test_cli import intake

TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"


def _contents(url: str) -> dict[str, tuple[int, str]]:
    """Every table's row count and a digest of its rows in a fixed order."""
    with psycopg.connect(url) as conn:
        tables = [t for (t,) in conn.execute(TABLES)]
        out: dict[str, tuple[int, str]] = {}
        for table in tables:
            row = conn.execute(
                f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') "
                f"FROM {table} t"
            ).fetchone()
            assert row is not None
            out[table] = (int(row[0]), str(row[1]))
    return out


def test_a_populated_database_is_restored_whole(postgres: PrivatePostgres, tmp_path: Path) -> None:
    empty = fresh_database(postgres, "template0")
    try:
        with loaded_county(postgres, tmp_path, intakes=12, seed=3) as url:
            with psycopg.connect(url, autocommit=True) as conn:
                accounts.add(conn, "backup-auditor", Role.AUDITOR, "tests")
            before = _contents(url)
            assert before["readings"][0] > 1000 and before["findings"][0] > 0 and before["api_users"][0] == 1
            dump = tmp_path / "intake.dump"
            done = intake("db", "backup", str(dump), INTAKE_DATABASE_URL=url)
            assert done.returncode == 0, done.stderr
            assert "SHA-256" in done.stdout and dump.with_name("intake.dump.sha256").exists()
        target = postgres.url(empty)
        restored = intake("db", "restore", str(dump), INTAKE_DATABASE_URL=target)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        after = _contents(target)
        assert after == before  # every reading, rollup, finding, event and user, row for row
        with psycopg.connect(target) as conn:
            hypertables = conn.execute(
                "SELECT hypertable_name FROM timescaledb_information.hypertables"
            ).fetchall()
            meters = load_meters(conn, ZoneInfo("Asia/Shanghai"))
            meter = sorted(meters)[0]
            newest = conn.execute(
                "SELECT max(ts), max(total_m3) FROM readings WHERE meter_id = %s", (meter,)
            ).fetchone()
            assert newest is not None and newest[0] is not None
            later = Reading(meter, newest[0].replace(year=newest[0].year + 1), Decimal(newest[1]) + 1)
            result = store(
                conn,
                [Message(Source.MQTT, meter, b"{}", datetime.now(later.ts.tzinfo), [later])],
                meters,
                ZoneInfo("Asia/Shanghai"),
            )
            conn.commit()
        assert ("readings",) in hypertables and result.stored == 1
        again = intake("db", "restore", str(dump), INTAKE_DATABASE_URL=target)
        assert again.returncode != 0 and "empty database" in again.stderr  # never over live data
    finally:
        drop_database(postgres, empty)


def test_a_missing_dump_is_said_plainly(database_url: str, tmp_path: Path) -> None:
    done = intake("db", "restore", str(tmp_path / "nope.dump"), INTAKE_DATABASE_URL=database_url)
    assert done.returncode != 0 and "no such file" in done.stderr
