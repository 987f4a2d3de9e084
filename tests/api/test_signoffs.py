"""Signed-off annual volumes with revisions: a signed value stays what reports show when a late reading
moves the computed one; the sweep records the revision with both values and why; signing again
accepts it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import psycopg
import pytest
from fastapi.testclient import TestClient

from api import accounts
from api.app import create_app
from api.auth import Role
from devices.readings import Reading
from devices.topics import readings_topic
from infra.testbed import register_meters
from ingest.message import Message, MeterInfo, Source
from ingest.store import store
from tests.api.conftest import api_settings, bearer
from tests.intake.test_cli import intake
from tests.roles import API, MONITOR, as_role

ZONE = ZoneInfo("Asia/Shanghai")
METER = "S1"
INTAKE = f"I-{METER}"


def _store(url: str, readings: list[tuple[datetime, Decimal]]) -> None:
    info = {METER: MeterInfo(METER, Decimal(10) ** 8, 3600)}
    received = datetime.now(UTC)
    batch = [
        Message(Source.MQTT, METER, b"{}", received, [Reading(METER, ts, total) for ts, total in readings],
                topic=readings_topic(METER))
    ]  # fmt: skip
    with psycopg.connect(url) as conn:
        store(conn, batch, info, ZONE)
        conn.commit()


@pytest.fixture
def client(database_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    register_meters(database_url, [METER], interval_s=3600)
    with psycopg.connect(database_url, autocommit=True) as conn:
        token = accounts.add(conn, "auditor.sun", Role.AUDITOR, "tests")
    with TestClient(create_app(api_settings(as_role(database_url, API)))) as test_client:
        yield test_client, bearer(token)


def _annual(client: TestClient, headers: dict[str, str], year: int) -> dict[str, object]:
    got = client.get("/api/v1/annual-volumes", headers=headers, params={"year": year, "intake_code": INTAKE})
    assert got.status_code == 200, got.text
    item: dict[str, object] = got.json()["items"][0]
    return item


def test_a_signed_volume_stays_and_a_revision_waits_for_the_next_sign_off(
    client: tuple[TestClient, dict[str, str]], database_url: str
) -> None:
    api, headers = client
    today = datetime.now(ZONE)
    start = (today - timedelta(days=5)).replace(hour=0, minute=0, second=0, microsecond=0)
    if start.year != today.year:  # the first days of January: sign off last year instead
        start = today.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    year = start.year
    _store(database_url, [(start + timedelta(hours=h), Decimal(1000 + 10 * h)) for h in range(1, 49)])
    before = _annual(api, headers, year)
    signed = api.post(
        f"/api/v1/intakes/{INTAKE}/signoffs", headers=headers, json={"year": year, "note": "审核"}
    )
    assert signed.status_code == 201, signed.text
    signed_m3 = Decimal(signed.json()["volume_m3"])
    assert signed_m3 == Decimal(str(before["volume_m3"]))
    assert signed.json()["signed_by"] == "auditor.sun" and signed.json()["revisions"] == []

    _store(database_url, [(start, Decimal(900))])  # a late reading: the hour before, 100 m³ more
    after = _annual(api, headers, year)
    assert Decimal(str(after["volume_m3"])) == signed_m3  # still the signed value
    computed = Decimal(str(after["computed_m3"]))
    assert computed != signed_m3 and after["pending_revision"] is True
    assert after["signed_by"] == "auditor.sun"

    swept = intake("check", INTAKE_DATABASE_URL=as_role(database_url, MONITOR))
    assert swept.returncode == 0, swept.stderr
    assert "1 new revision(s)" in swept.stdout
    history = api.get(f"/api/v1/intakes/{INTAKE}/signoffs", headers=headers).json()
    revision = history[0]["revisions"][0]
    assert (Decimal(revision["signed_m3"]), Decimal(revision["computed_m3"])) == (signed_m3, computed)
    assert "1 reading(s) of" in revision["why"] and "received after the sign-off" in revision["why"]
    assert revision["accepted_by"] is None
    again = intake("check", INTAKE_DATABASE_URL=as_role(database_url, MONITOR))
    assert "new revision" not in again.stdout  # recorded once

    report = api.get("/api/v1/exports/registration", headers=headers, params={"year": year})
    sheet = openpyxl.load_workbook(io.BytesIO(report.content)).worksheets[0]
    row = next(r for r in sheet.iter_rows(values_only=True) if r[0] == INTAKE)
    wan = (signed_m3 / 10000).quantize(Decimal("0.0001"))
    assert any(c is not None and Decimal(str(c)) == wan for c in row[4:12] if isinstance(c, int | float))
    assert any("signed off by auditor.sun" in str(c) and f"computed now {computed}" in str(c) for c in row)

    accepted = api.post(f"/api/v1/intakes/{INTAKE}/signoffs", headers=headers, json={"year": year})
    assert accepted.status_code == 201 and Decimal(accepted.json()["volume_m3"]) == computed
    history = api.get(f"/api/v1/intakes/{INTAKE}/signoffs", headers=headers).json()
    assert history[1]["superseded_by"] == history[0]["id"] == accepted.json()["id"]
    assert history[1]["revisions"][0]["accepted_by"] == accepted.json()["id"]
    now = _annual(api, headers, year)
    assert Decimal(str(now["volume_m3"])) == computed and now["pending_revision"] is False
    assert "new revision" not in intake("check", INTAKE_DATABASE_URL=as_role(database_url, MONITOR)).stdout
    future = api.post(f"/api/v1/intakes/{INTAKE}/signoffs", headers=headers, json={"year": year + 1})
    assert future.status_code == 422
