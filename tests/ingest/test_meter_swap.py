"""A meter's removal date ends its service at the end of that local day, not before: readings taken
before it are stored and counted (a store-and-forward backlog after a swap), and a removal date in
the future changes nothing today."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import orjson
import psycopg

from anomaly.queries.snapshot import month_sums
from anomaly.queries.status import run_status_sweep
from devices.topics import readings_topic, status_topic
from infra.sandbox import PrivateMosquitto
from tests.ingest.harness import count, running_collector, scalar, settings_for, wait_until
from tests.mqtt import publish_all

ZONE = ZoneInfo("Asia/Shanghai")
INTAKE = """
INSERT INTO intakes (code, name, owner, county, longitude, latitude, engineering_type, status, source_type,
                     water_use)
VALUES ('I-SWAP', 'swapped', 'test', '建平县', 119.6, 41.4, '机井', 'built', 'shallow_groundwater',
        'irrigation')"""
METER = """
INSERT INTO meters (meter_id, intake_code, meter_type, online_capable, report_interval_s, installed_on,
                    removed_on)
VALUES (%s, 'I-SWAP', 'electromagnetic', true, 3600, %s, %s)"""


def hourly(first: datetime, hours: int, total: float) -> bytes:
    """A store-and-forward array: a reading every hour, 10 m³ an hour."""
    return orjson.dumps(
        [{"ts": (first + timedelta(hours=h)).isoformat(), "total_m3": total + 10 * h} for h in range(hours)]
    )


def test_the_old_meters_backlog_after_a_swap_is_stored_and_counted(
    database_url: str, broker: PrivateMosquitto
) -> None:
    today = datetime.now(ZONE).date()
    swap = today - timedelta(days=1)
    with psycopg.connect(database_url) as conn:
        conn.execute(INTAKE)
        conn.execute(METER, ("OLD", date(2025, 1, 1), swap))  # taken out yesterday
        conn.execute(METER, ("NEW", swap, None))  # put in yesterday
    # OLD kept 36 hours in its memory: from 12:00 the day before the swap to the end of the swap day,
    # then two readings after it, which it could not have taken.
    first = datetime.combine(swap - timedelta(days=1), datetime.min.time(), ZONE) + timedelta(hours=12)
    backlog = hourly(first, 36 + 2, 1000.0)
    with running_collector(settings_for(database_url, broker.url)):
        publish_all(broker.url, readings_topic("OLD"), [backlog])
        wait_until(lambda: count(database_url, "rejected_messages") == 2, what="the two late readings")
        wait_until(lambda: count(database_url, "readings") == 36, what="the backlog")
    with psycopg.connect(database_url) as conn:
        refused = conn.execute(
            "SELECT element, reason, message FROM rejected_messages ORDER BY element"
        ).fetchall()
        rows = conn.execute("SELECT day, volume_m3 FROM daily_volumes WHERE meter_id = 'OLD'").fetchall()
        days: dict[date, Decimal] = {d: v for d, v in rows}
        first_month = (swap - timedelta(days=1)).replace(day=1)
        sums = month_sums(conn, first_month, today, {"OLD": "I-SWAP", "NEW": "I-SWAP"})
    assert [(e, r) for e, r, _m in refused] == [(36, "inactive_meter"), (37, "inactive_meter")]
    assert str(swap) in refused[0][2]
    # 12 hours on the day before the swap (12:00 to midnight), 23 on the swap day (to its last reading)
    assert days[swap - timedelta(days=1)] == Decimal("120.000000")
    assert days[swap] == Decimal("230.000000")
    assert sum((m.reported_m3 for m in sums.values()), Decimal(0)) == Decimal(350)


def test_a_removal_date_in_the_future_changes_nothing_today(
    database_url: str, broker: PrivateMosquitto
) -> None:
    today = datetime.now(ZONE).date()
    with psycopg.connect(database_url) as conn:
        conn.execute(INTAKE)
        conn.execute(METER, ("LEAVING", date(2025, 1, 1), today + timedelta(days=30)))
    now = datetime.now(UTC).replace(microsecond=0)
    with running_collector(settings_for(database_url, broker.url)):
        publish_all(broker.url, readings_topic("LEAVING"), [hourly(now - timedelta(hours=3), 3, 5.0)])
        publish_all(broker.url, status_topic("LEAVING"), [b"online"])
        wait_until(lambda: count(database_url, "readings") == 3, what="today's readings")
        wait_until(lambda: count(database_url, "meter_status_events") == 1, what="its birth message")
    assert count(database_url, "rejected_messages") == 0
    assert scalar(database_url, "SELECT last_status FROM meter_state WHERE meter_id = 'LEAVING'") == "online"
    with psycopg.connect(database_url, autocommit=True) as conn:  # and the status sweep watches it
        run_status_sweep(conn, datetime.now(UTC), "Asia/Shanghai")
    assert scalar(database_url, "SELECT status FROM meter_state WHERE meter_id = 'LEAVING'") == "online"
