"""What tests and benchmarks set up on the machine's services: a scratch database, meters registered
straight into one (not through the registry import), and `intake api` as a child process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import IO

import psycopg

from infra import migrations
from infra.sandbox import free_port
from infra.settings import Settings

INTAKE = """
INSERT INTO intakes (code, name, owner, county, longitude, latitude, engineering_type, status, source_type,
                     water_use)
VALUES (%s, %s, 'test', '建平县', 119.6, 41.4, '机井', 'built', 'shallow_groundwater', 'irrigation')
ON CONFLICT DO NOTHING"""
METER = """
INSERT INTO meters (meter_id, intake_code, meter_type, online_capable, report_interval_s,
                    totalizer_capacity_m3, installed_on, removed_on)
VALUES (%s, %s, 'electromagnetic', true, %s, %s, '2020-01-01', %s)"""


def register_meters(
    url: str,
    meter_ids: Sequence[str],
    interval_s: int = 900,
    capacity: Decimal | None = Decimal(10) ** 8,
    removed: bool = False,
) -> None:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(INTAKE, [(f"I-{m}", f"intake of {m}") for m in meter_ids])
        cur.executemany(
            METER, [(m, f"I-{m}", interval_s, capacity, "2021-01-01" if removed else None) for m in meter_ids]
        )


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A migrated database on the server of INTAKE_DATABASE_URL, dropped afterwards."""
    admin = Settings().database_url.rsplit("/", 1)[0] + "/postgres"
    name = f"{prefix}_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            migrations.migrate(conn)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def api_server(
    database_url: str, *args: str, log: IO[str] | None = None, env: dict[str, str] | None = None
) -> Iterator[str]:
    """The base URL of a running `intake api` on ``database_url``; stopped (SIGTERM) on exit."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "intake", "api", "--port", str(port), *args],
        env={**os.environ, "INTAKE_DATABASE_URL": database_url, **(env or {})},
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)  # noqa: S310 - our own server
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"intake api exited with {process.returncode}") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
