"""One batch, one transaction: readings, duplicates, conflicts, refusals, state and daily volumes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

import ingest.store
from devices.readings import Reading, Reason, Refusal, Status
from infra.calendar import local_day
from infra.testbed import register_meters
from ingest.message import Message, MeterInfo, Source
from ingest.store import store
from ingest.tails import Tail
from ingest.volumes import Point, daily_volumes

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 5, 3, tzinfo=UTC)
METERS = {m: MeterInfo(m, Decimal(10) ** 8, 3600) for m in ("M1", "M2")}


def r(meter: str, ts: str, total: str, **extra: object) -> Reading:
    return Reading(meter, datetime.fromisoformat(ts), Decimal(total), **extra)  # type: ignore[arg-type]


def msg(*readings: Reading, topic: str | None = None) -> Message:
    meter = readings[0].meter_id if readings else "M1"
    return Message(Source.MQTT, meter, b"{}", NOW, list(readings), topic=topic or f"meters/{meter}/readings")


def days(conn: psycopg.Connection[tuple[object, ...]], meter: str) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT day, volume_m3::text, readings, method, flags FROM daily_volumes "
        "WHERE meter_id = %s ORDER BY day",
        (meter,),
    ).fetchall()


def test_duplicates_are_counted_and_conflicts_kept(database_url: str) -> None:
    register_meters(database_url, ["M1", "M2"])
    with psycopg.connect(database_url) as conn:
        first = store(conn, [msg(r("M1", "2026-05-01T10:00+08:00", "100", battery_v=3.6))], METERS, ZONE)
        second = store(
            conn,
            [
                msg(r("M1", "2026-05-01T10:00+08:00", "100", battery_v=3.6)),  # the same again
                msg(r("M1", "2026-05-01T02:00Z", "100", battery_v=3.6)),  # the same instant, written in UTC
                msg(r("M1", "2026-05-01T10:00+08:00", "101")),  # same time, other value
                msg(
                    r("M2", "2026-05-01T10:00+08:00", "5"), r("M2", "2026-05-01T10:00+08:00", "5")
                ),  # twice in one
            ],
            METERS,
            ZONE,
        )
        stored = conn.execute("SELECT meter_id, total_m3::text FROM readings ORDER BY meter_id").fetchall()
        conflicts = conn.execute(
            "SELECT meter_id, total_m3::text, stored_total_m3::text FROM reading_conflicts"
        )
        conflict_rows = conflicts.fetchall()
    assert (first.stored, first.duplicates, first.conflicts) == (1, 0, 0)
    assert (second.stored, second.duplicates, second.conflicts) == (1, 3, 1)
    assert stored == [("M1", "100"), ("M2", "5")]
    assert conflict_rows == [("M1", "101", "100")]


def test_refusals_and_status_are_recorded(database_url: str) -> None:
    register_meters(database_url, ["M1"])
    bad = Message(
        Source.MQTT,
        "M1",
        b"not json",
        NOW,
        refusals=[Refusal(Reason.BAD_JSON, "not JSON: ...")],
        topic="meters/M1/readings",
    )
    status = Message(Source.MQTT, "M1", b"offline", NOW, status=Status.OFFLINE, topic="meters/M1/status")
    with psycopg.connect(database_url) as conn:
        result = store(conn, [bad, status], METERS, ZONE)
        rejected = conn.execute("SELECT topic, payload, reason FROM rejected_messages").fetchall()
        state = conn.execute(
            "SELECT last_status, last_status_at FROM meter_state WHERE meter_id = 'M1'"
        ).fetchone()
    assert result.rejected == {"bad_json": 1} and result.status_events == 1
    assert rejected == [("meters/M1/readings", b"not json", "bad_json")]
    assert state == ("offline", NOW)


def test_state_holds_the_newest_device_time_not_the_last_received(database_url: str) -> None:
    register_meters(database_url, ["M1"])
    with psycopg.connect(database_url) as conn:
        store(conn, [msg(r("M1", "2026-05-02T10:00+08:00", "250"))], METERS, ZONE)
        store(conn, [msg(r("M1", "2026-05-01T10:00+08:00", "100"))], METERS, ZONE)  # late, older
        state = conn.execute("SELECT last_reading_ts, last_total_m3::text FROM meter_state").fetchone()
    assert state == (datetime.fromisoformat("2026-05-02T10:00+08:00"), "250")


def test_a_late_reading_resplits_the_days_of_the_interval_it_falls_in(database_url: str) -> None:
    register_meters(database_url, ["M1"])
    with psycopg.connect(database_url) as conn:
        store(
            conn,
            [msg(r("M1", "2026-05-01T00:00+08:00", "0"), r("M1", "2026-05-04T00:00+08:00", "300"))],
            METERS,
            ZONE,
        )
        before = days(conn, "M1")
        store(conn, [msg(r("M1", "2026-05-03T00:00+08:00", "280"))], METERS, ZONE)  # the outage, late
        after = days(conn, "M1")
    assert [row[1] for row in before] == ["100.000000", "100.000000", "100.000000", "0.000000"]
    assert [row[1] for row in after] == ["140.000000", "140.000000", "20.000000", "0.000000"]
    assert after[0][3:] == ("incomplete", ["gap"])


def test_rollover_and_reset_become_events(database_url: str) -> None:
    register_meters(database_url, ["M1"])
    base = datetime(2026, 5, 1, 8, tzinfo=ZONE)
    readings = [
        r("M1", (base + timedelta(hours=h)).isoformat(), t)
        for h, t in enumerate(["99999980", "99999995", "15", "40", "3", "13"])
    ]
    with psycopg.connect(database_url) as conn:
        store(conn, [msg(*readings)], METERS, ZONE)
        events = conn.execute(
            "SELECT kind, total_before::text, total_after::text FROM meter_events ORDER BY ts"
        )
        event_rows = events.fetchall()
        (day,) = days(conn, "M1")
    assert event_rows == [("rollover", "99999995", "15"), ("reset", "40", "3")]
    assert day == (date(2026, 5, 1), "70.000000", 6, "incomplete", ["reset", "rollover"])  # 15+20+25+10


def recomputed(conn: psycopg.Connection[tuple[object, ...]], meter: str) -> list[tuple[object, ...]]:
    """The meter's every day computed from scratch from what is stored, as daily_volumes rows are."""
    points = [
        Point(ts, total)  # type: ignore[arg-type]
        for ts, total in conn.execute(
            "SELECT ts, total_m3 FROM readings WHERE meter_id = %s ORDER BY ts", (meter,)
        ).fetchall()
    ]
    first, last = local_day(points[0].ts, ZONE), local_day(points[-1].ts, ZONE)
    every = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [
        (v.day, f"{v.volume_m3:f}", v.readings, str(v.method), list(v.flags))
        for v in daily_volumes(points, every, ZONE, METERS[meter].capacity, METERS[meter].max_gap)
    ]


