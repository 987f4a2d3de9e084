"""`intake bench queries`: what the API and reports ask for, over a year of 15-minute readings.

A private PostgreSQL cluster gets a sample registry (`intake registry sample`) with at least
``--meters`` active meters, ``--days`` days of 15-minute readings for each of them (generated in SQL:
the totalizer grows by a per-meter rate, so the load takes minutes, not hours), their daily volumes
(written in SQL from the readings: this benchmark times reads, not the collector) and meter state.
Then each query runs five times (median reported) next to the baseline a user would otherwise run:
the same answer computed from the raw readings.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from anomaly import queries as aq
from benchmarks.report import write_section
from devices import registry, sample
from devices.calibration import CalibrationPeriods
from devices.workbook import RawTable, headers_for
from infra import migrations
from infra.sandbox import PrivatePostgres
from ingest import reports

ZONE = "Asia/Shanghai"
READINGS = """
INSERT INTO readings (meter_id, ts, received_at, total_m3)
SELECT %(meter)s, t, t, round(((extract(epoch FROM t - %(start)s) / 900) * %(rate)s)::numeric, 3)
FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '15 minutes', interval '15 minutes') t"""
DAYS = """
INSERT INTO daily_volumes (meter_id, day, volume_m3, readings, first_ts, last_ts, coverage, method)
SELECT meter_id, (ts AT TIME ZONE 'Asia/Shanghai')::date, max(total_m3) - min(total_m3), count(*), min(ts),
       max(ts), 1.0, 'metered'
FROM readings GROUP BY 1, 2"""
STATE = """
INSERT INTO meter_state (meter_id, last_reading_ts, last_total_m3, last_received_at, readings_stored, status,
                         status_since)
SELECT DISTINCT ON (meter_id) meter_id, ts, total_m3, received_at, 0, 'online', ts
FROM readings ORDER BY meter_id, ts DESC"""

# Baselines: the same answers from the raw readings.
ANNUAL_RAW = """
SELECT m.intake_code, sum(r.hi - r.lo)
FROM meters m JOIN LATERAL (
    SELECT max(total_m3) AS hi, min(total_m3) AS lo FROM readings
    WHERE meter_id = m.meter_id AND ts >= %s AND ts < %s) r ON true
GROUP BY 1"""
STATUS_RAW = """
SELECT m.meter_id, r.ts, r.received_at FROM meters m LEFT JOIN LATERAL (
    SELECT ts, received_at FROM readings WHERE meter_id = m.meter_id ORDER BY ts DESC LIMIT 1) r ON true
