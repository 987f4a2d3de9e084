"""Manual readings (人工抄表) through the API: one from the form, a batch as a file; each stored as a
meter's reading would be, marked manual, visible in the day's volume; bad rows refused with their
row and reason, the rest stored; scope and roles as everywhere."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api import accounts
from api.auth import Role
from infra.sandbox import PrivatePostgres
from tests.api.conftest import ZONE, api_client, bearer, loaded_county


@dataclass
class County:
    url: str
    meter: str  # a meter never heard from (an intake that cannot report online)
    other: str  # another such meter
    tokens: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def county(postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[County]:
    with loaded_county(postgres, tmp_path_factory.mktemp("manual"), intakes=16, seed=21) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            silent = conn.execute(
                "SELECT m.meter_id, i.division_code FROM meters m JOIN intakes i ON i.code = m.intake_code "
                "WHERE NOT EXISTS (SELECT 1 FROM readings r WHERE r.meter_id = m.meter_id) "
                "AND m.removed_on IS NULL AND m.installed_on < now() - interval '60 days' ORDER BY 1"
            ).fetchall()
            divisions = [d for _m, d in silent]
            division = max(sorted(set(divisions)), key=divisions.count)
            same = [m for m, d in silent if d == division]
            assert len(same) >= 2
            elsewhere = "211381" if division != "211381" else "211382"
            tokens = {
                name: bearer(accounts.add(conn, f"manual-{name}", role, "tests", where))
                for name, role, where in (
                    ("operator", Role.OPERATOR, division),
                    ("auditor", Role.AUDITOR, None),
                    ("elsewhere", Role.OPERATOR, elsewhere),
                )
            }
        yield County(url, same[0], same[1], tokens)


@pytest.fixture(scope="module")
def client(county: County) -> Iterator[TestClient]:
    with api_client(county.url) as test_client:
        yield test_client


def _local(days_ago: int, hour: int = 9) -> datetime:
    today = datetime.now(ZONE).replace(hour=hour, minute=30, second=0, microsecond=0)
    return today - timedelta(days=days_ago)


def _csv(
    rows: list[list[Any]], headers: tuple[str, ...] = ("计量设施编号", "抄表时间", "表底数(m³)", "抄表人")
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode()


def test_a_reading_from_the_form_is_stored_marked_manual_and_counted_in_the_days(
    client: TestClient, county: County
) -> None:
    url = f"/api/v1/meters/{county.meter}/manual-readings"
    first, second = _local(12), _local(2)
    made = client.post(
        url,
        json={"read_at": first.strftime("%Y-%m-%dT%H:%M"), "totalizer_m3": "5000.125", "read_by": "张三"},
        headers=county.tokens["operator"],
    )
    assert made.status_code == 201, made.text
    assert made.json()["read_by"] == "张三" and made.json()["entered_by"] == "manual-operator"
    assert datetime.fromisoformat(made.json()["ts"]) == first  # a time without offset is local time
    body = {"read_at": second.isoformat(), "totalizer_m3": "5400.250", "photo_ref": "IMG_7.jpg"}
    assert client.post(url, json=body, headers=county.tokens["operator"]).status_code == 201
    assert client.post(url, json=body, headers=county.tokens["operator"]).status_code == 200  # once only
    changed = client.post(url, json={**body, "totalizer_m3": "5401"}, headers=county.tokens["operator"])
    assert changed.status_code == 409 and "5400.25" in changed.json()["detail"]

    readings = client.get(
        f"/api/v1/meters/{county.meter}/readings",
        params={
            "from": (first - timedelta(hours=1)).isoformat(),
            "to": (second + timedelta(hours=1)).isoformat(),
        },
        headers=county.tokens["auditor"],
    ).json()["items"]
    assert [(r["total_m3"], r["manual"], r["read_by"]) for r in readings] == [
        ("5000.125", True, "张三"),
        ("5400.250", True, "manual-operator"),
    ]
    days = client.get(
        f"/api/v1/meters/{county.meter}/daily-volumes",
        params={"from": first.date().isoformat(), "to": second.date().isoformat()},
        headers=county.tokens["auditor"],
    ).json()
    assert len(days) == 11
    assert sum((Decimal(d["volume_m3"]) for d in days), Decimal(0)).quantize(Decimal("0.001")) == Decimal(
        "400.125"
    )
    listed = client.get(url, headers=county.tokens["auditor"]).json()
    assert [r["photo_ref"] for r in listed["items"]] == ["IMG_7.jpg", None] and listed["total"] == 2
    annual = client.get(
        "/api/v1/annual-volumes", params={"year": second.year}, headers=county.tokens["auditor"]
    ).json()["items"]
    with psycopg.connect(county.url) as conn:
        code = conn.execute("SELECT intake_code FROM meters WHERE meter_id = %s", (county.meter,)).fetchone()
    mine = next(a for a in annual if code and a["intake_code"] == code[0])
    if first.year == second.year:
        assert mine["manual_readings"] == 2 and "entered by hand" in mine["basis"]


def test_a_future_or_refused_reading_changes_nothing(client: TestClient, county: County) -> None:
    url = f"/api/v1/meters/{county.other}/manual-readings"
    ahead = datetime.now(ZONE) + timedelta(hours=3)
    refused = client.post(
        url, json={"read_at": ahead.isoformat(), "totalizer_m3": 1}, headers=county.tokens["operator"]
    )
    assert refused.status_code == 422 and "ahead" in refused.json()["detail"]
    negative = client.post(
        url, json={"read_at": _local(3).isoformat(), "totalizer_m3": -1}, headers=county.tokens["operator"]
    )
    assert negative.status_code == 422
    body = {"read_at": _local(3).isoformat(), "totalizer_m3": 1}
    assert client.post(url, json=body, headers=county.tokens["auditor"]).status_code == 403
    assert client.post(url, json=body, headers=county.tokens["elsewhere"]).status_code == 404
    with psycopg.connect(county.url) as conn:
        stored = conn.execute("SELECT count(*) FROM readings WHERE meter_id = %s", (county.other,)).fetchone()
    assert stored == (0,)


def test_a_batch_stores_its_good_rows_and_names_each_bad_one(client: TestClient, county: County) -> None:
    stamp = "%Y-%m-%d %H:%M"
    body = _csv(
        [
            [county.other, _local(20).strftime(stamp), "100", "李四"],
            [county.other, "not a time", "110", "李四"],
            ["NO-SUCH-METER", _local(19).strftime(stamp), "1", "李四"],
            [county.other, _local(10).strftime(stamp), "150.5", ""],  # the reader from the query
            [county.other, _local(5).strftime(stamp), "-3", "李四"],
        ]
    )
    upload = client.post(
        "/api/v1/manual-readings",
        params={"read_by": "王五"},
        content=body,
        headers={**county.tokens["operator"], "Content-Type": "text/csv"},
    )
    assert upload.status_code == 200, upload.text
    got = upload.json()
    assert (got["rows"], got["stored"], got["already_stored"]) == (5, 2, 0)
    assert [(r["row"], r["reason"]) for r in got["refused"]] == [
        (3, "bad_row"),
        (4, "unknown_meter"),
        (6, "total_negative"),
    ]
    again = client.post(
        "/api/v1/manual-readings",
        params={"read_by": "王五"},
        content=body,
        headers={**county.tokens["operator"], "Content-Type": "text/csv"},
    ).json()
    assert (again["stored"], again["already_stored"]) == (0, 2)
    with psycopg.connect(county.url) as conn:
        rows = conn.execute(
            "SELECT total_m3, read_by, channel FROM manual_readings WHERE meter_id = %s ORDER BY ts",
            (county.other,),
        ).fetchall()
    assert rows == [(Decimal(100), "李四", "upload"), (Decimal("150.5"), "王五", "upload")]
    elsewhere = client.post(
        "/api/v1/manual-readings",
        content=body,
        headers={**county.tokens["elsewhere"], "Content-Type": "text/csv"},
    ).json()
    assert elsewhere["stored"] == 0 and {r["reason"] for r in elsewhere["refused"]} >= {"unknown_meter"}
    headless = client.post(
        "/api/v1/manual-readings",
        content=_csv([["x"]], headers=("名称",)),
        headers={**county.tokens["operator"], "Content-Type": "text/csv"},
    )
    assert headless.status_code == 422 and "计量设施编号" in headless.json()["detail"]
    template = client.get("/api/v1/manual-readings/template", headers=county.tokens["auditor"])
    assert template.status_code == 200 and template.text.lstrip("\ufeff").startswith(
        "计量设施编号,抄表时间,表底数(m³)"
    )
