"""`intake bench gateway`: SZY 206 frames from many concurrent RTU connections into TimescaleDB.

One invocation, one private PostgreSQL cluster with durable settings (fsync and synchronous commit
on, ``track_commit_timestamp`` on), two databases with the same RTU meters:

1. ours: ``intake gateway szy206`` exactly as shipped (a child process), ``--rtus`` RTUs each on its
   own TCP connection, logging in and then sending ``--frames`` self-reports (AFN C0H, SL/T 427's
   full time label), stop-and-wait as RTUs do: the next frame only after the confirmation of the last
   (a frame not confirmed within the timeout is sent again, up to three times).
2. naive: benchmarks/naive_gateway.py, one blocking connection at a time and an autocommit INSERT
   per reading; the same RTUs, the same frames.

Frames/s from the first frame sent to the last confirmation received. Latency per frame: sent to
confirmation received, on the RTU's side (the confirmation follows the commit), and for ours also
the gateway's receive time to the commit time of the reading's transaction (server side, exact).
Lost: confirmed frames not in the database; duplicated: rows beyond one per (meter, time); and the
daily volumes against the totalizer advance (double counting in the rollups would show there).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from benchmarks.ingest import DURABLE
from benchmarks.report import write_section
from devices.szy206 import Address, Afn, Framer, Link, flow_report, label_at, link_check
from infra import migrations
from infra.sandbox import PrivatePostgres, free_port, wait_for_port
from infra.testbed import register_meters
from simulators.rtu import wait_for_answer

ZONE = ZoneInfo("Asia/Shanghai")
STEP = timedelta(minutes=15)
ATTEMPTS = 3


@dataclass
class Drive:
    """What the RTUs saw."""

    confirmed: set[tuple[str, datetime]] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    first_sent: float = float("inf")
    last_confirmed: float = 0.0
    resent: int = 0
    unconfirmed: int = 0
    login_waits: list[float] = field(default_factory=list)  # connect to login answered

    @property
    def rate(self) -> float:
        return len(self.confirmed) / max(self.last_confirmed - self.first_sent, 1e-9)


@dataclass
class GatewayResult:
    rtus: int
    frames_per_rtu: int
    batch_age_ms: int
    ours_rate: float
    naive_rate: float
    ratio_to_naive: float
    ours_p50_ms: float
    ours_p99_ms: float
    commit_p50_ms: float
    commit_p99_ms: float
    naive_p50_ms: float
    naive_p99_ms: float
    link_ms: int
    ours_login_max_s: float
    naive_login_max_s: float
    resent: int
    lost: int
    duplicated: int
    naive_lost: int
    volume_error_m3: float


def _plan(rtus: int, frames: int, end: datetime) -> list[tuple[str, Address, list[tuple[datetime, int]]]]:
    """Every RTU's meter, address and reports: 15-minute readings ending an hour before ``end``."""
    start = (end - STEP * (frames + 4)).replace(second=0, microsecond=0)
    return [
        (
            f"R{n:05d}",
            Address("211321", n + 1),
            [(start + STEP * i, 1000 * n + 5 * i + (i * i) % 7) for i in range(frames)],
        )
        for n in range(rtus)
    ]


async def _rtu(
    port: int,
    address: Address,
    meter_id: str,
    reports: Sequence[tuple[datetime, int]],
    drive: Drive,
    login_timeout: float,
    timeout: float,
    link_s: float,
) -> None:
    began = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    framer = Framer()
    try:
        writer.write(link_check(address, Link.LOGIN))
        if not await wait_for_answer(reader, framer, Afn.LINK_CHECK, login_timeout):
            drive.unconfirmed += len(reports)
            return
        drive.login_waits.append(time.perf_counter() - began)
        for ts, total in reports:
            if link_s:
                await asyncio.sleep(link_s)  # the radio link's round trip before the next frame
            frame = flow_report(address, [(12.5, total)], label_at(ts.astimezone(ZONE), 0, full=True))
            for attempt in range(ATTEMPTS):
                sent = time.perf_counter()
                drive.first_sent = min(drive.first_sent, sent)
                writer.write(frame)
                if await wait_for_answer(reader, framer, Afn.SELF_REPORT, timeout):
                    now = time.perf_counter()
                    drive.latencies.append(now - sent)
                    drive.last_confirmed = max(drive.last_confirmed, now)
                    drive.confirmed.add((meter_id, ts))
                    break
                drive.resent += attempt < ATTEMPTS - 1
            else:
                drive.unconfirmed += 1
        writer.write(link_check(address, Link.LOGOUT))
        await wait_for_answer(reader, framer, Afn.LINK_CHECK, timeout)
    finally:
        writer.close()


