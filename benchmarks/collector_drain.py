"""How fast the collector drains a queue of readings into TimescaleDB, against mosquitto_sub's ceiling.

    .venv/bin/python -m benchmarks.collector_drain [--messages 200000] [--per-message 1] [--meters 1000]

A private Mosquitto (the project's tuning) holds N QoS 1 messages for each of three persistent
sessions; then `mosquitto_sub` (C, QoS 1, counting only), `intake collect` (decode, validate, COPY +
upsert, volumes, state, ack after commit) and a naive collector (benchmarks/naive_collector.py) each
take them all. Databases are throwaway ones on the server of INTAKE_DATABASE_URL (durable settings,
as in production). The full benchmark with a live publisher, latencies and collector RSS is
`intake bench ingest` (issue 5).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import psycopg

from benchmarks.report import write_section
from devices.topics import readings_topic
from infra import migrations
from infra.sandbox import PrivateMosquitto
from infra.settings import Settings
from tests.ingest.fleet import register_meters
from tests.mqtt import Subscriber, publish_all

START = datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))


def preload(
    broker: PrivateMosquitto, client_ids: list[str], messages: int, per_message: int, meters: list[str]
) -> None:
    """Queue the same stream for each of ``client_ids`` (persistent sessions, away while it is sent)."""
    for client_id in client_ids:
        Subscriber(broker.url, "meters/+/readings", client_id=client_id, persistent=True).start().stop()
    by_meter: dict[str, list[bytes]] = {m: [] for m in meters}
    for n in range(messages):
        meter = meters[n % len(meters)]
        i = n // len(meters)
        batch = [
            {
                "ts": (START + timedelta(minutes=15 * (i * per_message + k))).isoformat(),
                "total_m3": (i * per_message + k) * 0.5,
            }
            for k in range(per_message)
        ]
        by_meter[meter].append(orjson.dumps(batch[0] if per_message == 1 else batch))
    for meter, payloads in by_meter.items():
        for start in range(0, len(payloads), 20_000):
            publish_all(broker.url, readings_topic(meter), payloads[start : start + 20_000])


def database(admin: str, name: str, meters: list[str]) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(url) as conn:
        migrations.migrate(conn)
    register_meters(url, meters, interval_s=900)
    return url


def drain(url: str, command: list[str], env: dict[str, str], readings: int) -> float:
    """Start a consumer and time it until ``readings`` are stored in ``url``."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            while True:
                row = conn.execute("SELECT count(*) FROM readings").fetchone()
                if row and row[0] >= readings:
                    return time.perf_counter() - started
                if time.perf_counter() - started > 900:
                    raise SystemExit("timed out")
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--per-message", type=int, default=1)
    parser.add_argument("--meters", type=int, default=1000)
    args = parser.parse_args()
    readings = args.messages * args.per_message
    meters = [f"B{n:05d}" for n in range(args.meters)]
    admin = Settings().database_url.rsplit("/", 1)[0] + "/postgres"
    names = [f"intake_bench_{os.getpid()}_ours", f"intake_bench_{os.getpid()}_naive"]
    broker = PrivateMosquitto().start()
    try:
        ours_url, naive_url = (database(admin, n, meters) for n in names)
        ours_id, naive_id = f"collector-{uuid.uuid4().hex[:6]}", f"naive-{uuid.uuid4().hex[:6]}"
        preload(broker, ["ceiling", ours_id, naive_id], args.messages, args.per_message, meters)

        # the ceiling: mosquitto_sub, QoS 1, persistent session, counting only
        started = time.perf_counter()
        subprocess.run(
            [
                "mosquitto_sub",
                "-p",
                str(broker.port),
                "-i",
                "ceiling",
                "-c",
                "-q",
                "1",
                "-t",
                "meters/+/readings",
                "-C",
                str(args.messages),
            ],
            stdout=subprocess.DEVNULL,
            check=True,
        )
        ceiling = time.perf_counter() - started

        env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")} | {
            "INTAKE_DATABASE_URL": ours_url,
            "INTAKE_MQTT_URL": broker.url,
            "INTAKE_COLLECTOR_CLIENT_ID": ours_id,
            "INTAKE_COLLECTOR_METRICS_PORT": "0",
        }
        ours = drain(ours_url, [sys.executable, "-m", "intake", "collect"], env, readings)
        naive = drain(
            naive_url,
            [
                sys.executable,
                "-m",
                "benchmarks.naive_collector",
                naive_url,
                "127.0.0.1",
                str(broker.port),
                naive_id,
            ],
            env,
            readings,
        )
        with psycopg.connect(ours_url) as conn:
            stored = conn.execute("SELECT count(*), count(DISTINCT (meter_id, ts)) FROM readings").fetchone()
    finally:
        broker.destroy()
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in names:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    assert stored is not None
    body = f"""
{args.messages} QoS 1 messages of {args.per_message} reading(s) from {args.meters} meters, queued in Mosquitto
for three persistent sessions, then drained by each consumer in turn (timed from process start, connecting
included; ours and the naive one into databases of their own).

| consumer | time | readings/s | messages/s |
|---|---|---|---|
| `mosquitto_sub` (C, counts only): the ceiling | {ceiling:.1f} s | {readings / ceiling:,.0f} \
| {args.messages / ceiling:,.0f} |
| `intake collect` (stored, rollups, state, ack after commit) | {ours:.1f} s | {readings / ours:,.0f} \
| {args.messages / ours:,.0f} |
| naive: paho + an autocommit INSERT per reading, ack on receipt | {naive:.1f} s | {readings / naive:,.0f} \
| {args.messages / naive:,.0f} |

Collector / ceiling: {ceiling / ours:.2f}; collector / naive: {naive / ours:.1f}. Stored {stored[0]} readings,
{stored[1]} distinct (no loss, no double count).
"""
    write_section(
        f"Collector drain, {args.per_message} reading(s) per message",
        f"python -m benchmarks.collector_drain --messages {args.messages} --per-message "
        f"{args.per_message} --meters {args.meters}",
        body,
    )
    print(body)


if __name__ == "__main__":
    main()
