"""The `intake` command as a user runs it: a real process, real database and broker."""

from __future__ import annotations

import os
import subprocess
import sys

from infra.sandbox import PrivateMosquitto, PrivatePostgres, free_port


def intake(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return intake_within(60, *args, **env)


def intake_within(seconds: float, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``intake ARGS`` with only the given INTAKE_* variables; fail after ``seconds``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")} | env
    return subprocess.run(
        [sys.executable, "-m", "intake", *args], capture_output=True, text=True, env=full_env, timeout=seconds
    )


def test_help_lists_the_subcommands() -> None:
    done = intake("--help")
    assert done.returncode == 0
    for command in ("status", "db", "stack"):
        assert f"    {command} " in done.stdout


def test_db_migrate_twice_applies_nothing_the_second_time(empty_database_url: str) -> None:
    first = intake("db", "migrate", INTAKE_DATABASE_URL=empty_database_url)
    second = intake("db", "migrate", INTAKE_DATABASE_URL=empty_database_url)
    status = intake("db", "status", INTAKE_DATABASE_URL=empty_database_url)
    assert first.returncode == 0, first.stderr
    assert "applying 0001_readings.sql" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "schema is up to date: nothing to apply" in second.stdout
    assert "applied  0001_readings.sql" in status.stdout
    assert "0 pending" in status.stdout


def test_status_reports_every_part(database_url: str, mosquitto: PrivateMosquitto) -> None:
    done = intake("status", INTAKE_DATABASE_URL=database_url, INTAKE_MQTT_URL=mosquitto.url)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("database  ok") and "TimescaleDB 2." in lines[0]
    assert lines[1] == f"broker    ok    {mosquitto.url}"


def test_status_says_what_is_down_and_fails(postgres: PrivatePostgres) -> None:
    dead_port = free_port()
    done = intake(
        "status",
        INTAKE_DATABASE_URL=f"postgresql://postgres:pw@127.0.0.1:{dead_port}/intake",
        INTAKE_MQTT_URL=f"mqtt://meter:secret@127.0.0.1:{dead_port}",
    )
    assert done.returncode == 1
    assert (
        f"database  DOWN  cannot connect to postgresql://postgres:***@127.0.0.1:{dead_port}/intake"
        in done.stdout
    )
    assert "broker    DOWN  cannot reach" in done.stdout
    assert "secret" not in done.stdout + done.stderr
    assert ":pw@" not in done.stdout + done.stderr


def test_bad_setting_is_named_with_its_variable() -> None:
    done = intake("db", "migrate", INTAKE_TIMEZONE="Mars/Olympus")
    assert done.returncode == 1
    assert done.stderr.startswith("intake: bad setting: INTAKE_TIMEZONE: Value error, unknown time zone")


def test_migrate_against_a_missing_database_fails_clearly(postgres: PrivatePostgres) -> None:
    done = intake("db", "migrate", INTAKE_DATABASE_URL=postgres.url("no_such_db"))
    assert done.returncode == 1
    assert 'database "no_such_db" does not exist' in done.stderr
