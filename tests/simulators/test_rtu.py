"""`intake simulate run --protocol szy206`: the registry's RTU meters as virtual RTUs against the gateway."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from devices import queries as dq
from infra.testbed import register_meters
from simulators.fleet import plan_fleet
from tests.ingest.harness import gateway_settings_for, register_rtu, running_gateway, scalar, wait_until
from tests.intake.test_cli import intake

ZONE = ZoneInfo("Asia/Shanghai")
RTUS = {"S1": ("211321-00012", 1), "S2": ("211321-00012", 2), "S3": ("211322-00007", 1)}


def test_virtual_rtus_report_every_reading_once_through_the_gateway(database_url: str) -> None:
    register_meters(database_url, [*RTUS, "NOT-ON-AN-RTU"], interval_s=3600)
    register_rtu(database_url, RTUS)
    since = datetime.now(ZONE).date() - timedelta(days=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    with running_gateway(gateway_settings_for(database_url)) as gateway:
        command = [sys.executable, "-m", "intake", "simulate", "run", "--protocol", "szy206"]
        options = ["--from", since.isoformat(), "--speed", "100000", "--rtu-faults", "bad_crc,garbage"]
        sim = subprocess.Popen(
            [*command, "--gateway", f"127.0.0.1:{gateway.port}", *options],
            env=env | {"INTAKE_DATABASE_URL": database_url},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            recent = datetime.now(ZONE) - timedelta(hours=2)
            wait_until(
                lambda: all(
                    (scalar(database_url, "SELECT max(ts) FROM readings WHERE meter_id = %s", m) or recent)
                    > recent
                    for m in RTUS
                ),
                timeout=120,
                what="every RTU caught up with the present",
            )
        finally:
            sim.send_signal(signal.SIGINT)
            output = sim.communicate(timeout=60)[0]
    assert sim.returncode == 0, output
    assert "running 2 RTUs for 3 meters" in output
    assert "211321-00012 bad_crc" in output and "211322-00007 garbage" in output
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT meter_id, ts, total_m3 FROM readings ORDER BY meter_id, ts").fetchall()
        reasons = {r for (r,) in conn.execute("SELECT reason FROM rejected_messages")}
        meters, intakes, permits = dq.load_registry(conn)
    fleet = {
        p.meter.meter_id: p.meter
        for p in plan_fleet(meters, intakes, permits, 1, ZONE, datetime(since.year, 1, 1, tzinfo=ZONE))
    }
    start = datetime.combine(since, datetime.min.time(), ZONE)
    for meter_id in RTUS:
        got = [(ts, total) for m, ts, total in stored if m == meter_id]
        virtual = fleet[meter_id].readings(start, got[-1][0] + timedelta(seconds=1))
        # every reading from the start, in place, exactly once; an RTU sends whole m³
        assert got == [(r.ts, int(r.total_m3)) for r in virtual], meter_id
    assert not any(m == "NOT-ON-AN-RTU" for m, _ts, _t in stored)
    assert reasons == {"bad_crc", "garbage"}  # the faults, kept; nothing else refused


def test_without_rtu_meters_or_gateway_it_says_so(database_url: str) -> None:
    register_meters(database_url, ["PLAIN"], interval_s=900)
    done = intake("simulate", "run", "--protocol", "szy206", INTAKE_DATABASE_URL=database_url)
    assert done.returncode == 1
    assert "no active meter has an RTU address" in done.stdout
    register_rtu(database_url, {"PLAIN": ("211321-00001", 1)})
    done = intake(
        "simulate",
        "run",
        "--protocol",
        "szy206",
        "--gateway",
        "127.0.0.1:9",
        "--duration",
        "2",
        INTAKE_DATABASE_URL=database_url,
    )
    assert done.returncode == 1
    assert "no RTU could connect to 127.0.0.1:9" in done.stdout
    done = intake("simulate", "run", "--protocol", "szy206", "--rtu-faults", "lightning")
    assert done.returncode == 2 and "unknown RTU fault lightning" in done.stderr
