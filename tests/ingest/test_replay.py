"""`intake rejected replay`: what was refused for a reason that has gone away is stored, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import psycopg

from devices.topics import readings_topic, status_topic
from infra.sandbox import PrivateMosquitto
from infra.testbed import register_meters
from tests.ingest.harness import count, running_collector, scalar, settings_for, wait_until
from tests.intake.test_cli import intake
from tests.mqtt import publish_all

START = datetime(2026, 3, 1, tzinfo=UTC)


def hourly(hours: range, bad: int | None = None) -> bytes:
    return orjson.dumps(
        [
            {"ts": (START + timedelta(hours=h)).isoformat(), "total_m3": -1 if h == bad else 10 * h}
            for h in hours
        ]
    )


def test_a_meter_registered_late_is_replayed_once(database_url: str, broker: PrivateMosquitto) -> None:
    register_meters(database_url, ["KNOWN"])
    with running_collector(settings_for(database_url, broker.url)):
        publish_all(broker.url, readings_topic("LATE"), [hourly(range(0, 12)), hourly(range(12, 24), bad=15)])
        publish_all(broker.url, status_topic("LATE"), [b"online"])
        publish_all(broker.url, readings_topic("KNOWN"), [hourly(range(0, 3), bad=1)])
        wait_until(lambda: count(database_url, "rejected_messages") == 4, what="the refusals")
    register_meters(database_url, ["LATE"])  # the registry catches up

    first = intake("rejected", "replay", "--reason", "unknown_meter", INTAKE_DATABASE_URL=database_url)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "replayed 3 message(s): 3 rejected row(s) resolved (23 readings stored" in first.stdout
    assert "1 new refusal(s) kept" in first.stdout  # the bad reading the unknown meter hid
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT split_part(topic, '/', 2), reason, element, replayed_at IS NOT NULL, replay_result "
            "FROM rejected_messages ORDER BY id"
        ).fetchall()
    assert count(database_url, "readings") == 2 + 23  # KNOWN's two good ones and LATE's 23
    assert scalar(database_url, "SELECT count(*) FROM meter_status_events WHERE meter_id = 'LATE'") == 1
    resolved = [r for r in rows if r[3]]
    assert [(m, reason) for m, reason, *_rest in resolved] == [("LATE", "unknown_meter")] * 3
    assert resolved[0][4].startswith("stored 12,")
    unresolved = sorted((m, reason, element) for m, reason, element, done, _r in rows if not done)
    assert unresolved == [("KNOWN", "total_negative", 1), ("LATE", "total_negative", 3)]  # still bad: kept

    again = intake("rejected", "replay", INTAKE_DATABASE_URL=database_url)
    assert again.returncode == 3  # the two bad readings are refused again, and nothing else happens
    assert "0 readings stored" in again.stdout and "2 still refused" in again.stdout
    assert count(database_url, "readings") == 25
    assert count(database_url, "rejected_messages") == 5


def test_replay_takes_only_what_the_filters_name(database_url: str, broker: PrivateMosquitto) -> None:
    with running_collector(settings_for(database_url, broker.url)):
        publish_all(broker.url, readings_topic("A"), [hourly(range(0, 2))])
        publish_all(broker.url, readings_topic("B"), [hourly(range(0, 2))])
        wait_until(lambda: count(database_url, "rejected_messages") == 2, what="the refusals")
    register_meters(database_url, ["A", "B"])
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    nothing = intake("rejected", "replay", "--since", later, INTAKE_DATABASE_URL=database_url)
    assert "nothing to replay" in nothing.stdout
    only_b = intake("rejected", "replay", "--meter", "B", INTAKE_DATABASE_URL=database_url)
    assert only_b.returncode == 0, only_b.stdout + only_b.stderr
    assert scalar(database_url, "SELECT array_agg(DISTINCT meter_id) FROM readings") == ["B"]
    bad = intake("rejected", "replay", "--since", "yesterday", INTAKE_DATABASE_URL=database_url)
    assert bad.returncode == 2 and "is not a time" in bad.stderr
