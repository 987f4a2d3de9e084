"""Corrections of a meter's days over HTTP: a correction changes the day's reported volume and method
and the year's figure, keeps the register's volume, is superseded and revoked with a trail, and is
undone cleanly (the rollups return to what they were)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from api.auth import Role
from tests.api.conftest import bearer


def _metered_day(client: TestClient, token: str) -> tuple[str, dict[str, Any]]:
    """A live meter and one of its metered days with some volume."""
    status = client.get("/api/v1/meters/status", headers=bearer(token), params={"status": "online"})
    for item in status.json()["items"]:
        days = client.get(f"/api/v1/meters/{item['meter_id']}/daily-volumes", headers=bearer(token)).json()
        for d in days:
            if d["method"] == "metered" and Decimal(d["volume_m3"]) > 0:
                return item["meter_id"], d
    raise AssertionError("no metered day with volume in the sample county")


def _year(county_url: str, meter_id: str, year: int) -> tuple[Any, ...]:
    with psycopg.connect(county_url) as conn:
        row = conn.execute(
            "SELECT volume_m3, measured_days, measured_m3, credible_days, corrected_days FROM yearly_volumes "
            "WHERE meter_id = %s AND year = %s",
            (meter_id, year),
        ).fetchone()
    assert row is not None
    return tuple(row)


def test_a_correction_changes_the_day_keeps_the_original_and_is_undone_cleanly(
    client: TestClient, county_url: str, tokens: dict[Role, str]
) -> None:
    auditor = bearer(tokens[Role.AUDITOR])
    meter_id, day = _metered_day(client, tokens[Role.AUDITOR])
    year = date.fromisoformat(day["day"]).year
    before = _year(county_url, meter_id, year)
    url = f"/api/v1/meters/{meter_id}/corrections"
    body = {"day": day["day"], "kind": "volume", "volume_m3": "123.456", "reason": "read from the display"}
    made = client.post(url, headers=auditor, json={**body, "evidence": "photo 2026-11-30-01"})
    assert made.status_code == 201, made.text
    (first,) = made.json()
    assert (first["previous_m3"], first["volume_m3"], first["created_by"]) == (
        day["volume_m3"],
        "123.456",
        f"test-{Role.AUDITOR}",
    )
    (shown,) = [
        d
        for d in client.get(f"/api/v1/meters/{meter_id}/daily-volumes", headers=auditor).json()
        if d["day"] == day["day"]
    ]
    assert (shown["method"], shown["reported_m3"], shown["volume_m3"]) == (
        "corrected",
        "123.456",
        day["volume_m3"],
    )
    assert (shown["known"], shown["credible"], shown["correction_id"]) == (True, False, first["id"])
    assert shown["correction_reason"] == "read from the display"
    corrected_year = _year(county_url, meter_id, year)
    assert corrected_year[0] == before[0] - Decimal(day["volume_m3"]) + Decimal("123.456")
    assert (corrected_year[3], corrected_year[4]) == (before[3] - 1, before[4] + 1)  # no longer a basis

    # a second correction supersedes the first; both stay in the trail
    again = client.post(url, headers=auditor, json={**body, "kind": "invalid", "volume_m3": None})
    assert again.status_code == 201, again.text
    trail = client.get(url, headers=auditor).json()["items"]
    assert [(c["kind"], c["revoked_at"] is None) for c in trail[:2]] == [("invalid", True), ("volume", False)]
    assert trail[1]["revoke_reason"] == "superseded by a later correction"
    invalid_year = _year(county_url, meter_id, year)
    assert invalid_year[1] == before[1] - 1  # an invalid day is not measured: the year estimates it

    revoked = client.post(
        f"/api/v1/corrections/{again.json()[0]['id']}/revoke",
        headers=auditor,
        json={"reason": "the display was misread"},
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_by"] == f"test-{Role.AUDITOR}"
    assert _year(county_url, meter_id, year) == before  # undone cleanly
    (back,) = [
        d
        for d in client.get(f"/api/v1/meters/{meter_id}/daily-volumes", headers=auditor).json()
        if d["day"] == day["day"]
    ]
    assert (back["method"], back["reported_m3"], back["correction_id"]) == ("metered", day["volume_m3"], None)
    twice = client.post(
        f"/api/v1/corrections/{again.json()[0]['id']}/revoke", headers=auditor, json={"reason": "again"}
    )
    assert twice.status_code == 409


def test_refused_corrections_change_nothing(
    client: TestClient, county_url: str, tokens: dict[Role, str]
) -> None:
    auditor = bearer(tokens[Role.AUDITOR])
    meter_id, day = _metered_day(client, tokens[Role.AUDITOR])
    url = f"/api/v1/meters/{meter_id}/corrections"
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    cases = [
        ({"day": tomorrow, "kind": "invalid", "reason": "x"}, "has not ended yet"),
        ({"day": "2000-01-01", "kind": "invalid", "reason": "x"}, "before the meter was installed"),
        (
            {"day": day["day"], "to_day": tomorrow, "kind": "volume", "volume_m3": "1", "reason": "x"},
            "one day",
        ),
        ({"day": day["day"], "kind": "volume", "reason": "x"}, "volume_m3 is given exactly when"),
        (
            {"day": day["day"], "kind": "invalid", "volume_m3": "5", "reason": "x"},
            "volume_m3 is given exactly",
        ),
    ]
    with psycopg.connect(county_url) as conn:
        count_before = conn.execute("SELECT count(*) FROM volume_corrections").fetchone()
    for body, says in cases:
        answer = client.post(url, headers=auditor, json=body)
        assert answer.status_code == 422 and says in answer.json()["detail"], (body, answer.text)
    nobody = {"day": day["day"], "kind": "invalid", "reason": "x"}
    assert client.post("/api/v1/meters/nobody/corrections", headers=auditor, json=nobody).status_code == 404
    assert (
        client.post("/api/v1/corrections/999999/revoke", headers=auditor, json={"reason": "x"}).status_code
        == 404
    )
    with psycopg.connect(county_url) as conn:
        assert conn.execute("SELECT count(*) FROM volume_corrections").fetchone() == count_before
