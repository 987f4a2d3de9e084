"""The status sweep on the real database: statuses, transitions, fleet summary, online share; the monitor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg

from anomaly import queries
from tests.devices.registry_files import good_rows, write_workbook
from tests.devices.test_registry import import_file
from tests.intake.test_cli import intake
from tests.roles import MONITOR, as_role

NOW = datetime(2026, 9, 30, 12, tzinfo=UTC)
STATE = (
    "INSERT INTO meter_state (meter_id, last_received_at, last_status, last_status_at) "
    "VALUES (%s, %s, %s, %s)"
)


def fleet(database_url: str, tmp_path: Path) -> None:
    # M-JP-1 reports hourly and was heard 30 min ago: online. M-JP-2 reports daily, last heard 3 days
    # ago: offline (silence). M-BP-1 reports every 15 min and has never reported.
    with psycopg.connect(database_url, autocommit=True) as conn:
        import_file(conn, write_workbook(tmp_path, good_rows()))
        conn.execute(STATE, ("M-JP-1", NOW - timedelta(minutes=30), "online", NOW - timedelta(days=1)))
        conn.execute(STATE, ("M-JP-2", NOW - timedelta(days=3), None, None))


def test_status_sweep_records_transitions_once(database_url: str, tmp_path: Path) -> None:
    fleet(database_url, tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        first = queries.run_status_sweep(conn, NOW, "Asia/Shanghai")
        again = queries.run_status_sweep(conn, NOW, "Asia/Shanghai")
        # the BP meter's last will arrives, then an hour later the JP-1 meter falls silent
        conn.execute(
            "UPDATE meter_state SET last_status = 'offline', last_status_at = %s WHERE meter_id = 'M-BP-1'",
            (NOW + timedelta(minutes=5),),
        )
        later = queries.run_status_sweep(conn, NOW + timedelta(hours=2), "Asia/Shanghai")
        rows = conn.execute(
            "SELECT meter_id, status || ' since ' || status_since FROM meter_state"
        ).fetchall()
        statuses = {str(m): str(s) for m, s in rows}
        summary = queries.fleet_summary(conn)
    assert first == {"never_reported": 1, "online": 1, "offline": 1, "changed": 3}
    assert again is not None and again["changed"] == 0
    assert later == {"never_reported": 0, "online": 0, "offline": 3, "changed": 2}
    assert statuses["M-JP-2"] == "offline since 2026-09-27 12:00:00+00"
    assert statuses["M-JP-1"] == "offline since 2026-09-30 11:30:00+00"  # last contact
    assert summary == [
        {"county": "北票市", "never_reported": 0, "online": 0, "offline": 1, "total": 1},
        {"county": "建平县", "never_reported": 0, "online": 0, "offline": 2, "total": 2},
    ]


def test_online_share_and_completeness_per_day(database_url: str, tmp_path: Path) -> None:
    fleet(database_url, tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO meter_status_changes VALUES ('M-JP-1', '2026-09-29 00:00+08', 'online', 'reading'), "
            "('M-JP-1', '2026-09-29 18:00+08', 'offline', 'silence')"
        )
        conn.execute(
            "INSERT INTO daily_volumes (meter_id, day, volume_m3, readings, coverage, method) "
            "VALUES ('M-JP-1', '2026-09-29', 10, 18, 0.75, 'incomplete')"
        )
    done = intake(
        "meters",
        "daily",
        "--meter",
        "M-JP-1",
        "--from",
        "2026-09-29",
        "--to",
        "2026-09-30",
        "--format",
        "json",
        INTAKE_DATABASE_URL=database_url,
    )
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout) == [
        # 18 of 24 hourly readings; online from midnight to 18:00 of the 24 hours it watched
        {"day": "2026-09-29", "online_share": 0.75, "observed_share": 1.0, "readings": 18,
         "completeness": 0.75, "partial": False},
        {"day": "2026-09-30", "online_share": 0.0, "observed_share": 1.0, "readings": 0, "completeness": 0.0,
         "partial": False},
    ]  # fmt: skip


def test_days_before_the_status_machine_watched_have_no_online_share(
    database_url: str, tmp_path: Path
) -> None:
    """A meter whose readings were stored before the first status sweep ran: 24 of 24 readings, but
    nobody watched whether it was online, so the share is unknown ("—"), not 0."""
    fleet(database_url, tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO daily_volumes (meter_id, day, volume_m3, readings, coverage, method) "
            "VALUES ('M-JP-1', '2026-09-28', 10, 24, 1, 'metered')"
        )
        conn.execute(
            "INSERT INTO meter_status_changes VALUES ('M-JP-1', '2026-09-29 12:00+08', 'online', 'reading')"
        )
    env = {"INTAKE_DATABASE_URL": database_url}
    args = ("meters", "daily", "--meter", "M-JP-1", "--from", "2026-09-28", "--to", "2026-09-29")
    done = intake(*args, "--format", "json", **env)
    assert done.returncode == 0, done.stderr
    first, second = orjson.loads(done.stdout)
    assert (first["online_share"], first["observed_share"], first["completeness"]) == (None, 0.0, 1.0)
    assert (second["online_share"], second["observed_share"]) == (1.0, 0.5)
    table = intake(*args, **env)
    assert "—" in table.stdout.splitlines()[1] and "not watched" in table.stdout


def test_monitor_sweeps_until_sigterm(database_url: str, tmp_path: Path) -> None:
    fleet(database_url, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")} | {
        "INTAKE_DATABASE_URL": as_role(database_url, MONITOR)  # the monitor's own role
    }
    log = tmp_path / "monitor.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "intake", "monitor", "--status-every", "0.5", "--compliance-every", "1"],
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 30
        while log.read_text().count("status:") < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    text = log.read_text()
    assert "compliance:" in text and text.rstrip().endswith("monitor: stopped")
    with psycopg.connect(database_url) as conn:
        swept = conn.execute("SELECT count(*) FROM meter_state WHERE status IS NOT NULL").fetchone()
        findings = conn.execute("SELECT count(*) FROM findings").fetchone()
    assert swept == (3,)
    assert findings is not None and findings[0] > 0  # e.g. M-JP-1's overdue calibration, today


def test_a_23_hour_day_is_fully_online_and_complete(database_url: str, tmp_path: Path) -> None:
    """In a daylight-saving zone the spring day has 23 hours: 23 hourly readings are all of it."""
    fleet(database_url, tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO meter_status_changes VALUES "
            "('M-JP-1', '2026-03-08 00:00 America/New_York', 'online', 'reading')"
        )
        conn.execute(
            "INSERT INTO daily_volumes (meter_id, day, volume_m3, readings, coverage, method) "
            "VALUES ('M-JP-1', '2026-03-08', 23, 23, 1, 'metered')"
        )
    done = intake(
        "meters",
        "daily",
        "--meter",
        "M-JP-1",
        "--from",
        "2026-03-08",
        "--to",
        "2026-03-08",
        "--format",
        "json",
        INTAKE_DATABASE_URL=database_url,
        INTAKE_TIMEZONE="America/New_York",
    )
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout) == [
        {"day": "2026-03-08", "online_share": 1.0, "observed_share": 1.0, "readings": 23, "completeness": 1.0,
         "partial": False}
    ]  # fmt: skip
