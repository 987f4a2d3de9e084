"""A throwaway database beside the service's, and a sample county loaded into it, for benchmarks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import psycopg

from devices import registry, sample
from devices.calibration import CalibrationPeriods
from devices.sample import SampleRegistry
from devices.workbook import RawTable, headers_for
from infra import migrations
from infra.settings import Settings


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


def load_sample(conn: psycopg.Connection[Any], intakes: int, today: date) -> SampleRegistry:
    """`intake registry sample --intakes N --seed 1`, imported as the registry import does."""
    data = sample.generate(intakes, 1, today)
    rows = registry.form_rows(
        data.permits, data.intakes, data.meters, data.calibrations, {}, CalibrationPeriods()
    )
    tables = [
        RawTable(t, t.value, headers_for(t), [(n + 2, r) for n, r in enumerate(rs)]) for t, rs in rows.items()
    ]
    registry.apply_plan(conn, registry.plan_import(conn, tables))
    return data
