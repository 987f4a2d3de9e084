"""The collector against a real Mosquitto and a real TimescaleDB."""

from __future__ import annotations

import random
import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import orjson
import psycopg
import pytest

from devices.codec import encode_readings
from devices.readings import Reading
from devices.topics import readings_topic, status_topic
from infra.calendar import local_day
from infra.sandbox import PrivateMosquitto
from infra.testbed import register_meters
from ingest.volumes import Point, daily_volumes
from tests.ingest.harness import count, running_collector, scalar, settings_for, wait_until
from tests.mqtt import publish_all

ZONE = ZoneInfo("Asia/Shanghai")


def reading(meter: str, ts: datetime, total: float, **extra: object) -> bytes:
    return orjson.dumps({"ts": ts.isoformat(), "total_m3": total, **extra})


def test_reading_twice_is_stored_once_and_a_conflict_is_kept(
    database_url: str, broker: PrivateMosquitto
) -> None:
    register_meters(database_url, ["M1"])
    ts = datetime(2026, 5, 1, 8, tzinfo=ZONE)
    with running_collector(settings_for(database_url, broker.url)) as collector:
        publish_all(broker.url, readings_topic("M1"), [reading("M1", ts, 100.5), reading("M1", ts, 100.5)])
        publish_all(broker.url, readings_topic("M1"), [reading("M1", ts, 107.25)])
        wait_until(lambda: count(database_url, "reading_conflicts") == 1, what="the conflict")
        wait_until(lambda: collector.metrics.duplicates._value.get() == 1, what="the duplicate")
    assert scalar(database_url, "SELECT array_agg(total_m3::text) FROM readings") == ["100.5"]
    assert (
        scalar(database_url, "SELECT total_m3::text || ' vs ' || stored_total_m3 FROM reading_conflicts")
        == "107.25 vs 100.5"
    )


def test_a_batch_of_5000_readings_in_one_message_is_stored_whole(
    database_url: str, broker: PrivateMosquitto
) -> None:
    register_meters(database_url, ["M1"], interval_s=60)
    start = datetime(2026, 5, 1, tzinfo=ZONE)
    batch = [Reading("M1", start + timedelta(minutes=i), Decimal(i) / 4) for i in range(5000)]
    with running_collector(settings_for(database_url, broker.url)):
        publish_all(broker.url, readings_topic("M1"), [encode_readings(batch)])
        wait_until(lambda: count(database_url, "readings") == 5000, what="5000 readings")
    assert scalar(database_url, "SELECT max(total_m3) FROM readings") == Decimal("1249.75")
    # readings 00:00 May 1 to minute 4999 (11:19 May 4), 0.25 m³ a minute: three full days of 1440
    # intervals (360 m³) and 679 intervals (169.75 m³) on the fourth, which ends at the last reading
    rows = scalar(
        database_url, "SELECT array_agg(method || ':' || volume_m3::text ORDER BY day) FROM daily_volumes"
    )
    assert rows == ["metered:360.000000", "metered:360.000000", "metered:360.000000", "incomplete:169.750000"]