def _drive(
    port: int,
    plan: Sequence[tuple[str, Address, list[tuple[datetime, int]]]],
    sequential: bool,
    link_s: float,
) -> Drive:
    """Every RTU at once, each on its own connection. ``sequential``: the server takes one connection
    at a time, so an RTU may wait for all the others before its login is answered."""
    drive = Drive()
    login_timeout = 3600.0 if sequential else 30.0

    async def main() -> None:
        await asyncio.gather(
            *(
                _rtu(port, address, m, reports, drive, login_timeout, 30.0, link_s)
                for m, address, reports in plan
            )
        )

    asyncio.run(main())
    return drive


def _database(cluster: PrivatePostgres, name: str, plan: Sequence[tuple[str, Address, object]]) -> str:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = cluster.url(name)
    with psycopg.connect(url) as conn:
        migrations.migrate(conn)
    register_meters(url, [m for m, _a, _r in plan], interval_s=900)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            "UPDATE meters SET rtu_address = %s, rtu_channel = 1 WHERE meter_id = %s",
            [(str(address), m) for m, address, _r in plan],
        )
    return url


def _gateway(url: str, port: int, batch_age_ms: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")} | {
        "INTAKE_DATABASE_URL": url,
        "INTAKE_GATEWAY_HOST": "127.0.0.1",
        "INTAKE_GATEWAY_PORT": str(port),
        "INTAKE_GATEWAY_METRICS_PORT": "0",
        "INTAKE_COLLECTOR_BATCH_AGE_MS": str(batch_age_ms),
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "intake", "gateway", "szy206"], env=env, stdout=out, stderr=out
        )
    wait_for_port(port, 60)
    return process


def _percentiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0] * 1000, values[0] * 1000) if values else (0.0, 0.0)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


def _audit(url: str, drive: Drive) -> tuple[int, int, float, tuple[float, float]]:
    """lost, duplicated, the volume error, and receive-to-commit percentiles (ms)."""
    with psycopg.connect(url, autocommit=True) as conn:
        stored = {(m, ts) for m, ts in conn.execute("SELECT meter_id, ts FROM readings")}
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
        advance: dict[str, Decimal] = dict(
            conn.execute("SELECT meter_id, max(total_m3) - min(total_m3) FROM readings GROUP BY 1").fetchall()
        )
        volumes: dict[str, Decimal] = dict(
            conn.execute("SELECT meter_id, sum(volume_m3) FROM daily_volumes GROUP BY 1").fetchall()
        )
        commit = conn.execute(
            "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY lag), "
            "percentile_disc(0.99) WITHIN GROUP (ORDER BY lag) FROM ("
            "  SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - received_at) * 1000 AS lag"
            "  FROM readings) l"
        ).fetchone()
    rows = int(row[0]) if row else 0
    error = sum(abs(volumes.get(m, Decimal(0)) - a) for m, a in advance.items())
    lags = (float(commit[0] or 0), float(commit[1] or 0)) if commit else (0.0, 0.0)
    return len(drive.confirmed - stored), rows - len(stored), float(error), lags


