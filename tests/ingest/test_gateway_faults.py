"""kill -9 of the gateway while 200 virtual RTUs send: every confirmed report is stored exactly once.

The RTUs are the simulator's (simulators/rtu.py): stop-and-wait, and a report not confirmed is sent
again on a new connection until it is. The gateway runs as `intake gateway szy206` in a child process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg

from infra.sandbox import free_port, wait_for_port
from infra.testbed import register_meters
from simulators.clock import SimClock
from simulators.meter import VirtualMeter
from simulators.profiles import Kind, Profile
from simulators.rtu import RtuProgress, plan_rtus, run_rtus
from tests.ingest.harness import register_rtu, wait_until
from tests.roles import COLLECTOR, as_role

ZONE = ZoneInfo("Asia/Shanghai")
RTUS = 200


def gateway(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")} | {
        "INTAKE_DATABASE_URL": as_role(url, COLLECTOR),
        "INTAKE_GATEWAY_HOST": "127.0.0.1",
        "INTAKE_GATEWAY_PORT": str(port),
        "INTAKE_GATEWAY_METRICS_PORT": "0",
        "INTAKE_COLLECTOR_BATCH_AGE_MS": "100",
        "INTAKE_COLLECTOR_LOG_FORMAT": "text",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "intake", "gateway", "szy206"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process


def test_kill_9_of_the_gateway_loses_no_confirmed_report_and_counts_none_twice(database_url: str) -> None:
    ids = [f"R{n:03d}" for n in range(RTUS)]
    register_meters(database_url, ids, interval_s=900)
    register_rtu(database_url, {m: (f"211321-{n + 1:05d}", 1) for n, m in enumerate(ids)})
    now = datetime.now(ZONE)
    start = (now - timedelta(hours=30)).replace(minute=0, second=0, microsecond=0)
    epoch = start - timedelta(days=1)
    meters = [
        VirtualMeter(
            m, Profile(Kind.INDUSTRY, n), 20.0, timedelta(minutes=15), ZONE, epoch, Decimal(1000 * n)
        )
        for n, m in enumerate(ids)
    ]
    rtus = plan_rtus(meters, {m: (f"211321-{n + 1:05d}", 1) for n, m in enumerate(ids)})
    port = free_port()
    process = gateway(database_url, port)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    progress = RtuProgress()
    clock = SimClock(start, now, 4000.0)  # 30 hours of reports in about half a minute, then real time

    def fleet() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(
            run_rtus(rtus, "127.0.0.1", port, clock, ZONE, stop, confirm_timeout=5.0, progress=progress)
        )

    def caught_up() -> bool:  # each RTU waits for a report not due yet: it has sent everything
        return all(r.pending is not None and r.pending[0].ts > datetime.now(ZONE) for r in rtus)

    thread = threading.Thread(target=fleet, daemon=True)
    thread.start()
    try:
        wait_until(lambda: progress.confirmed >= 3000, 120, "3,000 confirmed reports")
        process.send_signal(signal.SIGKILL)  # mid-stream: some reports stored, not yet confirmed
        process.wait(10)
        killed_at = progress.confirmed
        time.sleep(1)
        process = gateway(database_url, port)
        wait_until(caught_up, 240, "every RTU caught up with real time")
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
        process.terminate()
        process.wait(30)
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT meter_id, ts FROM readings").fetchall()
        volumes: dict[str, Decimal] = dict(
            conn.execute("SELECT meter_id, sum(volume_m3) FROM daily_volumes GROUP BY 1").fetchall()
        )
        ends = {
            m: (first, last)
            for m, first, last in conn.execute(
                "SELECT meter_id, min(total_m3), max(total_m3) FROM readings GROUP BY 1"
            ).fetchall()
        }
    assert progress.confirmed > killed_at and progress.resent > 0, (
        "reports unconfirmed at the kill were sent again"
    )
    assert len(stored) == len(set(stored))
    assert set(stored) == progress.confirmed_readings  # every confirmed report, and nothing else
    assert len(stored) >= RTUS * 100
    for meter_id, (first, last) in ends.items():  # counted once: the days add up to the register's rise
        assert volumes[meter_id] == last - first, meter_id