def test_random_order_gives_the_same_daily_volumes(database_url: str, broker: PrivateMosquitto) -> None:
    register_meters(database_url, ["ORDERED", "SHUFFLED"], interval_s=3600, capacity=Decimal(10) ** 8)
    rnd = random.Random(7)
    ts, total = datetime(2026, 4, 28, 21, 13, tzinfo=ZONE), Decimal("99999000")
    points: list[Point] = []
    for _ in range(150):  # about six days, through a rollover at 10^8 and one reset
        ts += timedelta(minutes=rnd.randint(20, 95))
        total += Decimal(rnd.randint(0, 40_000)) / 1000
        if len(points) == 90:
            total = Decimal("12.5")  # reset: replaced register
        if total >= Decimal(10) ** 8:
            total -= Decimal(10) ** 8  # rollover
        points.append(Point(ts, total))
    in_order = [orjson.dumps({"ts": p.ts.isoformat(), "total_m3": float(p.total)}) for p in points]
    shuffled = in_order[:]
    rnd.shuffle(shuffled)
    shuffled += rnd.sample(in_order, 20)  # and some delivered twice
    with running_collector(settings_for(database_url, broker.url, collector_batch_size=7)):
        publish_all(broker.url, readings_topic("ORDERED"), in_order)
        publish_all(broker.url, readings_topic("SHUFFLED"), shuffled)
        wait_until(lambda: count(database_url, "readings") == 300, what="all readings")
    with psycopg.connect(database_url) as conn:
        rollups = {
            m: conn.execute(
                "SELECT day, volume_m3, readings, coverage, method, flags FROM daily_volumes "
                "WHERE meter_id = %s ORDER BY day",
                (m,),
            ).fetchall()
            for m in ("ORDERED", "SHUFFLED")
        }
        events = conn.execute("SELECT meter_id, kind FROM meter_events ORDER BY meter_id, ts").fetchall()
    assert rollups["ORDERED"] == rollups["SHUFFLED"]
    days = [local_day(points[0].ts, ZONE) + timedelta(days=n) for n in range(8)]
    scratch = [
        (v.day, v.volume_m3, v.readings, pytest.approx(v.coverage, abs=1e-6), str(v.method), list(v.flags))
        for v in daily_volumes(points, days, ZONE, Decimal(10) ** 8, timedelta(hours=2))
        if v.day in {row[0] for row in rollups["ORDERED"]}
    ]
    assert rollups["ORDERED"] == scratch
    assert events == [
        ("ORDERED", "rollover"),
        ("ORDERED", "reset"),
        ("SHUFFLED", "rollover"),
        ("SHUFFLED", "reset"),
    ]


def test_an_interval_across_local_midnight_is_split_to_the_litre(
    database_url: str, broker: PrivateMosquitto
) -> None:
    register_meters(database_url, ["M1"], interval_s=7200)
    # 23:10 -> 00:40 local: 90 minutes, 9.876 m³; 50 minutes before midnight = 5.486667 m³ (5486.667 L)
    payload = orjson.dumps(
        [
            {"ts": "2026-06-01T15:10:00Z", "total_m3": 1000.0},
            {"ts": "2026-06-01T16:40:00Z", "total_m3": 1009.876},
        ]
    )
    with running_collector(settings_for(database_url, broker.url)):
        publish_all(broker.url, readings_topic("M1"), [payload])
        wait_until(lambda: count(database_url, "daily_volumes") == 2, what="two days")
    volumes = scalar(database_url, "SELECT array_agg(volume_m3::text ORDER BY day) FROM daily_volumes")
    assert volumes == ["5.486667", "4.389333"]


