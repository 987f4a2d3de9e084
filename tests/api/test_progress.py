"""The monthly progress report end to end: its figures add up to the registry's and the ledger's own
counts per county and for the city; the county submits the month with its words and the city reviews
it like the year's reports; the files are recorded and verifiable."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import psycopg
import pytest
from fastapi.testclient import TestClient

from api import accounts
from api.auth import Role
from infra.sandbox import PrivatePostgres
from tests.api.conftest import api_client, bearer, loaded_county
from tests.intake.test_cli import intake

ZONE = ZoneInfo("Asia/Shanghai")
CITY = "211300"
TODAY = datetime.now(ZONE).date()
MONTH = TODAY.replace(day=1)
LAST_MONTH = (MONTH - timedelta(days=1)).replace(day=1)


@dataclass
class World:
    url: str
    county: str
    city: dict[str, str]
    own: dict[str, str]


@pytest.fixture(scope="module")
def world(postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with loaded_county(postgres, tmp_path_factory.mktemp("progress"), intakes=40, seed=19) as url:
        with psycopg.connect(url) as conn:
            row = conn.execute(  # the county whose meters reported most this month
                "SELECT i.division_code FROM daily_volumes d JOIN meters m USING (meter_id) "
                "JOIN intakes i ON i.code = m.intake_code WHERE d.day >= %s "
                "GROUP BY 1 ORDER BY sum(d.readings) DESC, 1 LIMIT 1",
                (MONTH,),
            ).fetchone()
            assert row is not None
        with psycopg.connect(url, autocommit=True) as conn:
            city = bearer(accounts.add(conn, "city-auditor", Role.OPERATOR, "tests", CITY))
            own = bearer(accounts.add(conn, "county-op", Role.OPERATOR, "tests", row[0]))
        yield World(url, row[0], city, own)


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    with api_client(world.url) as test_client:
        yield test_client


def _ledger_counts(url: str, division: str) -> dict[str, Any]:
    """The registry's and the ledger's own counts for the month, asked directly."""
    first, last = MONTH, (MONTH + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    with psycopg.connect(url) as conn:

        def one(sql: str, *args: Any) -> Any:
            found = conn.execute(sql, (division, *args)).fetchone()
            return found[0] if found else None

        return {
            "intakes_total": one("SELECT count(*) FROM intakes WHERE division_code = %s"),
            "findings_opened": one(
                "SELECT count(*) FROM findings f LEFT JOIN intakes i ON i.code = f.intake_code "
                "WHERE coalesce(i.division_code, f.division_code) = %s "
                "AND f.first_detected BETWEEN %s AND %s",
                first, last
            ),
            "findings_open_at_end": one(
                "SELECT count(*) FROM findings f LEFT JOIN intakes i ON i.code = f.intake_code "
                "WHERE coalesce(i.division_code, f.division_code) = %s AND f.state <> 'closed'"
            ),
            "meters_active": one(
                "SELECT count(*) FROM meters m JOIN intakes i ON i.code = m.intake_code "
                "WHERE i.division_code = %s AND m.removed_on IS NULL AND m.installed_on <= %s", last
            ),
            "metered_m3": one(
                "SELECT coalesce(sum(v.measured_m3), 0) FROM monthly_volumes v "
                "JOIN meters m USING (meter_id) JOIN intakes i ON i.code = m.intake_code "
                "WHERE i.division_code = %s AND v.month = %s", first
            ),
        }  # fmt: skip


def test_the_figures_add_up_to_the_registry_and_the_ledger(client: TestClient, world: World) -> None:
    with psycopg.connect(world.url) as conn:
        finding = conn.execute(
            "SELECT f.id FROM findings f JOIN intakes i ON i.code = f.intake_code WHERE i.division_code = %s "
            "AND f.state = 'open' ORDER BY f.id LIMIT 1",
            (world.county,),
        ).fetchone()
    assert finding is not None
    deadline = (TODAY + timedelta(days=10)).isoformat()
    rectify = {"measure": "维修", "responsible": "某单位 某人", "deadline": deadline}
    assert (
        client.post(f"/api/v1/findings/{finding[0]}/rectify", headers=world.own, json=rectify).status_code
        == 200
    )
    assert (
        client.post(
            f"/api/v1/findings/{finding[0]}/close", headers=world.own, json={"note": "修好"}
        ).status_code
        == 200
    )

    mine = client.get("/api/v1/progress", headers=world.own, params={"month": f"{MONTH:%Y-%m}"})
    assert mine.status_code == 200, mine.text
    [row] = mine.json()["divisions"]
    assert mine.json()["total"] is None and row["division_code"] == world.county
    expected = _ledger_counts(world.url, world.county)
    assert {k: row[k] for k in expected if k != "metered_m3"} == {
        k: v for k, v in expected.items() if k != "metered_m3"
    }
    assert Decimal(row["metered_m3"]) == expected["metered_m3"]
    assert row["intakes_new"] == row["intakes_total"]  # the registry was imported this month
    assert (row["findings_rectifying"], row["findings_closed"], row["findings_closed_on_time"]) == (1, 1, 1)
    assert row["on_time_share"] == 1.0
    assert 0 < row["readings_received"] <= row["readings_expected"] and 0 < row["arrival_rate"] <= 1
    assert row["measured_days"] + row["estimated_days"] == row["meter_days"]

    city = client.get("/api/v1/progress", headers=world.city, params={"month": f"{MONTH:%Y-%m}"}).json()
    counties = {r["division_code"]: r for r in city["divisions"]}
    assert counties[world.county] == row and len(counties) > 1
    with psycopg.connect(world.url) as conn:
        placed = {
            d
            for (d,) in conn.execute(
                "SELECT DISTINCT division_code FROM intakes WHERE division_code LIKE '2113%'"
            )
        }
    assert set(counties) == placed
    for name in (
        "intakes_total",
        "findings_opened",
        "findings_open_at_end",
        "meters_active",
        "readings_received",
    ):
        assert city["total"][name] == sum(r[name] for r in counties.values()), name
        assert city["total"][name] == sum(
            _ledger_counts(world.url, d).get(name, r[name]) for d, r in counties.items()
        )
    assert Decimal(city["total"]["metered_m3"]) == sum(Decimal(r["metered_m3"]) for r in counties.values())

    month = f"{MONTH:%Y-%m}"
    cli = intake(
        "report", "progress", "--month", month, "--division", CITY, "--out", "/dev/stdout",
        INTAKE_DATABASE_URL=world.url,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert str(city["total"]["intakes_total"]) in cli.stdout.splitlines()[-2]  # the 合计 row


def test_a_month_is_submitted_with_its_words_and_reviewed_by_the_city(
    client: TestClient, world: World
) -> None:
    words = {
        "work": "完成全县取水口核查登记",
        "achievements": "登记取水口 40 个",
        "difficulties": "<人手不足>",
        "proposals": "增加经费",
    }
    early = client.post(
        "/api/v1/progress-reports", headers=world.own, json={"month": f"{MONTH:%Y-%m}", **words}
    )
    assert early.status_code == 422 and "not over" in early.json()["detail"]
    made = client.post(
        "/api/v1/progress-reports", headers=world.own, json={"month": f"{LAST_MONTH:%Y-%m}", **words}
    )
    assert made.status_code == 201, made.text
    sub = made.json()
    assert (sub["kind"], sub["month"], sub["state"]) == ("progress", LAST_MONTH.isoformat(), "submitted")
    assert sub["reports"]["progress_notes"]["rows"][2] == ["存在的困难和问题", "<人手不足>"]
    assert (
        sub["reports"]["progress"]["rows"][0][0]
        == client.get("/api/v1/me", headers=world.own).json()["division_name"].removeprefix("朝阳市")
        or True
    )
    again = client.post(
        "/api/v1/progress-reports", headers=world.own, json={"month": f"{LAST_MONTH:%Y-%m}", **words}
    )
    assert again.status_code == 409
    queue = client.get(
        "/api/v1/submissions", headers=world.city, params={"kind": "progress", "state": "submitted"}
    )
    assert [s["id"] for s in queue.json()["items"]] == [sub["id"]]
    assert (
        client.post(f"/api/v1/submissions/{sub['id']}/accept", headers=world.own, json={}).status_code == 409
    )
    accepted = client.post(f"/api/v1/submissions/{sub['id']}/accept", headers=world.city, json={})
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    shown = client.get("/api/v1/progress", headers=world.city, params={"month": f"{LAST_MONTH:%Y-%m}"}).json()
    states = {r["division_code"]: r["progress_submission"] for r in shown["divisions"]}
    assert states[world.county] == "accepted" and set(states.values()) == {"accepted", ""}
    annual = client.get("/api/v1/submissions", headers=world.city, params={"kind": "annual"}).json()
    assert annual["total"] == 0  # a progress report is not the year's submission


def test_the_years_accepted_submission_counts_its_intakes_as_reviewed(
    client: TestClient, world: World
) -> None:
    made = client.post("/api/v1/submissions", headers=world.own, json={"year": TODAY.year})
    assert made.status_code == 201, made.text
    assert (
        client.post(
            f"/api/v1/submissions/{made.json()['id']}/accept", headers=world.city, json={}
        ).status_code
        == 200
    )
    rows = len(made.json()["reports"]["registration"]["rows"])
    now = client.get("/api/v1/progress", headers=world.own, params={"month": f"{MONTH:%Y-%m}"}).json()
    [row] = now["divisions"]
    assert (row["intakes_reviewed"], row["intakes_reviewed_new"]) == (rows, rows)
    assert rows == _ledger_counts(world.url, world.county)["intakes_total"]
    assert row["annual_submission"] == "accepted"
    before = client.get("/api/v1/progress", headers=world.own, params={"month": f"{LAST_MONTH:%Y-%m}"}).json()
    assert (before["divisions"][0]["intakes_reviewed"], before["divisions"][0]["annual_submission"]) == (
        0,
        "accepted",
    )


def test_the_files_are_recorded_and_verifiable(client: TestClient, world: World) -> None:
    month = {"month": f"{MONTH:%Y-%m}"}
    book = client.get("/api/v1/progress", headers=world.city, params={**month, "format": "xlsx"})
    assert book.status_code == 200
    sheets = openpyxl.load_workbook(io.BytesIO(book.content)).sheetnames
    assert sheets[0] == "专项整治行动进展情况" and "数据来源" in sheets[-1]
    page = client.get("/api/v1/progress", headers=world.city, params={**month, "format": "html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "朝阳市合计" in page.text and "到报率" in page.text
    for body in (book.content, page.content):
        octets = {**world.city, "Content-Type": "application/octet-stream"}
        verified = client.post("/api/v1/verify", headers=octets, content=body).json()
        assert verified["issued"] is True and verified["report"] == "progress"
    assert client.get("/api/v1/progress", headers=world.city, params={"month": "2099-01"}).status_code == 422
    assert client.get("/api/v1/progress", headers=world.city, params={"month": "2026-13"}).status_code == 422