WHERE m.removed_on IS NULL"""
DAYS_RAW = """
SELECT time_bucket('1 day', ts, %s) AS day, max(total_m3) - min(total_m3), count(*)
FROM readings WHERE meter_id = %s AND ts >= %s AND ts < %s GROUP BY 1 ORDER BY 1"""
BUCKETED = """
SELECT time_bucket('1 day', ts, %s) AS day, last(total_m3, ts) - first(total_m3, ts), avg(flow_m3h), count(*)
FROM readings WHERE meter_id = %s AND ts >= %s AND ts < %s GROUP BY 1 ORDER BY 1"""


@dataclass
class Timing:
    name: str
    ms: float
    rows: int
    baseline: str
    baseline_ms: float | None


def _median_ms(action: Callable[[], int], runs: int = 5) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        rows = action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), rows


def _load(
    conn: psycopg.Connection[Any], meters: int, days: int, say: Callable[[str], None]
) -> tuple[int, int]:
    data = sample.generate(int(meters / 0.85) + 10, 1, date.today())  # ~0.9 active meters an intake
    rows = registry.form_rows(
        data.permits, data.intakes, data.meters, data.calibrations, {}, CalibrationPeriods()
    )
    tables = [
        RawTable(t, t.value, headers_for(t), [(n + 2, r) for n, r in enumerate(rs)]) for t, rs in rows.items()
    ]
    registry.apply_plan(conn, registry.plan_import(conn, tables))
    active = [m.meter_id for m in sorted(data.meters, key=lambda m: m.meter_id) if m.is_active][:meters]
    end = datetime.combine(date.today(), datetime.min.time(), UTC)
    start = end - timedelta(days=days)
    started = time.monotonic()
    for n, meter in enumerate(active, 1):
        rate = 0.05 + (n % 97) / 10
        conn.execute(READINGS, {"meter": meter, "start": start, "end": end, "rate": rate})
        if n % 200 == 0 or n == len(active):
            elapsed = time.monotonic() - started
            say(f"  {n:,} of {len(active):,} meters loaded ({n * days * 96 / elapsed:,.0f} readings/s)")
    conn.execute(DAYS)
    conn.execute(STATE)
    conn.execute("ANALYZE")
    count = conn.execute("SELECT count(*) FROM readings").fetchone()
    return len(active), int(count[0]) if count else 0


def run(meters: int, days: int, say: Callable[[str], None]) -> tuple[int, int, list[Timing]]:
    cluster = PrivatePostgres(settings={"shared_buffers": "'1GB'", "max_wal_size": "'8GB'"}).init().start()
    try:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        with psycopg.connect(cluster.url("bench"), autocommit=True) as conn:
            migrations.migrate(conn)
            say(f"loading {meters:,} meters x {days} days of 15-minute readings")
            loaded, readings = _load(conn, meters, days, say)
            today = date.today()
            year_start = datetime.combine(today - timedelta(days=days), datetime.min.time(), UTC)
            year_end = datetime.combine(today, datetime.min.time(), UTC)
            meter = conn.execute("SELECT min(meter_id) FROM meters WHERE removed_on IS NULL").fetchone()
            assert meter is not None
            one = str(meter[0])
            origin = datetime(2000, 1, 1, tzinfo=UTC) - timedelta(hours=8)  # local midnight
            say("timing")
            years = [today.year]
            timings = []
            ours, rows = _median_ms(lambda: len(aq.annual_by_intake(conn, years, today)))
            base, _ = _median_ms(lambda: len(conn.execute(ANNUAL_RAW, (year_start, year_end)).fetchall()), 1)
            timings.append(
                Timing(
                    "annual volume and 数据获取方式, every intake",
                    ours,
                    rows,
                    "max - min of readings per meter",
                    base,
                )
            )
            ours, rows = _median_ms(lambda: len(reports.meter_status(conn, None)))
            base, _ = _median_ms(lambda: len(conn.execute(STATUS_RAW).fetchall()), 1)
            timings.append(
                Timing("status of every meter (meter_state)", ours, rows, "newest reading per meter", base)
            )
            ours, rows = _median_ms(lambda: len(aq.fleet_summary(conn)))
            timings.append(Timing("fleet summary by county", ours, rows, "", None))
            since = today - timedelta(days=days)
            ours, rows = _median_ms(lambda: len(reports.daily_volumes(conn, one, since, today)))
            base, _ = _median_ms(
                lambda: len(conn.execute(DAYS_RAW, (origin, one, year_start, year_end)).fetchall())
            )
            timings.append(
                Timing(
                    "one meter's daily volumes for the period", ours, rows, "time_bucket over readings", base
                )
            )
            ours, rows = _median_ms(
                lambda: len(conn.execute(BUCKETED, (origin, one, year_start, year_end)).fetchall())
            )
            timings.append(Timing("one meter's readings bucketed by day (time_bucket)", ours, rows, "", None))
    finally:
        cluster.destroy()
    return loaded, readings, timings


def record(result: tuple[int, int, list[Timing]], command: str) -> str:
    loaded, readings, timings = result
    lines = [
        f"| {t.name} | {t.ms:,.1f} ms | {t.rows:,} | "
        + (f"{t.baseline}: {t.baseline_ms:,.0f} ms ({t.baseline_ms / t.ms:,.0f}x)" if t.baseline_ms else "")
        + " |"
        for t in timings
    ]
    body = (
        f"{loaded:,} meters with {readings:,} readings (every 15 minutes), their daily volumes and state, in a\n"
        "private PostgreSQL cluster; medians of five runs (baselines: one run).\n\n"
        "| query | ours | rows | baseline from raw readings |\n|---|---|---|---|\n" + "\n".join(lines) + "\n"
    )
    write_section("Queries over a year of readings", command, body)
    return body