BAD_INPUTS: list[tuple[str, bytes, str]] = [
    ("meters/M1/readings", b"", "empty_payload"),
    ("meters/M1/readings", b"not json", "bad_json"),
    ("meters/M1/readings", b"\xff\xfe{", "bad_json"),
    ("meters/M1/readings", b'{"ts": "2026-05-01T08:00:00+08:00", "total_m3": 1e400}', "bad_json"),
    ("meters/M1/readings", b'"a string"', "not_object"),
    ("meters/M1/readings", b"[]", "empty_batch"),
    ("meters/M1/readings", b"[42]", "element_not_object"),
    ("meters/M1/readings", b'{"total_m3": 5}', "missing_ts"),
    ("meters/M1/readings", b'{"ts": true, "total_m3": 5}', "ts_wrong_type"),
    ("meters/M1/readings", b'{"ts": "yesterday", "total_m3": 5}', "ts_unparsable"),
    ("meters/M1/readings", b'{"ts": "2026-05-01T08:00:00", "total_m3": 5}', "ts_no_offset"),
    ("meters/M1/readings", b'{"ts": "1999-12-31T23:00:00Z", "total_m3": 5}', "ts_too_early"),
    ("meters/M1/readings", b'{"ts": "2099-01-01T00:00:00Z", "total_m3": 5}', "ts_in_future"),
    ("meters/M1/readings", b'{"ts": 1777000000}', "missing_total"),
    ("meters/M1/readings", b'{"ts": 1777000000, "total_m3": "12.5"}', "total_not_number"),
    ("meters/M1/readings", b'{"ts": 1777000000, "total_m3": -3}', "total_negative"),
    ("meters/M1/readings", b'{"ts": 1777000000, "total_m3": 100000000}', "total_too_large"),
    ("meters/M1/readings", b'{"ts": 1777000000, "total_m3": 5, "flow_m3h": "fast"}', "flow_invalid"),
    ("meters/M1/readings", b'{"ts": 1777000000, "total_m3": 5, "battery_v": -1}', "battery_invalid"),
    ("meters/M1/readings", b'{"ts": 1777000000, "total_m3": 5, "rssi": 3.5}', "rssi_invalid"),
    ("meters/M1/readings", b'{"ts": 1777000000, "total_m3": 5, "alarms": "low"}', "alarms_invalid"),
    ("meters/M1/readings", b'{"ts": 1777000000, "total_m3": 5, "meter_id": "M2"}', "meter_mismatch"),
    ("meters/NOBODY/readings", b'{"ts": 1777000000, "total_m3": 5}', "unknown_meter"),
    ("meters/OLD/readings", b'{"ts": 1777000000, "total_m3": 5}', "inactive_meter"),
    ("meters/M1/status", b"sleeping", "status_invalid"),
    ("meters/M 1 ?/readings", b'{"ts": 1777000000, "total_m3": 5}', "bad_topic"),
]


def test_malformed_inputs_are_rejected_with_reasons_and_others_unaffected(
    database_url: str, broker: PrivateMosquitto
) -> None:
    register_meters(database_url, ["M1", "GOOD"])
    register_meters(database_url, ["OLD"], removed=True)
    now = datetime.now(UTC).replace(microsecond=0)
    good = [reading("GOOD", now - timedelta(minutes=50 - i), float(i)) for i in range(50)]
    subscription = broker.url
    with running_collector(settings_for(database_url, subscription, collector_batch_size=10)) as collector:
        for n, (topic, payload, _reason) in enumerate(BAD_INPUTS):
            publish_all(broker.url, topic, [payload])
            publish_all(broker.url, readings_topic("GOOD"), good[n : n + 1])
        publish_all(broker.url, readings_topic("GOOD"), good[len(BAD_INPUTS) :])
        wait_until(lambda: count(database_url, "readings") == 50, what="every good reading")
        wait_until(
            lambda: count(database_url, "rejected_messages") == len(BAD_INPUTS), what="every rejection"
        )
        publish_all(
            broker.url, readings_topic("M1"), [reading("M1", now, 1.0)]
        )  # still running, M1 still fine
        wait_until(lambda: count(database_url, "readings") == 51, what="a reading after the bad ones")
        assert collector.metrics.rejected.labels("bad_json")._value.get() == 3
    with psycopg.connect(database_url) as conn:
        rejected = conn.execute(
            "SELECT topic, payload, reason, message FROM rejected_messages ORDER BY id"
        ).fetchall()
    assert sorted((t, bytes(p), r) for t, p, r, _m in rejected) == sorted(BAD_INPUTS)
    assert len({r for _t, _p, r in BAD_INPUTS}) >= 20
    assert all(m for *_rest, m in rejected)  # every refusal says why


