"""A sample county loaded into a scratch database (infra.testbed), for benchmarks."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg

from devices import registry, sample
from devices.calibration import CalibrationPeriods
from devices.sample import SampleRegistry
from devices.workbook import RawTable, headers_for


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