def test_in_order_batches_take_the_fast_path_and_equal_recomputation(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_meters(database_url, ["M1", "M2"])
    recomputing: list[list[str]] = []
    slow_path = ingest.store._recompute

    def watched(cur: Any, new: dict[str, Any], *rest: Any) -> Any:
        recomputing.append(sorted(new))
        return slow_path(cur, new, *rest)

    monkeypatch.setattr(ingest.store, "_recompute", watched)
    base = datetime(2026, 5, 1, 21, 7, tzinfo=ZONE)
    tails: dict[str, Tail] = {}
    with psycopg.connect(database_url) as conn:
        for batch in range(6):  # 8 readings 25 min apart per batch, across two local midnights
            readings = [
                r(
                    m,
                    (base + timedelta(minutes=25 * (8 * batch + k))).isoformat(),
                    str(100 + 17 * (8 * batch + k)),
                )
                for m in ("M1", "M2")
                for k in range(8)
            ]
            store(conn, [msg(*readings[:8]), msg(*readings[8:])], METERS, ZONE, tails)
            assert tails["M1"].stored == 8 * (batch + 1)  # a tail after every batch, counting what is stored
        assert days(conn, "M1") == recomputed(conn, "M1")
        assert days(conn, "M2") == recomputed(conn, "M2")
    assert recomputing == [["M1", "M2"]]  # only the first batch, which had no tails yet


def test_a_stale_tail_is_noticed_and_the_day_recomputed(database_url: str) -> None:
    """Another writer (a second collector) stores a late reading the tail does not know about: the
    count in meter_state differs, so the next batch recomputes instead of extending."""
    register_meters(database_url, ["M1"])
    tails: dict[str, Tail] = {}
    with psycopg.connect(database_url) as conn:
        store(
            conn,
            [msg(r("M1", "2026-05-01T08:00+08:00", "100"), r("M1", "2026-05-01T10:00+08:00", "120"))],
            METERS,
            ZONE,
            tails,
        )
        kept = tails["M1"]
        store(conn, [msg(r("M1", "2026-05-01T09:00+08:00", "105"))], METERS, ZONE)  # elsewhere: no tails
        store(conn, [msg(r("M1", "2026-05-01T11:00+08:00", "150"))], METERS, ZONE, tails)
        assert tails["M1"].stored == 4 and tails["M1"] is not kept
        assert days(conn, "M1") == recomputed(conn, "M1")
        assert days(conn, "M1")[0][2] == 4