def test_one_bad_reading_in_a_batch_does_not_lose_the_others(
    database_url: str, broker: PrivateMosquitto
) -> None:
    register_meters(database_url, ["M1"])
    payload = orjson.dumps(
        [
            {"ts": "2026-05-01T08:00:00+08:00", "total_m3": 1},
            {"ts": "2026-05-01T09:00:00+08:00", "total_m3": -2},
            {"ts": "2026-05-01T10:00:00+08:00", "total_m3": 3},
        ]
    )
    with running_collector(settings_for(database_url, broker.url)):
        publish_all(broker.url, readings_topic("M1"), [payload])
        wait_until(lambda: count(database_url, "rejected_messages") == 1, what="the refusal")
    assert count(database_url, "readings") == 2
    assert (
        scalar(database_url, "SELECT element || ':' || reason FROM rejected_messages") == "1:total_negative"
    )


def test_a_row_the_database_refuses_is_isolated_and_the_rest_committed(
    database_url: str, broker: PrivateMosquitto
) -> None:
    register_meters(database_url, ["M1", "M2"])
    with psycopg.connect(database_url) as conn:  # a constraint our validation does not know about
        conn.execute("ALTER TABLE readings ADD CONSTRAINT no_666 CHECK (total_m3 <> 666)")
        conn.commit()
    now = datetime.now(UTC)
    poison = orjson.dumps(
        [
            {"ts": (now - timedelta(minutes=3)).isoformat(), "total_m3": 600},
            {"ts": (now - timedelta(minutes=2)).isoformat(), "total_m3": 666},
            {"ts": (now - timedelta(minutes=1)).isoformat(), "total_m3": 700},
        ]
    )
    fine = [reading("M2", now - timedelta(minutes=i), 50.0 - i) for i in range(10)]
    with running_collector(settings_for(database_url, broker.url, collector_batch_age_ms=500)) as collector:
        publish_all(broker.url, readings_topic("M2"), fine[:5])
        publish_all(broker.url, readings_topic("M1"), [poison])
        publish_all(broker.url, readings_topic("M2"), fine[5:])
        wait_until(lambda: count(database_url, "readings") == 12, what="all but the refused reading")
        wait_until(lambda: count(database_url, "rejected_messages") == 1, what="the refusal")
        assert collector.metrics.isolations._value.get() >= 1
    message = scalar(database_url, "SELECT reason || ': ' || message FROM rejected_messages")
    assert message.startswith("db_refused: reading at ") and "no_666" in message


def test_birth_and_last_will_are_recorded(database_url: str, broker: PrivateMosquitto) -> None:
    register_meters(database_url, ["M1"])
    with running_collector(settings_for(database_url, broker.url)):
        publish_all(broker.url, status_topic("M1"), [b"online"])
        wait_until(
            lambda: scalar(database_url, "SELECT last_status FROM meter_state") == "online", what="birth"
        )
        # a meter whose connection dies: the broker publishes its last will
        connections = broker.log.read_text().count("New client connected")
        device = subprocess.Popen(
            [
                "mosquitto_sub",
                "-p",
                str(broker.port),
                "-t",
                "meters/M1/commands",
                "--will-topic",
                status_topic("M1"),
                "--will-payload",
                "offline",
                "--will-qos",
                "1",
                "-k",
                "5",
            ],
        )
        wait_until(
            lambda: broker.log.read_text().count("New client connected") > connections,
            what="the device to connect",
        )
        device.kill()
        device.wait()
        wait_until(
            lambda: scalar(database_url, "SELECT last_status FROM meter_state") == "offline", what="will"
        )
    events = scalar(database_url, "SELECT array_agg(status ORDER BY id) FROM meter_status_events")
    assert events == ["online", "offline"]


