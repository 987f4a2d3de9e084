from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from infra import migrations
from infra.errors import MigrationError
from infra.migrations import Migration, discover, migrate, pending


def _write(folder: Path, name: str, sql: str) -> None:
    (folder / name).write_text(sql)


def _m(version: int, checksum: str = "c") -> Migration:
    return Migration(version, f"m{version}", "SELECT 1", checksum)


def test_pending_keeps_version_order_and_skips_applied() -> None:
    assert [m.version for m in pending([_m(3), _m(1), _m(2)], {1: "c"})] == [2, 3]


def test_pending_refuses_a_changed_file() -> None:
    with pytest.raises(MigrationError, match=r"0001_m1\.sql was changed after it was applied"):
        pending([_m(1, "new")], {1: "old"})


def test_pending_refuses_a_database_newer_than_the_code() -> None:
    with pytest.raises(MigrationError, match="migration 0002 applied, but no such file"):
        pending([_m(1)], {1: "c", 2: "c"})


def test_discover_rejects_badly_named_and_duplicate_files(tmp_path: Path) -> None:
    _write(tmp_path, "1_readings.sql", "SELECT 1")
    with pytest.raises(MigrationError, match=r"must be named NNNN_lowercase_words\.sql"):
        discover(tmp_path)
    (tmp_path / "1_readings.sql").unlink()
    _write(tmp_path, "0001_a.sql", "SELECT 1")
    _write(tmp_path, "0001_b.sql", "SELECT 1")
    with pytest.raises(MigrationError, match=r"version 0001 is already used by 0001_a\.sql"):
        discover(tmp_path)


def test_project_migrations_are_well_formed() -> None:
    found = discover()
    assert [m.version for m in found] == list(range(1, len(found) + 1))


def _tables(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return [
            (str(t), str(c))
            for t, c in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
            ).fetchall()
        ]


def test_migrate_twice_changes_nothing_the_second_time(empty_database_url: str) -> None:
    with psycopg.connect(empty_database_url) as conn:
        first = migrate(conn)
        schema_after_first = _tables(empty_database_url)
        second = migrate(conn)
        ledger = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert [m.version for m in first] == [m.version for m in discover()]
    assert second == []
    assert _tables(empty_database_url) == schema_after_first
    assert ledger == [(m.version, m.name) for m in discover()]


def test_changed_migration_stops_the_run(empty_database_url: str, tmp_path: Path) -> None:
    _write(tmp_path, "0001_things.sql", "CREATE TABLE things (id int)")
    with psycopg.connect(empty_database_url) as conn:
        migrate(conn, tmp_path)
        _write(tmp_path, "0001_things.sql", "CREATE TABLE things (id bigint)")
        _write(tmp_path, "0002_more.sql", "CREATE TABLE more (id int)")
        with pytest.raises(MigrationError, match=r"0001_things\.sql was changed"):
            migrate(conn, tmp_path)
        assert migrations.applied_versions(conn) == [1]


def test_failed_migration_is_rolled_back_and_not_recorded(empty_database_url: str, tmp_path: Path) -> None:
    _write(tmp_path, "0001_ok.sql", "CREATE TABLE ok (id int)")
    _write(tmp_path, "0002_broken.sql", "CREATE TABLE half (id int); SELECT no_such_column FROM ok;")
    with psycopg.connect(empty_database_url) as conn:
        with pytest.raises(
            MigrationError, match=r"0002_broken.sql failed and was rolled back: .*no_such_column"
        ):
            migrate(conn, tmp_path)
        assert migrations.applied_versions(conn) == [1]
        half = conn.execute("SELECT to_regclass('half')").fetchone()
    assert half == (None,)


def test_readings_store_one_row_per_meter_and_device_time(database_url: str) -> None:
    insert = (
        "INSERT INTO readings (meter_id, ts, total_m3) VALUES (%s, %s, %s) "
        "ON CONFLICT (meter_id, ts) DO NOTHING"
    )
    with psycopg.connect(database_url) as conn:
        conn.execute(insert, ("M1", "2026-05-01T08:00+08", "100.125"))
        conn.execute(insert, ("M1", "2026-05-01T00:00Z", "100.125"))  # the same instant, again
        conn.execute(insert, ("M1", "2026-04-30T08:00+08", "99.5"))  # late, out of order
        conn.execute(insert, ("M2", "2026-05-01T08:00+08", "7"))
        rows = conn.execute("SELECT meter_id, total_m3::text FROM readings ORDER BY meter_id, ts").fetchall()
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO readings (meter_id, ts, total_m3) VALUES ('M3', now(), -1)")
    assert rows == [("M1", "99.5"), ("M1", "100.125"), ("M2", "7")]
