"""A backfill through the real broker and collector stores exactly what the virtual meters read."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from devices import queries as dq
from devices.model import Intake, Meter, Permit
from infra.sandbox import PrivateMosquitto
from simulators.fleet import plan_fleet
from tests.devices.registry_files import good_rows, write_workbook
from tests.devices.test_registry import import_file
from tests.ingest.harness import count, running_collector, settings_for, wait_until
from tests.intake.test_cli import intake

ZONE = ZoneInfo("Asia/Shanghai")


def test_backfill_two_days_is_stored_exactly(database_url: str, tmp_path: Path) -> None:
    broker = PrivateMosquitto().start()
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            import_file(conn, write_workbook(tmp_path, good_rows()))
            meters = [dq.record_from_row(Meter, r) for r in conn.execute(dq.select_all(Meter))]
            intakes = {
                i.code: i
                for i in (dq.record_from_row(Intake, r) for r in conn.execute(dq.select_all(Intake)))
            }
            permits = {
                p.permit_no: p
                for p in (dq.record_from_row(Permit, r) for r in conn.execute(dq.select_all(Permit)))
            }
        with running_collector(settings_for(database_url, broker.url)):
            done = intake(
                "simulate",
                "backfill",
                "--from",
                "2026-05-01",
                "--to",
                "2026-05-03",
                INTAKE_DATABASE_URL=database_url,
                INTAKE_MQTT_URL=broker.url,
            )
            assert done.returncode == 0, done.stderr
            # two days: M-BP-1 every 15 min (192), M-JP-1 hourly (48), M-JP-2 daily (2)
            assert "published 242 readings in 242 messages" in done.stdout
            wait_until(lambda: count(database_url, "readings") == 242, what="242 readings")
        with psycopg.connect(database_url) as conn:
            stored = conn.execute(
                "SELECT volume_m3, method FROM daily_volumes WHERE meter_id = 'M-BP-1' AND day = '2026-05-01'"
            ).fetchone()
    finally:
        broker.destroy()
    fleet = {
        p.meter.meter_id: p
        for p in plan_fleet(meters, intakes, permits, 1, ZONE, datetime(2026, 1, 1, tzinfo=ZONE))
    }
    virtual = fleet["M-BP-1"].meter
    expected = virtual.total_at(datetime(2026, 5, 2, tzinfo=ZONE)) - virtual.total_at(
        datetime(2026, 5, 1, tzinfo=ZONE)
    )
    assert stored == (expected, "metered")
    assert expected > 0  # an industrial intake on a Friday