def test_daily_volumes_command(database_url: str, broker: PrivateMosquitto) -> None:
    from tests.intake.test_cli import intake

    register_meters(database_url, ["M1"], interval_s=3600)
    payload = orjson.dumps(
        [
            {"ts": f"2026-05-0{d}T{h:02d}:00:00+08:00", "total_m3": 10 * ((d - 1) * 24 + h), "flow_m3h": 10.5}
            for d in (1, 2)
            for h in range(24)
        ]
    )
    with running_collector(settings_for(database_url, broker.url)):
        publish_all(broker.url, readings_topic("M1"), [payload])
        wait_until(lambda: count(database_url, "daily_volumes") == 2, what="two days")
    done = intake(
        "volumes",
        "daily",
        "--meter",
        "M1",
        "--from",
        "2026-05-01",
        "--to",
        "2026-05-03",
        "--format",
        "csv",
        INTAKE_DATABASE_URL=database_url,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "day,volume_m3,reported_m3,method,readings,coverage,flags,flow_m3,correction",
        "2026-05-01,240.000000,240.000000,metered,24,1.0,,252.000,",  # flow: 24 hours x 10.5 m³/h
        "2026-05-02,230.000000,230.000000,incomplete,24,0.9583,,241.500,",  # 23 hours: no successor
    ]
    status = intake("meters", "status", "--format", "json", INTAKE_DATABASE_URL=database_url)
    (row,) = orjson.loads(status.stdout)
    assert (row["meter_id"], row["last_total_m3"], row["last_reading_ts"]) == (
        "M1",
        "470",
        "2026-05-02T15:00:00+00:00",
    )
    assert date.fromisoformat(row["last_seen"][:10]) >= date(2026, 1, 1)


def test_a_rollover_no_well_could_pass_is_a_reset_and_a_real_one_counts(
    database_url: str, broker: PrivateMosquitto
) -> None:
    """The demo's phantom, through the collector: a 10^9 m³ register on a well of 500 m³/day going from
    999,999,999.5 to 589,037.81 in 15 minutes is recorded as a reset (the 589,038 m³ kept for review,
    not counted); on its twin, 999,999,999.5 to 12.3 is a rollover of 12.8 m³."""
    with psycopg.connect(database_url) as conn:
        for meter in ("PHANTOM", "TWIN"):
            conn.execute(
                "INSERT INTO intakes (code, name, owner, county, longitude, latitude, engineering_type, "
                "design_daily_capacity_m3, status, source_type, water_use) VALUES "
                "(%s, 'a well', 'test', '建平县', 119.6, 41.4, '机井', 500, 'built', 'shallow_groundwater', "
                "'irrigation')",
                (f"I-{meter}",),
            )
            conn.execute(
                "INSERT INTO meters (meter_id, intake_code, meter_type, online_capable, report_interval_s, "
                "totalizer_capacity_m3, installed_on) VALUES (%s, %s, 'other', true, 900, 1000000000, "
                "'2020-01-01')",
                (meter, f"I-{meter}"),
            )
    at = datetime(2026, 5, 1, 10, tzinfo=ZONE)
    with running_collector(settings_for(database_url, broker.url)):
        for meter, after in (("PHANTOM", 589037.81), ("TWIN", 12.3)):
            pair = orjson.dumps(
                [
                    {"ts": at.isoformat(), "total_m3": 999999999.5},
                    {"ts": (at + timedelta(minutes=15)).isoformat(), "total_m3": after},
                ]
            )
            publish_all(broker.url, readings_topic(meter), [pair])
        wait_until(lambda: count(database_url, "meter_events") == 2, what="both events")
    with psycopg.connect(database_url) as conn:
        events: dict[str, str] = dict(
            conn.execute("SELECT meter_id, kind || ' ' || coalesce(implied_m3::text, '') FROM meter_events")
        )
        days: dict[str, str] = dict(
            conn.execute(
                "SELECT meter_id, volume_m3::text || ' ' || array_to_string(flags, ',') FROM daily_volumes"
            )
        )
    assert events == {"PHANTOM": "reset 589038.31", "TWIN": "rollover 12.8"}
    assert days == {"PHANTOM": "0.000000 reset", "TWIN": "12.800000 rollover"}
