"""A live fleet: own connections and passwords, birth and will, an accelerated clock that catches up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from devices import accounts
from devices import queries as dq
from infra.sandbox import PrivateMosquitto
from simulators.clock import SimClock
from simulators.fleet import plan_fleet
from simulators.meter import VirtualMeter
from tests.devices.conftest import COLLECTOR, read_issued
from tests.devices.registry_files import good_rows, write_workbook
from tests.devices.test_registry import import_file
from tests.ingest.harness import running_collector, scalar, settings_for, wait_until
from tests.intake.test_cli import intake

ZONE = ZoneInfo("Asia/Shanghai")


def test_clock_runs_fast_until_it_reaches_real_time() -> None:
    real = datetime(2026, 6, 1, 12, tzinfo=UTC)
    clock = SimClock(real - timedelta(hours=10), real, speed=3601)  # catches up after 10 s
    assert clock.at(0) == real - timedelta(hours=10)
    assert clock.at(5) == real - timedelta(hours=10) + timedelta(seconds=5 * 3601)
    assert clock.at(20) == real + timedelta(seconds=20)  # real time from then on
    assert clock.elapsed_at(real - timedelta(hours=9)) == pytest.approx(3600 / 3601)
    assert clock.elapsed_at(real + timedelta(seconds=30)) == 30
    assert not clock.caught_up(5) and clock.caught_up(20)
    with pytest.raises(ValueError, match="in the future"):
        SimClock(real + timedelta(days=1), real, 10)


def _fleet(database_url: str, epoch: datetime) -> dict[str, VirtualMeter]:
    with psycopg.connect(database_url) as conn:
        meters, intakes, permits = dq.load_registry(conn)
    return {p.meter.meter_id: p.meter for p in plan_fleet(meters, intakes, permits, 1, ZONE, epoch)}


def test_live_fleet_with_credentials_catches_up_and_leaves_wills(database_url: str, tmp_path: Path) -> None:
    """Two days of history at 100,000x, then real time; each meter on its own authenticated
    connection. Every reading of the virtual meters is stored once; a kill -9 of the simulator
    leaves each meter's last will 'offline', after its birth 'online'."""
    auth = tmp_path / "auth"
    with psycopg.connect(database_url) as conn:
        import_file(conn, write_workbook(tmp_path, good_rows()))
        issued = accounts.issue(conn, auth, COLLECTOR, [], False).plaintext
    assert issued is not None
    passwords = read_issued(issued)
    broker = PrivateMosquitto(auth_dir=auth).start()
    since = datetime.now(ZONE).date() - timedelta(days=2)
    collector_url = f"mqtt://{COLLECTOR}:{passwords[COLLECTOR]}@127.0.0.1:{broker.port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")} | {
        "INTAKE_DATABASE_URL": database_url,
        "INTAKE_MQTT_URL": broker.url,
    }
    command = [sys.executable, "-m", "intake", "simulate", "run", "--from", since.isoformat()]
    try:
        with running_collector(settings_for(database_url, collector_url)):
            sim = subprocess.Popen(
                [*command, "--speed", "100000", "--per-message", "8", "--credentials", str(issued)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            try:
                caught_up = datetime.now(UTC) - timedelta(minutes=20)
                wait_until(  # the 15-minute meter has reached the present
                    lambda: (
                        (
                            scalar(database_url, "SELECT max(ts) FROM readings WHERE meter_id = 'M-BP-1'")
                            or caught_up
                        )
                        > caught_up
                    ),
                    timeout=60,
                    what="the simulated clock to catch up",
                )
            finally:
                sim.send_signal(signal.SIGKILL)
                output = sim.communicate(timeout=30)[0]
            wait_until(
                lambda: (
                    scalar(database_url, "SELECT count(*) FROM meter_status_events WHERE status = 'offline'")
                    == 3
                ),
                what="three last wills",
            )
        with psycopg.connect(database_url) as conn:
            events = conn.execute(
                "SELECT meter_id, array_agg(status ORDER BY received_at) FROM meter_status_events "
                "GROUP BY 1 ORDER BY 1"
            ).fetchall()
            stored = conn.execute(
                "SELECT meter_id, ts, total_m3 FROM readings ORDER BY meter_id, ts"
            ).fetchall()
            conflicts = scalar(database_url, "SELECT count(*) FROM reading_conflicts")
    finally:
        broker.destroy()
    assert "running 3 meters" in output and "with its own password" in output
    assert events == [(m, ["online", "offline"]) for m in ("M-BP-1", "M-JP-1", "M-JP-2")]
    meters = _fleet(database_url, datetime(since.year, 1, 1, tzinfo=ZONE))
    start = datetime.combine(since, datetime.min.time(), ZONE)
    for meter_id in ("M-BP-1", "M-JP-1", "M-JP-2"):
        got = [(ts, total) for m, ts, total in stored if m == meter_id]
        virtual = meters[meter_id]
        expected = [(r.ts, r.total_m3) for r in virtual.readings(start, got[-1][0] + timedelta(seconds=1))]
        assert got == expected, meter_id  # every reading from the start, in place, exactly once
    assert conflicts == 0


def test_wrong_passwords_are_refused_and_said(database_url: str, tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    with psycopg.connect(database_url) as conn:
        import_file(conn, write_workbook(tmp_path, good_rows()))
        accounts.issue(conn, auth, COLLECTOR, [], False)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("username,password\n" + "".join(f"{m},not-it\n" for m in ("M-BP-1", "M-JP-1", "M-JP-2")))
    broker = PrivateMosquitto(auth_dir=auth).start()
    try:
        done = intake(
            "simulate",
            "run",
            "--duration",
            "3",
            "--credentials",
            str(wrong),
            INTAKE_DATABASE_URL=database_url,
            INTAKE_MQTT_URL=broker.url,
        )
    finally:
        broker.destroy()
    assert done.returncode == 1
    assert "the broker refused meter M-BP-1" in done.stdout


def test_a_credentials_file_that_is_not_one_is_named(database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(database_url) as conn:
        import_file(conn, write_workbook(tmp_path, good_rows()))
    bad = tmp_path / "passwords.txt"
    bad.write_text("M-BP-1 secret\n")
    done = intake("simulate", "run", "--credentials", str(bad), INTAKE_DATABASE_URL=database_url)
    assert done.returncode == 1
    assert f"{bad}: not an issued-*.csv file" in done.stderr


def test_a_start_in_the_future_is_refused(database_url: str) -> None:
    tomorrow = date.today() + timedelta(days=2)
    done = intake("simulate", "run", "--from", tomorrow.isoformat(), INTAKE_DATABASE_URL=database_url)
    assert done.returncode == 2
    assert "is in the future" in done.stdout


def test_a_speed_below_real_time_is_refused_by_name() -> None:
    done = intake("simulate", "run", "--speed", "0.5")
    assert done.returncode == 2
    assert "argument --speed: 0.5 is below 1" in done.stderr