def run(rtus: int, frames: int, batch_age_ms: int, link_ms: int, say: Callable[[str], None]) -> GatewayResult:
    plan = _plan(rtus, frames, datetime.now(ZONE))
    cluster = PrivatePostgres(settings=DURABLE).init().start()
    log = cluster.root / "gateway.log"
    running: list[subprocess.Popen[bytes]] = []
    try:
        say(f"databases and {rtus} RTU meters on a private durable cluster")
        ours_url, naive_url = (_database(cluster, n, plan) for n in ("ours", "naive"))

        say(f"ours: intake gateway szy206, {rtus} RTUs x {frames} frames, stop-and-wait")
        port = free_port()
        running = [_gateway(ours_url, port, batch_age_ms, log)]
        ours = _drive(port, plan, False, link_ms / 1000)
        running[0].terminate()
        running[0].wait(60)
        say(f"  {ours.rate:,.0f} frames/s, {ours.resent} sent again, {ours.unconfirmed} never confirmed")

        say("naive: one blocking connection at a time, an autocommit INSERT per reading")
        port = free_port()
        with log.open("ab") as out:
            naive_proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.naive_gateway", naive_url, str(port)],
                stdout=out,
                stderr=out,
            )
        running = [naive_proc]
        wait_for_port(port, 60)
        naive = _drive(port, plan, True, link_ms / 1000)
        say(f"  {naive.rate:,.0f} frames/s")

        lost, duplicated, error, commit = _audit(ours_url, ours)
        naive_lost = _audit(naive_url, naive)[0]
    finally:
        for p in running:
            if p.poll() is None:
                p.kill()
        cluster.destroy()
    p50, p99 = _percentiles(ours.latencies)
    n50, n99 = _percentiles(naive.latencies)
    return GatewayResult(
        rtus=rtus,
        frames_per_rtu=frames,
        batch_age_ms=batch_age_ms,
        ours_rate=round(ours.rate),
        naive_rate=round(naive.rate),
        ratio_to_naive=round(ours.rate / max(naive.rate, 1e-9), 1),
        ours_p50_ms=round(p50, 1),
        ours_p99_ms=round(p99, 1),
        commit_p50_ms=round(commit[0], 1),
        commit_p99_ms=round(commit[1], 1),
        naive_p50_ms=round(n50, 1),
        naive_p99_ms=round(n99, 1),
        link_ms=link_ms,
        ours_login_max_s=round(max(ours.login_waits, default=0.0), 2),
        naive_login_max_s=round(max(naive.login_waits, default=0.0), 2),
        resent=ours.resent,
        lost=lost + ours.unconfirmed,
        duplicated=duplicated,
        naive_lost=naive_lost + naive.unconfirmed,
        volume_error_m3=round(error, 6),
    )


def record(result: GatewayResult, command: str, to_docs: bool = True) -> str:
    r = result
    frames = r.rtus * r.frames_per_rtu
    body = f"""
{r.rtus:,} RTUs, each on its own TCP connection to the server, log in and send {r.frames_per_rtu} self-reports
(AFN C0H, one flow meter, SL/T 427's 7-byte time label) stop-and-wait, as RTUs do: {frames:,} frames to each
server, each frame {r.link_ms} ms after the last confirmation (the radio link's round trip; 0: loopback
only). Private PostgreSQL (fsync on, synchronous commit on), RTUs, server and database on this machine.

| server | frames/s | sent → confirmed p50 / p99 | longest wait for the login | ratio |
|---|---|---|---|---|
| `intake gateway szy206` (batch age {r.batch_age_ms} ms; stored, rollups, state, status; \
confirmed after the commit) | {r.ours_rate:,.0f} | {r.ours_p50_ms:.0f} / {r.ours_p99_ms:.0f} ms \
| {r.ours_login_max_s:.2f} s | {r.ratio_to_naive:.1f}x naive |
| naive: one blocking connection at a time, an autocommit INSERT per reading | {r.naive_rate:,.0f} \
| {r.naive_p50_ms:.0f} / {r.naive_p99_ms:.0f} ms | {r.naive_login_max_s:.2f} s | |

Ours, the gateway's receive time to the commit of the reading's transaction: p50 {r.commit_p50_ms:.0f} ms,
p99 {r.commit_p99_ms:.0f} ms. Frames sent again after no confirmation in 30 s: {r.resent}.
Lost (confirmed, not stored, or never confirmed) {r.lost}, duplicated {r.duplicated}; daily volumes minus
totalizer advance: {r.volume_error_m3} m³. Naive lost {r.naive_lost}.

What bounds it: each RTU waits for its confirmation before its next frame, so an RTU has at most one
frame in a batch, and ours is about RTUs / round trip ({r.rtus} / {r.ours_p50_ms:.0f} ms \
≈ {r.rtus / max(r.ours_p50_ms, 1e-3) * 1000:,.0f} frames/s).
The gateway commits as soon as no frame waits (group commit; the batch age is only the upper bound),
so a batch holds the frames that arrived during the previous commit, and the round trip is mostly
that commit (storing, rolling up and updating the state of up to {r.rtus} frames) on two cores shared
with the RTUs and PostgreSQL. The naive server does one INSERT round trip per frame while every other
RTU waits for the connection in front of it: in the field, where an RTU gives up on a login after tens
of seconds, most of them would never get in.
"""
    if to_docs:
        write_section("SZY 206 gateway" + (f", {r.link_ms} ms link" if r.link_ms else ""), command, body)
    return body
