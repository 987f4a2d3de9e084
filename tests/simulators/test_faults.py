"""Every fault switched on, a short run against the real collector: each leaves its trace."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import psycopg

from devices.queries import load_registry
from devices.readings import Reading
from infra.sandbox import PrivateMosquitto
from simulators.faults import Fault, inject
from simulators.fleet import plan_fleet
from tests.devices.registry_files import good_rows, write_workbook
from tests.devices.test_registry import import_file
from tests.ingest.harness import count, running_collector, scalar, settings_for, wait_until
from tests.intake.test_cli import intake
from tests.simulators.audit import audit

ZONE = ZoneInfo("Asia/Shanghai")


def test_inject_is_seeded_and_only_adds_what_was_asked() -> None:
    start = datetime(2026, 5, 1, tzinfo=ZONE)
    readings = [Reading("M1", start + timedelta(hours=h), Decimal(h)) for h in range(48)]
    clean = inject("M1", readings, frozenset(), random.Random(1), "M2")
    assert [p.readings for p in clean] == [0] + [1] * 48  # a birth, then one message per reading
    faulty = inject("M1", readings, frozenset(Fault), random.Random(1), "M2", Decimal(10) ** 6)
    assert faulty == inject("M1", readings, frozenset(Fault), random.Random(1), "M2", Decimal(10) ** 6)
    assert {p.topic for p in faulty} == {"meters/M1/readings", "meters/M1/status", "meters/M2/readings"}
    impostor = [p for p in faulty if p.topic == "meters/M2/readings"]
    assert orjson.loads(impostor[0].payload)["meter_id"] == "M1"


def test_every_fault_leaves_its_trace(database_url: str, tmp_path: Path) -> None:
    broker = PrivateMosquitto().start()
    env = {"INTAKE_DATABASE_URL": database_url, "INTAKE_MQTT_URL": broker.url}
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            import_file(conn, write_workbook(tmp_path, good_rows()))
        with running_collector(settings_for(database_url, broker.url)) as collector:
            done = intake(
                "simulate", "backfill", "--from", "2026-05-01", "--to", "2026-05-11", "--faults", "all", **env
            )
            assert done.returncode == 0, done.stderr
            wait_until(lambda: count(database_url, "rejected_messages") >= 9, what="every refusal")
            wait_until(lambda: collector.metrics.conflicts._value.get() >= 3, what="conflicts")
            wait_until(lambda: count(database_url, "meter_status_events") >= 9, what="status events")
    finally:
        broker.destroy()
    with psycopg.connect(database_url) as conn:
        reasons = {r for (r,) in conn.execute("SELECT DISTINCT reason FROM rejected_messages")}
        events = set(conn.execute("SELECT meter_id, kind FROM meter_events").fetchall())
        statuses = {s for (s,) in conn.execute("SELECT DISTINCT status FROM meter_status_events")}
    assert reasons == {"bad_json", "missing_total", "meter_mismatch"}
    assert count(database_url, "reading_conflicts") >= 3  # a conflicting resend from every meter
    # M-JP-1, an irrigation well, draws nothing in the days its register could have passed its capacity
    assert {
        ("M-BP-1", "rollover"),
        ("M-BP-1", "reset"),
        ("M-BP-1", "implausible"),
        ("M-JP-1", "reset"),
        ("M-JP-1", "implausible"),
    } <= events
    assert ("M-JP-1", "rollover") not in events
    assert statuses == {"online", "offline"}
    # every reading of M-BP-1 (10 days every 15 min), stored once despite duplicates and disorder
    assert scalar(database_url, "SELECT count(*) FROM readings WHERE meter_id = 'M-BP-1'") == 960

    # the volume audit: every meter's stored days against what its virtual meter drew; the days a fault
    # made unknowable (the reset, the spike, the stuck totalizer) say so and are not counted
    start, end = datetime(2026, 5, 1, tzinfo=ZONE), datetime(2026, 5, 11, tzinfo=ZONE)
    with psycopg.connect(database_url) as conn:
        fleet = plan_fleet(*load_registry(conn), 1, ZONE, datetime(2026, 1, 1, tzinfo=ZONE))
        problems = [p for planned in fleet for p in audit(conn, planned, start, end, ZONE)]
        flagged = conn.execute(
            "SELECT meter_id, array_agg(DISTINCT f) FROM daily_volumes, unnest(flags) f "
            "WHERE f IN ('reset', 'implausible', 'stuck') GROUP BY 1"
        ).fetchall()
    assert problems == []
    assert {m: set(f) for m, f in flagged} == {
        "M-BP-1": {"reset", "implausible", "stuck"},
        "M-JP-1": {"reset", "implausible", "stuck"},
        "M-JP-2": {"reset", "stuck"},  # ten daily readings: its spike and reset fall on the same one
    }

    swept = intake("check", "--as-of", "2026-05-10", INTAKE_DATABASE_URL=database_url)
    assert swept.returncode == 0, swept.stderr
    with psycopg.connect(database_url) as conn:
        found = set(conn.execute("SELECT intake_code, rule FROM findings").fetchall())
    assert {
        ("I-BP-1", "totalizer_stuck"),
        ("I-BP-1", "over_design_capacity"),
        ("I-BP-1", "totalizer_reset"),
        ("I-JP-1", "totalizer_stuck"),
        ("I-JP-1", "over_design_capacity"),
    } <= found
