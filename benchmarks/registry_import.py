"""Registry import speed: our path (openpyxl streaming, COPY + upsert, one transaction) against a
straightforward one (pandas.read_excel, one INSERT ... ON CONFLICT per row), same file, same database.

    .venv/bin/python -m benchmarks.registry_import [--intakes 20000] [--seed 1]

Uses a throwaway database on the server of INTAKE_DATABASE_URL (created and dropped here).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg

from benchmarks.report import write_section
from devices import queries, registry, sample
from devices.calibration import CalibrationPeriods
from devices.model import Calibration, Intake, Meter, Permit
from devices.workbook import read_files, write_xlsx
from infra import migrations
from infra.settings import Settings

TODAY = date(2026, 11, 29)


def timed(step: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = step(*args, **kwargs)
    return time.perf_counter() - start, result


def naive_write(conn: psycopg.Connection[Any], plan: registry.Plan) -> None:
    """One INSERT ... ON CONFLICT DO UPDATE per record, in one transaction: what one writes first."""
    with conn.transaction(), conn.cursor() as cur:
        for kind, records in (
            (Permit, plan.permits.writes),
            (Intake, plan.intakes.writes),
            (Meter, plan.meters.writes),
            (Calibration, plan.calibrations.writes),
        ):
            table, columns, key = queries.TABLE_OF[kind]
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
                f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
            )
            for record in records:
                cur.execute(sql, queries.row_from_record(record))


def fresh_db(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(url) as conn:
        migrations.migrate(conn)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--intakes", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    settings = Settings()
    admin = settings.database_url.rsplit("/", 1)[0] + "/postgres"
    work = Path(tempfile.mkdtemp(prefix="intake-bench-"))
    data = sample.generate(args.intakes, args.seed, TODAY)
    rows = registry.form_rows(
        data.permits, data.intakes, data.meters, data.calibrations, {}, CalibrationPeriods()
    )
    xlsx = work / "registry.xlsx"
    write_xlsx(xlsx, rows)
    total_rows = sum(len(r) for r in rows.values())
    print(f"{args.intakes} intakes, {total_rows} rows in all, {xlsx.stat().st_size / 1e6:.1f} MB", flush=True)

    ours_read, (tables, _w) = timed(read_files, [xlsx], lambda *_: None)
    pandas_read, _frames = timed(pd.read_excel, xlsx, sheet_name=None)
    print(f"read: ours {ours_read:.2f} s, pandas.read_excel {pandas_read:.2f} s", flush=True)

    results = {}
    for name, write in (("ours", registry.apply_plan), ("naive", naive_write)):
        url = fresh_db(admin, f"intake_bench_{os.getpid()}")
        with psycopg.connect(url) as conn:
            check, plan = timed(registry.plan_import, conn, tables)
            seconds, _ = timed(write, conn, plan)
            again, plan2 = timed(registry.plan_import, conn, tables)
        results[name] = (check, seconds, again, len(plan2.intakes.created) + len(plan2.intakes.updated))
        print(
            f"{name}: validate+diff {check:.2f} s, write {seconds:.2f} s, re-check {again:.2f} s", flush=True
        )
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE intake_bench_{os.getpid()} WITH (FORCE)")

    ours, naive = results["ours"], results["naive"]
    first_import = ours_read + ours[0] + ours[1]
    body = f"""
{args.intakes} intakes from `intake registry sample --seed {args.seed}`: {total_rows} rows in all
({len(data.permits)} permits, {len(data.meters)} meters, {len(data.calibrations)} calibrations),
a {xlsx.stat().st_size / 1e6:.1f} MB workbook.

| step | ours | baseline | ratio |
|---|---|---|---|
| read the workbook | {ours_read:.2f} s (python-calamine) | {pandas_read:.2f} s (`pandas.read_excel`) \
| {pandas_read / ours_read:.1f}× |
| validate + compare with the database | {ours[0]:.2f} s | — | |
| write, one transaction | {ours[1]:.2f} s (COPY + upsert) | {naive[1]:.2f} s (INSERT per row) \
| {naive[1] / ours[1]:.1f}× |
| **first import, end to end** | **{first_import:.1f} s** | {pandas_read + naive[0] + naive[1]:.1f} s | |
| second import: check, all unchanged | {ours_read + ours[2]:.1f} s ({ours[3]} intakes to write) | | |
"""
    write_section("Registry import", f"python -m benchmarks.registry_import --intakes {args.intakes}", body)
    print(body)


if __name__ == "__main__":
    main()
