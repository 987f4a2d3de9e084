"""Readings, volumes, status and the map over HTTP, checked against the database they come from:
every stored reading comes back once, buckets add up to the readings, the map agrees with the
status list and the fleet summary."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import openpyxl
import psycopg
from fastapi.testclient import TestClient

from anomaly.reports import COMPLIANCE_HEADERS, LEDGER_HEADERS
from api.auth import Role
from tests.api.conftest import bearer


def _online_meter(client: TestClient, token: str) -> str:
    items = client.get("/api/v1/meters/status", headers=bearer(token), params={"status": "online"}).json()[
        "items"
    ]
    return str(items[0]["meter_id"])


def test_raw_pages_return_every_stored_reading_once(
    client: TestClient, tokens: dict[Role, str], county_url: str
) -> None:
    auditor = bearer(tokens[Role.AUDITOR])
    meter = _online_meter(client, tokens[Role.AUDITOR])
    end = datetime.now(UTC) + timedelta(hours=1)
    start = end - timedelta(days=10)
    seen: list[str] = []
    offset = 0
    while True:
        page = client.get(
            f"/api/v1/meters/{meter}/readings",
            headers=auditor,
            params={"from": start.isoformat(), "to": end.isoformat(), "limit": 1000, "offset": offset},
        ).json()
        seen += [r["ts"] for r in page["items"]]
        offset += 1000
        if offset >= page["total"]:
            break
    with psycopg.connect(county_url) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM readings WHERE meter_id = %s AND ts >= %s AND ts < %s", (meter, start, end)
        ).fetchone()
    assert stored is not None and len(seen) == len(set(seen)) == stored[0] > 0
    assert seen == sorted(seen)


def test_daily_buckets_add_up_to_the_readings_and_the_volumes(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    auditor = bearer(tokens[Role.AUDITOR])
    meter = _online_meter(client, tokens[Role.AUDITOR])
    params = {"from": "2026-11-01T00:00:00+08:00", "to": "2026-11-21T00:00:00+08:00"}
    buckets = client.get(
        f"/api/v1/meters/{meter}/readings", headers=auditor, params={**params, "bucket": "1d"}
    ).json()
    raw = client.get(
        f"/api/v1/meters/{meter}/readings", headers=auditor, params={**params, "limit": 1}
    ).json()
    assert len(buckets) == 20
    assert sum(b["readings"] for b in buckets) == raw["total"]
    assert buckets[0]["bucket"].startswith("2026-10-31T16:00:00")  # local midnight, in UTC
    days = client.get(
        f"/api/v1/meters/{meter}/daily-volumes",
        headers=auditor,
        params={"from": "2026-11-02", "to": "2026-11-19"},
    ).json()
    assert [d["day"] for d in days] == [f"2026-11-{n:02d}" for n in range(2, 20)]
    # The volume of the days 2..19 is the totalizer's advance from the first reading of the 2nd (at
    # midnight) to the first of the 20th.
    by_day = {b["bucket"][:10]: b for b in buckets}
    advance = Decimal(by_day["2026-11-19"]["first_total_m3"]) - Decimal(
        by_day["2026-11-01"]["first_total_m3"]
    )
    assert sum(Decimal(d["volume_m3"]) for d in days) == advance


def test_too_many_buckets_or_a_backwards_range_is_refused(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    auditor = bearer(tokens[Role.AUDITOR])
    meter = _online_meter(client, tokens[Role.AUDITOR])
    url = f"/api/v1/meters/{meter}/readings"
    many = client.get(
        url,
        headers=auditor,
        params={"from": "2000-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "bucket": "15m"},
    )
    assert many.status_code == 422 and many.json()["errors"][0]["field"] == "bucket"
    backwards = client.get(
        url, headers=auditor, params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    )
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "to"
    ancient = client.get(
        f"/api/v1/meters/{meter}/daily-volumes", headers=auditor, params={"to": "0001-01-05"}
    )
    assert ancient.status_code == 422 and ancient.json()["errors"][0]["field"] == "to"
    missing = client.get(url, headers=auditor, params={"to": "2026-01-01T00:00:00Z", "from": "0.5"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "from"


def test_the_map_agrees_with_the_status_list_and_the_fleet_summary(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    auditor = bearer(tokens[Role.AUDITOR])
    features = client.get("/api/v1/map.geojson", headers=auditor)
    assert features.headers["content-type"] == "application/geo+json"
    collection = features.json()
    intakes = client.get("/api/v1/intakes", headers=auditor, params={"limit": 1000}).json()
    assert sorted(f["properties"]["code"] for f in collection["features"]) == sorted(
        i["code"] for i in intakes["items"]
    )
    status = client.get("/api/v1/meters/status", headers=auditor, params={"limit": 1000}).json()["items"]
    on_map = {f["properties"]["meter_id"]: f["properties"]["status"] for f in collection["features"]}
    assert all(on_map[s["meter_id"]] == s["status"] for s in status)
    summary = client.get("/api/v1/fleet/summary", headers=auditor).json()
    for name in ("online", "offline", "never_reported"):
        assert sum(c[name] for c in summary) == sum(1 for s in status if s["status"] == name)
    assert sum(c["offline"] for c in summary) == 3 and sum(c["online"] for c in summary) == 6
    for f in collection["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert 73 < lon < 136 and 18 < lat < 54


def test_offline_meters_say_since_when(client: TestClient, tokens: dict[Role, str]) -> None:
    offline = client.get(
        "/api/v1/meters/status", headers=bearer(tokens[Role.AUDITOR]), params={"status": "offline"}
    ).json()["items"]
    assert len(offline) == 3
    for meter in offline:
        since = datetime.fromisoformat(meter["status_since"])
        assert timedelta(days=2) < datetime.now(UTC) - since < timedelta(days=4)


def test_exports_carry_the_forms_headers(client: TestClient, tokens: dict[Role, str]) -> None:
    auditor = bearer(tokens[Role.AUDITOR])
    sheet = client.get("/api/v1/exports/ledger", headers=auditor)
    assert sheet.status_code == 200 and "ledger-" in sheet.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(sheet.content))
    rows = list(book.active.iter_rows(values_only=True))  # type: ignore[union-attr]
    findings = client.get("/api/v1/findings", headers=auditor, params={"limit": 1000}).json()["items"]
    # one row per intake (each intake of a permit's finding) and problem type, as Annex 3 has it
    pairs = {
        (code, f["problem"])
        for f in findings
        for code in (
            [f["intake_code"]] if f["intake_code"] else f["evidence"].get("intakes") or [f["subject"]]
        )
    }
    assert list(rows[0]) == LEDGER_HEADERS and len(rows) == len(pairs) + 1
    text = client.get("/api/v1/exports/compliance", headers=auditor, params={"format": "csv"})
    assert text.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(text.content.decode("utf-8-sig"))))
    permits = client.get("/api/v1/compliance", headers=auditor, params={"limit": 1000}).json()
    assert table[0] == COMPLIANCE_HEADERS and len(table) == permits["total"] + 1
    assert [r[0] for r in table[1:]] == [p["permit_no"] for p in permits["items"]]
    for as_of in ("0001-01-02", "2999-01-01"):  # the reports look four years back; the future has no data
        refused = client.get("/api/v1/exports/summary", headers=auditor, params={"as_of": as_of})
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "as_of"
    unknown = client.get("/api/v1/exports/taxes", headers=auditor)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "report"


def test_errors_are_problem_documents(client: TestClient, tokens: dict[Role, str]) -> None:
    auditor = bearer(tokens[Role.AUDITOR])
    for path, status in (
        ("/api/v1/nowhere", 404),
        ("/api/v1/meters/no-such", 404),
        ("/api/v1/intakes?limit=0", 422),
    ):
        response = client.get(path, headers=auditor)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["status"] == status and body["title"] and body["detail"]
    too_big = client.get("/api/v1/intakes", headers=auditor, params={"limit": 100_000}).json()
    assert [e["field"] for e in too_big["errors"]] == ["limit"] and "1000" in too_big["errors"][0]["message"]
    typo = client.get("/api/v1/meters/status", headers=auditor, params={"stauts": "offline"})
    assert typo.status_code == 422 and typo.json()["errors"][0]["field"] == "stauts"
    assert "status" in typo.json()["detail"]  # the parameters it does take are named
    wrong_method = client.delete("/api/v1/meters", headers=auditor)
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET, HEAD, POST"


def test_a_meters_days_show_no_online_share_for_time_not_watched(
    client: TestClient, county_url: str, tokens: dict[Role, str]
) -> None:
    """The sample county's six weeks were stored before its one status sweep: those days have readings
    (到报率) but no online share; today is judged on the part of it that has passed."""
    auditor = bearer(tokens[Role.AUDITOR])
    meter = client.get("/api/v1/meters/status", headers=auditor, params={"status": "online"}).json()["items"][
        0
    ]
    days = client.get(f"/api/v1/meters/{meter['meter_id']}/days", headers=auditor, params={"days": 7}).json()
    with psycopg.connect(county_url) as conn:
        first = conn.execute(
            "SELECT min(at) FROM meter_status_changes WHERE meter_id = %s", (meter["meter_id"],)
        ).fetchone()
    assert first is not None and first[0] is not None
    watched_from = first[0].date()
    before = [d for d in days if date.fromisoformat(d["day"]) < watched_from]
    assert before and all(d["online_share"] is None and d["observed_share"] == 0.0 for d in before)
    assert all(d["completeness"] is not None and d["completeness"] > 0 for d in before)  # readings were there
    assert days[-1]["partial"] is True and days[-1]["online_share"] is not None
    assert client.get("/api/v1/meters/nobody/days", headers=auditor).status_code == 404
