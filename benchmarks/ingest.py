"""`intake bench ingest`: our collector against the broker's ceiling and a naive collector, one run.

Everything runs on this machine, in one invocation, on one private broker (the project's Mosquitto
tuning) and one private PostgreSQL cluster with durable settings (fsync on, synchronous commit on)
and ``track_commit_timestamp`` on, so each reading's commit time is known exactly:

1. Backlog: ``--messages`` QoS 1 messages (time-major, as a fleet publishes) are queued once for three
   persistent sessions. Each consumer then drains its copy; its rate is measured from its first
   stored reading to its last (so Python's start-up is not counted; mosquitto_sub, which stores
   nothing, is timed whole):
   - the ceiling: ``mosquitto_sub`` (C) at QoS 1, counting only;
   - ours: ``intake collect`` exactly as shipped (``--collectors N``: N of them on a shared
     subscription);
   - naive: benchmarks/naive_collector.py, an autocommit INSERT per reading.
2. Live: for ``--seconds`` seconds the meters publish in real time at half our measured rate, the
   device time of each reading being its publish time; latency is commit time minus device time.
3. Loss and double counting from the database: every published reading must be stored exactly once,
   and the daily volumes must add up to the totalizer advance.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg

from benchmarks.report import write_section
from benchmarks.stream import LiveStream, backlog, open_sessions, publish
from infra import migrations
from infra.sandbox import PrivateMosquitto, PrivatePostgres
from infra.testbed import register_meters

TOPIC = "meters/+/readings"
DURABLE = {
    "fsync": "on",
    "full_page_writes": "on",
    "synchronous_commit": "on",
    "track_commit_timestamp": "on",
    "shared_buffers": "'512MB'",
    "max_wal_size": "'4GB'",
}


@dataclass
class IngestResult:
    meters: int
    readings_per_message: int
    messages: int
    collectors: int
    ceiling_rate: float
    naive_rate: float
    collector_rate: float
    ratio_to_ceiling: float
    ratio_to_naive: float
    live_rate: float
    live_readings: int
    p50_ms: float
    p99_ms: float
    rss_mb: float
    lost: int
    duplicated: int
    volume_error_m3: float


def _database(cluster: PrivatePostgres, name: str, meters: Sequence[str]) -> str:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = cluster.url(name)
    with psycopg.connect(url) as conn:
        migrations.migrate(conn)
    register_meters(url, meters, interval_s=900)
    return url


def _stored(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
    return int(row[0]) if row else 0


def _timed_drain(url: str, expected: int, alive: Callable[[], bool], timeout: float = 1800) -> float:
    """Readings/s from the first stored reading to the last (polling every 20 ms)."""
    first_seen: tuple[float, int] | None = None
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT count(*) FROM readings").fetchone()
            count, now = int(row[0]) if row else 0, time.monotonic()
            if count and first_seen is None:
                first_seen = (now, count)
            if count >= expected:
                assert first_seen is not None
                return (count - first_seen[1]) / max(now - first_seen[0], 1e-3)
            if not alive() or now > deadline:
                raise RuntimeError(
                    f"consumer stopped or timed out with {count} of {expected} readings stored"
                )
            time.sleep(0.02)


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _ceiling(broker: PrivateMosquitto, messages: int, per_message: int) -> float:
    started = time.perf_counter()
    command = ["mosquitto_sub", "-p", str(broker.port), "-i", "ceiling", "-c", "-q", "1", "-t", TOPIC]
    subprocess.run([*command, "-C", str(messages)], stdout=subprocess.DEVNULL, check=True)
    return messages * per_message / (time.perf_counter() - started)


def _collectors(url: str, broker: PrivateMosquitto, count: int, log: Path) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")} | {
        "INTAKE_DATABASE_URL": url,
        "INTAKE_MQTT_URL": broker.url,
        "INTAKE_COLLECTOR_METRICS_PORT": "0",
        "INTAKE_COLLECTOR_SUBSCRIPTION": "shared" if count > 1 else "direct",
    }
    with log.open("ab") as out:
        return [
            subprocess.Popen(
                [sys.executable, "-m", "intake", "collect"],
                env=env | {"INTAKE_COLLECTOR_CLIENT_ID": f"bench-collector-{n}"},
                stdout=out,
                stderr=out,
            )
            for n in range(count)
        ]


def _latency_ms(url: str, since: datetime) -> tuple[float, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY lag), "
            "percentile_disc(0.99) WITHIN GROUP (ORDER BY lag) FROM ("
            "  SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - ts) * 1000 AS lag"
            "  FROM readings WHERE ts >= %s) l",
            (since,),
        ).fetchone()
    assert row is not None and row[0] is not None, "no live readings stored"
    return float(row[0]), float(row[1])


def _audit(url: str, expected: int, advance: dict[str, float]) -> tuple[int, int, float]:
    """lost, duplicated readings and the volume error: daily volumes against the totalizer advance."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT (meter_id, ts)) FROM readings").fetchone()
        volumes: dict[str, float] = dict(
            conn.execute(
                "SELECT meter_id, sum(volume_m3)::float FROM daily_volumes GROUP BY meter_id"
            ).fetchall()
        )
    assert row is not None
    rows, distinct = int(row[0]), int(row[1])
    error = sum(abs(volumes.get(m, 0.0) - a) for m, a in advance.items())
    return max(expected - distinct, 0), rows - distinct, error


