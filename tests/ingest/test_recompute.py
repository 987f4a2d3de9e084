"""`intake volumes recompute`: after a registry or time-zone change the rollups equal a from-scratch
computation, and the collector's fast path does not extend a tail taken before the recompute."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

import ingest.store
from devices.readings import Reading
from infra.calendar import local_day
from infra.testbed import register_meters
from ingest.message import Message, MeterInfo, Source
from ingest.recompute import recompute
from ingest.store import store
from ingest.tails import Tail
from ingest.volumes import Point, daily_volumes
from tests.intake.test_cli import intake

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC_ZONE = ZoneInfo("UTC")
CAPACITY = Decimal(10) ** 6
START = datetime(2026, 1, 20, 5, tzinfo=SHANGHAI)


def history() -> list[Reading]:
    """80 days, every 2 hours, 30 m³ each; the register wraps at 10^6 on day 40."""
    total, out = Decimal(999_000) - Decimal(40 * 12 * 30), []
    for n in range(80 * 12):
        out.append(Reading("R1", START + timedelta(hours=2 * n), total))
        total += 30
        if total >= CAPACITY:
            total -= CAPACITY
    return out


def stored_days(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT day, volume_m3, readings, method, flags FROM daily_volumes WHERE meter_id = 'R1' ORDER BY day"
    ).fetchall()


def scratch(
    readings: list[Reading], zone: ZoneInfo, capacity: Decimal | None, interval_s: int = 7200
) -> list[tuple[Any, ...]]:
    points = [Point(r.ts, r.total_m3) for r in readings]
    first, last = local_day(points[0].ts, zone), local_day(points[-1].ts, zone)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    gap = MeterInfo("R1", capacity, interval_s).max_gap
    return [
        (v.day, v.volume_m3, v.readings, str(v.method), list(v.flags))
        for v in daily_volumes(points, days, zone, capacity, gap)
    ]


def rollups_agree(conn: psycopg.Connection[Any]) -> None:
    """The monthly and yearly rollups (kept by triggers) are the sums of the daily rows."""
    months = conn.execute(
        "SELECT month, volume_m3 FROM monthly_volumes WHERE meter_id = 'R1' AND days > 0 ORDER BY month"
    ).fetchall()
    summed = conn.execute(
        "SELECT date_trunc('month', day)::date, sum(volume_m3) FROM daily_volumes WHERE meter_id = 'R1' "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert months == summed
    year = conn.execute(
        "SELECT volume_m3 FROM yearly_volumes WHERE meter_id = 'R1' AND year = 2026"
    ).fetchone()
    assert year is not None and year[0] == sum((v for _m, v in summed), Decimal(0))


@pytest.fixture
def stored(database_url: str) -> list[Reading]:
    register_meters(database_url, ["R1"], interval_s=7200, capacity=CAPACITY)
    readings = history()
    info = {"R1": MeterInfo("R1", CAPACITY, 7200)}
    with psycopg.connect(database_url) as conn:
        for start in range(0, len(readings), 100):
            store(
                conn,
                [Message(Source.MQTT, "R1", b"{}", START, readings[start : start + 100])],
                info,
                SHANGHAI,
            )
    return readings


def test_a_capacity_corrected_in_the_registry_is_recomputed(database_url: str, stored: list[Reading]) -> None:
    with psycopg.connect(database_url) as conn:
        assert stored_days(conn) == scratch(stored, SHANGHAI, CAPACITY)  # the wrap counted as a rollover
        conn.execute("UPDATE meters SET totalizer_capacity_m3 = NULL WHERE meter_id = 'R1'")  # no register
    done = intake("volumes", "recompute", "--meter", "R1", INTAKE_DATABASE_URL=database_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "R1: 2026-01-20..2026-04-10, 81 days written" in done.stdout
    assert "recomputed 1 meter(s): 81 days written" in done.stdout
    with psycopg.connect(database_url) as conn:
        assert stored_days(conn) == scratch(stored, SHANGHAI, None)  # now a reset of unknown volume
        events = conn.execute("SELECT kind FROM meter_events WHERE meter_id = 'R1'").fetchall()
        rollups_agree(conn)
    assert events == [("reset",)]
    twice = intake("volumes", "recompute", INTAKE_DATABASE_URL=database_url)
    assert twice.returncode == 0
    with psycopg.connect(database_url) as conn:
        assert stored_days(conn) == scratch(stored, SHANGHAI, None)


def test_another_time_zone_moves_every_day(database_url: str, stored: list[Reading]) -> None:
    done = intake("volumes", "recompute", INTAKE_DATABASE_URL=database_url, INTAKE_TIMEZONE="UTC")
    assert done.returncode == 0, done.stdout + done.stderr
    with psycopg.connect(database_url) as conn:
        assert stored_days(conn) == scratch(stored, UTC_ZONE, CAPACITY)
        rollups_agree(conn)


def test_a_recompute_between_batches_sends_the_next_batch_the_slow_way(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector's tail was taken before the reporting interval was corrected (1 reading in 2 h
    is now a gap); after the recompute, extending it would carry the old arithmetic into the newest day."""
    register_meters(database_url, ["R1"], interval_s=7200, capacity=CAPACITY)
    readings = history()[:480]
    tails: dict[str, Tail] = {}
    info = {"R1": MeterInfo("R1", CAPACITY, 7200)}
    with psycopg.connect(database_url) as conn:
        store(conn, [Message(Source.MQTT, "R1", b"{}", START, readings[:470])], info, SHANGHAI, tails)
        conn.execute("UPDATE meters SET report_interval_s = 1800 WHERE meter_id = 'R1'")
        conn.commit()
        conn.autocommit = True
        recompute(conn, SHANGHAI, "R1")
        slow: list[str] = []
        original = ingest.store._recompute

        def watched(cur: Any, new: dict[str, Any], *rest: Any) -> Any:
            slow.extend(new)
            return original(cur, new, *rest)

        monkeypatch.setattr(ingest.store, "_recompute", watched)
        now = {"R1": MeterInfo("R1", CAPACITY, 1800)}  # what a fresh directory says
        store(conn, [Message(Source.MQTT, "R1", b"{}", START, readings[470:])], now, SHANGHAI, tails)
        assert slow == ["R1"]
        assert stored_days(conn) == scratch(readings, SHANGHAI, CAPACITY, interval_s=1800)


def test_recompute_refuses_what_it_cannot_do(database_url: str) -> None:
    backwards = intake(
        "volumes", "recompute", "--from", "2026-05-02", "--to", "2026-05-01", INTAKE_DATABASE_URL=database_url
    )
    assert backwards.returncode == 2 and "before --from" in backwards.stderr
    nobody = intake("volumes", "recompute", "--meter", "NOBODY", INTAKE_DATABASE_URL=database_url)
    assert nobody.returncode == 1 and "NOBODY" in nobody.stderr
