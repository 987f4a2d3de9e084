"""The volume audit: what the service stored per meter and local day against what the virtual meter
truly drew. A day may differ only when a fault made its volume unknowable, and then it must say so
(flagged reset, implausible or stuck) and must not count as known."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from infra.calendar import day_bounds, days_between, local_day
from simulators.fleet import Planned

UNKNOWABLE = {"reset", "implausible", "stuck"}
ML = Decimal("0.000001")

DAYS = """
SELECT day, volume_m3, flags, known FROM daily_volumes WHERE meter_id = %s AND day BETWEEN %s AND %s
ORDER BY day"""


def audit(
    conn: psycopg.Connection[Any], planned: Planned, start: datetime, end: datetime, zone: ZoneInfo
) -> list[str]:
    """What is wrong with the stored days of ``planned``'s meter over [start, end): nothing, ideally.
    Only the days wholly between its first and last reading there are judged."""
    meter = planned.meter
    readings = list(meter.readings(start, end))
    if len(readings) < 2:
        return []
    first, last = readings[0].ts, readings[-1].ts
    truth = replace(meter, capacity=None)  # the water drawn, unwrapped
    wanted = [
        d
        for d in days_between(local_day(first, zone), local_day(last, zone))
        if day_bounds(d, zone)[0] >= first and day_bounds(d, zone)[1] <= last
    ]
    if not wanted:
        return []
    stored = {
        day: (volume, set(flags), known)
        for day, volume, flags, known in conn.execute(DAYS, (meter.meter_id, wanted[0], wanted[-1]))
    }
    problems = []
    for day in wanted:
        if day not in stored:
            problems.append(f"{meter.meter_id} {day}: no stored volume")
            continue
        volume, flags, known = stored[day]
        lo, hi = day_bounds(day, zone)
        drawn = truth.total_at(hi) - truth.total_at(lo)
        if flags & UNKNOWABLE:
            if known:
                problems.append(f"{meter.meter_id} {day}: flagged {sorted(flags)} but counted as known")
        elif abs(volume - drawn) > ML:
            problems.append(f"{meter.meter_id} {day}: stored {volume} m³, the meter drew {drawn} m³")
    return problems