def run(
    meters: int, messages: int, per_message: int, seconds: float, collectors: int, say: Callable[[str], None]
) -> IngestResult:
    ids = [f"B{n:05d}" for n in range(meters)]
    readings = messages * per_message
    cluster = PrivatePostgres(settings=DURABLE).init().start()
    broker = PrivateMosquitto().start()
    log = cluster.root / "collector.log"
    running: list[subprocess.Popen[bytes]] = []
    try:
        say(f"databases and {meters} meters on a private durable cluster")
        ours_url, naive_url = (_database(cluster, n, ids) for n in ("ours", "naive"))
        ours_ids = ["bench-collector-0"] if collectors == 1 else [f"$share-{n}" for n in range(collectors)]
        naive_id = f"naive-{uuid.uuid4().hex[:6]}"
        sessions = ["ceiling", naive_id, *(ours_ids if collectors == 1 else [])]
        open_sessions(broker.url, sessions, TOPIC)
        if collectors > 1:  # the shared group's sessions: start the collectors once so they subscribe
            running = _collectors(ours_url, broker, collectors, log)
            time.sleep(3)
            for p in running:
                p.terminate()
                p.wait(60)
        now = datetime.now(UTC)
        say(f"queueing {messages:,} messages of {per_message} reading(s) (time-major) for each consumer")
        totals: dict[str, tuple[Decimal, Decimal]] = {}
        publish(broker.url, backlog(ids, messages, per_message, now, totals))

        say("ceiling: mosquitto_sub draining its queue")
        ceiling = _ceiling(broker, messages, per_message)
        say(f"  {ceiling:,.0f} readings/s")

        say(f"ours: {collectors} x intake collect draining its queue")
        running = _collectors(ours_url, broker, collectors, log)
        ours = _timed_drain(ours_url, readings, lambda: all(p.poll() is None for p in running))
        say(f"  {ours:,.0f} readings/s")

        live = LiveStream(broker.url, ids, max(ours / per_message / 2, 10), per_message)
        say(f"live: {seconds:.0f} s at {live.rate:,.0f} messages/s, device time = publish time")
        since = live.run(seconds)
        expected = readings + live.sent_readings
        _timed_drain(ours_url, expected, lambda: all(p.poll() is None for p in running), timeout=300)
        p50, p99 = _latency_ms(ours_url, since)
        rss = max(_peak_rss_mb(p.pid) for p in running)
        for p in running:
            p.terminate()
            p.wait(60)
        say(f"  p50 {p50:.0f} ms, p99 {p99:.0f} ms, peak RSS {rss:.0f} MB")

        say("naive: paho + INSERT per reading draining its queue")
        naive_cmd = [sys.executable, "-m", "benchmarks.naive_collector", naive_url, "127.0.0.1"]
        naive_proc = subprocess.Popen(
            [*naive_cmd, str(broker.port), naive_id], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        running = [naive_proc]
        naive = _timed_drain(naive_url, readings, lambda: naive_proc.poll() is None)
        say(f"  {naive:,.0f} readings/s")

        advance = {m: float(live.totals.get(m, last) - first) for m, (first, last) in totals.items()}
        lost, duplicated, error = _audit(ours_url, expected, advance)
    finally:
        for p in running:
            if p.poll() is None:
                p.kill()
        broker.destroy()
        cluster.destroy()
    return IngestResult(
        meters=meters,
        readings_per_message=per_message,
        messages=messages,
        collectors=collectors,
        ceiling_rate=round(ceiling),
        naive_rate=round(naive),
        collector_rate=round(ours),
        ratio_to_ceiling=round(ours / ceiling, 3),
        ratio_to_naive=round(ours / naive, 2),
        live_rate=round(live.rate * per_message),
        live_readings=live.sent_readings,
        p50_ms=round(p50, 1),
        p99_ms=round(p99, 1),
        rss_mb=round(rss, 1),
        lost=lost,
        duplicated=duplicated,
        volume_error_m3=round(error, 6),
    )


def record(result: IngestResult, command: str, json_path: Path | None, to_docs: bool = True) -> str:
    r = result
    body = f"""
{r.messages:,} QoS 1 messages of {r.readings_per_message} reading(s) from {r.meters:,} meters, queued once for
three persistent sessions and drained by each consumer in turn; then {r.live_readings:,} readings published
live at {r.live_rate:,} readings/s for the latency. Private broker (project tuning) and private PostgreSQL
(fsync on, synchronous commit on), all on this machine.

| consumer | readings/s | ratio |
|---|---|---|
| `mosquitto_sub` (C, QoS 1, counts only): the ceiling | {r.ceiling_rate:,.0f} | |
| `intake collect` x {r.collectors} (stored, rollups, state, ack after commit) | {r.collector_rate:,.0f} \
| {r.ratio_to_ceiling:.2f} of the ceiling, {r.ratio_to_naive:.1f}x naive |
| naive: paho + an autocommit INSERT per reading | {r.naive_rate:,.0f} | |

Live, publish to commit: p50 {r.p50_ms:.0f} ms, p99 {r.p99_ms:.0f} ms. Collector peak RSS {r.rss_mb:.0f} MB.
Lost {r.lost}, duplicated {r.duplicated}; daily volumes minus totalizer advance: {r.volume_error_m3} m³.
"""
    name = f"Ingest, {r.readings_per_message} reading(s) per message"
    if to_docs:
        write_section(name + (f", {r.collectors} collectors" if r.collectors > 1 else ""), command, body)
    if json_path is not None:
        json_path.write_text(json.dumps(asdict(r), indent=2) + "\n")
    return body
