"""Reference lists end to end (漏报 and 信息不实): a permit ledger and an enterprise list with planted
omissions and mismatches, uploaded to the API; each planted gap is reported and recorded as a finding,
nothing else is; a second upload adds no finding; a bad list and a list of another county change
nothing; the findings flow through the ledger's lifecycle and the Annex 3 export within the division."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openpyxl
import psycopg
import pytest
from fastapi.testclient import TestClient

from api import accounts
from api.auth import Role
from infra.sandbox import PrivatePostgres
from tests.api.conftest import api_client, bearer, loaded_county

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LEDGER = ["取水许可证编号", "取水权人名称", "许可水量(万m³)", "有效期起", "有效期止", "行政区划代码"]
NEW_PERMIT = "取水(辽朝)字[2099]第00001号"


@dataclass
class County:
    url: str
    ledger: list[list[Any]]
    planted: set[tuple[str, str | None, str | None]]  # (gap, permit or intake, field)
    a: str  # the county of the unregistered permit
    b: str
    tokens: dict[str, dict[str, str]]


def _csv(rows: list[list[Any]], headers: list[str] = LEDGER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def county(postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[County]:
    with loaded_county(postgres, tmp_path_factory.mktemp("refs"), intakes=40, seed=13) as url:
        with psycopg.connect(url) as conn:
            permits = conn.execute(
                "SELECT p.permit_no, min(i.owner), (p.annual_volume_m3 / 10000)::text, p.valid_from, "
                "p.valid_to, min(i.division_code), count(*) "
                "FROM permits p JOIN intakes i ON i.permit_no = p.permit_no GROUP BY p.permit_no "
                "HAVING count(DISTINCT i.owner) = 1 AND count(DISTINCT i.division_code) = 1 ORDER BY 1"
            ).fetchall()
            single = [p for p in permits if p[6] == 1]
            owner_of: dict[str, str] = dict(
                conn.execute("SELECT permit_no, code FROM intakes WHERE permit_no IS NOT NULL")
            )
        ledger = [list(p[:6]) for p in permits]
        by_no = {row[0]: row for row in ledger}
        vol, valid, renamed = single[0][0], single[1][0], single[2][0]
        by_no[vol][2] = str(float(by_no[vol][2]) + 1)
        by_no[valid][4] = by_no[valid][4].replace(year=by_no[valid][4].year + 1)
        by_no[renamed][1] = "改了名的单位"
        a = str(by_no[vol][5])
        ledger.append([NEW_PERMIT, "新来的公司", "12", "2024-01-01", "2030-12-31", a])
        planted = {
            ("mismatch", vol, "annual_volume"),
            ("mismatch", valid, "valid_to"),
            ("mismatch", owner_of[renamed], "owner"),
            ("permit_unreferenced", NEW_PERMIT, None),
        }
        divisions = sorted({str(p[5]) for p in permits})
        b = next(d for d in divisions if d != a)
        tokens = {}
        with psycopg.connect(url, autocommit=True) as conn:
            for name, division in (("all", None), ("A", a), ("B", b)):
                tokens[name] = bearer(accounts.add(conn, f"ref-{name}", Role.OPERATOR, "tests", division))
        yield County(url, ledger, planted, a, b, tokens)


@pytest.fixture(scope="module")
def client(county: County) -> Iterator[TestClient]:
    with api_client(county.url) as test_client:
        yield test_client


def _upload(client: TestClient, who: dict[str, str], kind: str, body: bytes, media: str = "text/csv") -> Any:
    return client.post(
        "/api/v1/reference-lists", params={"kind": kind}, content=body, headers={**who, "Content-Type": media}
    )


def _gaps(report: dict[str, Any]) -> set[tuple[str, str | None, str | None]]:
    found = set()
    for g in report["gaps"]:
        what = g["intake_code"] if g["gap"] == "mismatch" and g["intake_code"] else g["permit_no"]
        found.add((g["gap"], what, g["field"]))
    return found


def _count(url: str, sql: str) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
    return row[0] if row else None


def test_a_ledgers_planted_gaps_are_reported_and_recorded_and_nothing_else(
    client: TestClient, county: County
) -> None:
    made = _upload(client, county.tokens["all"], "permit_ledger", _csv(county.ledger))
    assert made.status_code == 201, made.text
    report = made.json()
    assert _gaps(report) == county.planted
    assert report["matched"] == len(county.ledger) - 1
    assert report["findings_created"] == 4  # the permit with two fields off is one finding
    findings = client.get("/api/v1/findings", headers=county.tokens["all"], params={"limit": 1000}).json()
    mine = [f for f in findings["items"] if f["rule"].startswith(("permit_", "reference_"))]
    assert {(f["rule"], f["problem"]) for f in mine} == {
        ("permit_mismatch", "registration"),
        ("reference_mismatch", "registration"),
        ("permit_unreferenced", "unregistered"),
    }
    assert len(mine) == 4
    unregistered = next(f for f in mine if f["problem"] == "unregistered")
    assert unregistered["intake_code"] is None and unregistered["permit_no"] == NEW_PERMIT
    assert unregistered["intake_name"] == "新来的公司" and "新来的公司" in unregistered["description"]

    again = _upload(client, county.tokens["all"], "permit_ledger", _csv(county.ledger))
    assert again.status_code == 201
    assert (again.json()["findings_created"], again.json()["findings_updated"]) == (0, 0)
    assert (
        _count(
            county.url, "SELECT count(*) FROM findings WHERE rule LIKE 'permit_%' OR rule LIKE 'reference_%'"
        )
        == 4
    )
    listed = client.get("/api/v1/reference-lists", headers=county.tokens["all"]).json()
    assert listed["total"] == 2 and listed["items"][0]["kind"] == "permit_ledger"
    shown = client.get(f"/api/v1/reference-lists/{listed['items'][0]['id']}", headers=county.tokens["all"])
    assert shown.status_code == 200 and _gaps(shown.json()) == county.planted


def test_an_enterprise_lists_unregistered_entries_become_findings(client: TestClient, county: County) -> None:
    with psycopg.connect(county.url) as conn:
        registered = conn.execute(
            "SELECT owner, credit_code FROM intakes WHERE credit_code IS NOT NULL AND division_code = %s "
            "ORDER BY code LIMIT 2",
            (county.a,),
        ).fetchall()
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["企业名称", "统一社会信用代码", "地址"])
    for owner, code in registered:
        sheet.append([owner, code, "开发区"])
    sheet.append(["入驻新企业有限公司", "91211300MA10000001", "开发区纬一路"])
    out = io.BytesIO()
    book.save(out)
    made = _upload(client, county.tokens["A"], "enterprises", out.getvalue(), XLSX)
    assert made.status_code == 201, made.text
    assert [(g["gap"], g["owner"]) for g in made.json()["gaps"]] == [("unregistered", "入驻新企业有限公司")]
    found = client.get(
        "/api/v1/findings", headers=county.tokens["A"], params={"problem": "unregistered", "limit": 1000}
    ).json()["items"]
    entry = next(f for f in found if f["rule"] == "reference_unregistered")
    assert entry["subject"] == "enterprises:credit:91211300MA10000001"
    # county B sees neither the finding nor the list; county A works it to closure
    assert client.get(f"/api/v1/findings/{entry['id']}", headers=county.tokens["B"]).status_code == 404
    rectify = {"measure": "补充登记", "responsible": "县水利局 张三", "deadline": "2027-03-31"}
    assert (
        client.post(
            f"/api/v1/findings/{entry['id']}/rectify", headers=county.tokens["B"], json=rectify
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/findings/{entry['id']}/rectify", headers=county.tokens["A"], json=rectify
        ).status_code
        == 200
    )
    closed = client.post(
        f"/api/v1/findings/{entry['id']}/close", headers=county.tokens["A"], json={"note": "已登记"}
    )
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    lists_b = client.get("/api/v1/reference-lists", headers=county.tokens["B"]).json()
    assert lists_b["total"] == 0
    list_id = made.json()["reference_list"]["id"]
    assert client.get(f"/api/v1/reference-lists/{list_id}", headers=county.tokens["B"]).status_code == 404


def test_the_annex_3_export_holds_the_unregistered_permit_within_its_division(
    client: TestClient, county: County
) -> None:
    for who, holds in (("A", True), ("B", False)):
        got = client.get("/api/v1/exports/ledger", headers=county.tokens[who])
        assert got.status_code == 200, got.text
        sheet = openpyxl.load_workbook(io.BytesIO(got.content)).worksheets[0]
        rows = [r for r in sheet.iter_rows(min_row=2, values_only=True)]
        hit = [r for r in rows if r[1] == "新来的公司" or (r[4] and NEW_PERMIT in str(r[4]))]
        assert bool(hit) == holds, who
        if holds:
            assert hit[0][3] == "应登未登"


def test_a_bad_list_or_one_of_another_county_changes_nothing(client: TestClient, county: County) -> None:
    before = (
        _count(county.url, "SELECT count(*) FROM reference_entries"),
        _count(county.url, "SELECT count(*) FROM findings"),
    )
    bad = [*county.ledger[:2], ["P-X", "", "abc", "2024-01-01", "2023-01-01", county.a]]
    refused = _upload(client, county.tokens["all"], "permit_ledger", _csv(bad))
    assert refused.status_code == 422
    messages = [e["message"] for e in refused.json()["errors"]]
    assert messages and all(m.startswith("row 4: ") for m in messages), messages
    assert "取水权人名称" in messages[0]
    elsewhere = _upload(client, county.tokens["B"], "permit_ledger", _csv(county.ledger))
    assert elsewhere.status_code == 422 and "outside your division" in elsewhere.json()["detail"]
    missing = _upload(client, county.tokens["all"], "permit_ledger", _csv([["x"]], ["取水许可证编号"]))
    assert missing.status_code == 422 and "取水权人名称" in missing.text
    garbage = _upload(client, county.tokens["all"], "permit_ledger", b"PK\x03\x04 not a workbook", XLSX)
    assert garbage.status_code == 400
    wrong_type = _upload(client, county.tokens["all"], "permit_ledger", b"{}", "application/json")
    assert wrong_type.status_code == 415
    after = (
        _count(county.url, "SELECT count(*) FROM reference_entries"),
        _count(county.url, "SELECT count(*) FROM findings"),
    )
    assert after == before
