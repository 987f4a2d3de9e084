"""Rejected messages for operators: by meter and reason with the raw input, and a replay from the API
after the registry is fixed, within the caller's division, storing each reading once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import psycopg
import pytest

from api import accounts
from api.auth import Role
from devices.readings import Reason, Refusal
from devices.topics import readings_topic
from infra.testbed import register_meters
from ingest.message import Message, Source
from ingest.store import store
from tests.api.conftest import api_client, bearer

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 1, tzinfo=UTC)


def _refused(url: str, meter: str, hours: range) -> None:
    """What the collector keeps for a message naming a meter it does not know."""
    payload = orjson.dumps(
        [{"ts": (START + timedelta(hours=h)).isoformat(), "total_m3": 10 * h} for h in hours]
    )
    why = Refusal(Reason.UNKNOWN_METER, f"meter {meter!r} is not registered")
    message = Message(
        Source.MQTT, meter, payload, START + timedelta(days=1), refusals=[why], topic=readings_topic(meter)
    )
    with psycopg.connect(url) as conn:
        store(conn, [message], {}, ZONE)


@pytest.fixture
def world(database_url: str) -> Iterator[tuple[str, dict[str, dict[str, str]]]]:
    _refused(database_url, "LATE-A", range(0, 3))
    _refused(database_url, "LATE-B", range(0, 4))
    register_meters(database_url, ["LATE-A", "LATE-B"])  # the registry catches up
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE intakes SET division_code = '211322' WHERE code = 'I-LATE-A'")
        conn.execute("UPDATE intakes SET division_code = '211381' WHERE code = 'I-LATE-B'")
        tokens = {
            name: bearer(accounts.add(conn, f"rej-{name}", role, "tests", division))
            for name, role, division in (
                ("county", Role.OPERATOR, "211322"),
                ("auditor", Role.AUDITOR, None),
                ("all", Role.OPERATOR, None),
            )
        }
    yield database_url, tokens


def _stored(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT meter_id, count(*) FROM readings GROUP BY 1").fetchall())


def test_a_county_operator_replays_its_own_rejected_messages_once(
    world: tuple[str, dict[str, dict[str, str]]],
) -> None:
    url, tokens = world
    with api_client(url) as client:
        summary = client.get("/api/v1/rejected/summary", headers=tokens["county"]).json()["items"]
        assert [(s["meter_id"], s["reason"], s["rejected"], s["waiting"]) for s in summary] == [
            ("LATE-A", "unknown_meter", 1, 1)
        ]
        listed = client.get("/api/v1/rejected", headers=tokens["county"]).json()["items"]
        assert listed[0]["payload_encoding"] == "text" and '"total_m3":20' in listed[0]["payload"]
        assert listed[0]["replayed_at"] is None

        assert client.post("/api/v1/rejected/replay", json={}, headers=tokens["auditor"]).status_code == 403
        done = client.post("/api/v1/rejected/replay", json={}, headers=tokens["county"])
        assert done.status_code == 200, done.text
        got = done.json()
        assert (got["messages"], got["rows_resolved"], got["stored"], got["more"]) == (1, 1, 3, False)
        assert _stored(url) == {"LATE-A": 3}  # another county's meter is not its to replay

        again = client.post("/api/v1/rejected/replay", json={}, headers=tokens["county"]).json()
        assert (again["messages"], again["stored"]) == (0, 0)
        after = client.get("/api/v1/rejected/summary", headers=tokens["county"]).json()["items"]
        assert [(s["rejected"], s["waiting"]) for s in after] == [(1, 0)]
        marked = client.get("/api/v1/rejected", headers=tokens["county"]).json()["items"][0]
        assert marked["replayed_at"] is not None and marked["replay_result"].startswith("stored 3")

        rest = client.post(
            "/api/v1/rejected/replay", json={"reason": "unknown_meter"}, headers=tokens["all"]
        ).json()
        assert (rest["rows_resolved"], rest["stored"]) == (1, 4)
        assert _stored(url) == {"LATE-A": 3, "LATE-B": 4}
        bad = client.post("/api/v1/rejected/replay", json={"since": "yesterday"}, headers=tokens["all"])
        assert bad.status_code == 422
