"""Duplicate registrations (重报) end to end: a county with planted duplicates, found by the command and
the API with their reasons and nothing else; a dismissal remembered; a merge that moves the meter with
its readings, volumes and findings to the surviving intake and keeps the removed intake's row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient

from api import accounts
from api.auth import Role
from infra.sandbox import PrivatePostgres
from tests.api.conftest import api_client, bearer, loaded_county
from tests.intake.test_cli import intake

YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year
COPY = """
INSERT INTO intakes (code, name, owner, credit_code, county, township, longitude, latitude, engineering_type,
                     status, source_type, water_use, division_code)
SELECT %(new)s, coalesce(%(name)s, name), coalesce(%(owner)s, owner),
       CASE WHEN %(owner)s::text IS NULL THEN credit_code END, county, township,
       longitude + %(east)s, latitude, engineering_type, status, source_type, water_use, division_code
FROM intakes WHERE code = %(code)s"""


@dataclass
class County:
    url: str
    planted: dict[tuple[str, str], set[str]]
    metered: str  # an intake whose meter has readings and findings: merged into its copy
    copy: str
    admin: dict[str, str]
    operator: dict[str, str]


def _plant(conn: psycopg.Connection[Any], code: str, new: str, **change: Any) -> None:
    values = {"code": code, "new": new, "name": None, "owner": None, "east": 0.0, **change}
    conn.execute(COPY, values)


@pytest.fixture(scope="module")
def county(postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[County]:
    with loaded_county(postgres, tmp_path_factory.mktemp("dups"), intakes=40, seed=11) as url:
        with psycopg.connect(url) as conn:
            metered = conn.execute(
                "SELECT m.intake_code FROM meters m JOIN findings f ON f.meter_id = m.meter_id "
                "WHERE EXISTS (SELECT 1 FROM readings r WHERE r.meter_id = m.meter_id) ORDER BY 1 LIMIT 1"
            ).fetchone()
            assert metered is not None
            others = [
                c
                for (c,) in conn.execute(
                    "SELECT i.code FROM intakes i JOIN meters m ON m.intake_code = i.code "
                    "WHERE m.serial IS NOT NULL AND i.code <> %s ORDER BY i.code",
                    (metered[0],),
                )
            ]
            serial_of, place_of, name_of = others[0], others[1], others[2]
            # the same owner again, 30 m east, under another name
            _plant(conn, metered[0], "DUP-OWNER", name="新登记取水口", east=0.00036)
            # the same place under another owner and name
            _plant(conn, place_of, "DUP-PLACE", name="另一处登记", owner="某某单位")
            # the same name (with spaces) in its township under another owner, 3 km east
            name = conn.execute("SELECT name FROM intakes WHERE code = %s", (name_of,)).fetchone()
            assert name is not None
            _plant(conn, name_of, "DUP-NAME", name=" ".join(name[0]), owner="别人", east=0.036)
            # a meter of another intake registered again with the same serial, far away, other owner
            _plant(conn, serial_of, "DUP-SERIAL", name="远处", owner="另一单位", east=0.5)
            conn.execute(
                "INSERT INTO meters (meter_id, intake_code, meter_type, serial, online_capable, "
                "report_interval_s, installed_on) SELECT 'DUPM-1', 'DUP-SERIAL', meter_type, lower(serial), "
                "online_capable, report_interval_s, installed_on FROM meters WHERE intake_code = %s",
                (serial_of,),
            )
        planted = {
            tuple(sorted((metered[0], "DUP-OWNER"))): {"same_owner_near"},
            tuple(sorted((place_of, "DUP-PLACE"))): {"same_place"},
            tuple(sorted((name_of, "DUP-NAME"))): {"similar_name"},
            tuple(sorted((serial_of, "DUP-SERIAL"))): {"same_serial"},
        }
        with psycopg.connect(url, autocommit=True) as conn:
            admin = bearer(accounts.add(conn, "dup-admin", Role.ADMIN, "tests"))
            operator = bearer(accounts.add(conn, "dup-operator", Role.OPERATOR, "tests"))
        yield County(url, planted, metered[0], "DUP-OWNER", admin, operator)


@pytest.fixture(scope="module")
def client(county: County) -> Iterator[TestClient]:
    with api_client(county.url) as test_client:
        yield test_client


def _listed(client: TestClient, county: County) -> dict[tuple[str, str], set[str]]:
    got = client.get("/api/v1/duplicates", headers=county.operator)
    assert got.status_code == 200, got.text
    return {
        (p["intake_a"]["code"], p["intake_b"]["code"]): {e["reason"] for e in p["evidence"]}
        for p in got.json()["items"]
    }


def _state(url: str) -> tuple[Any, ...]:
    with psycopg.connect(url) as conn:
        return (
            conn.execute("SELECT * FROM intakes ORDER BY code").fetchall(),
            conn.execute("SELECT meter_id, intake_code, removed_on FROM meters ORDER BY meter_id").fetchall(),
            conn.execute("SELECT id, intake_code, state FROM findings ORDER BY id").fetchall(),
            conn.execute("SELECT count(*) FROM duplicate_reviews").fetchall(),
        )


def test_the_planted_duplicates_are_found_and_nothing_else(client: TestClient, county: County) -> None:
    assert _listed(client, county) == county.planted
    shown = intake("registry", "duplicates", "--format", "json", INTAKE_DATABASE_URL=county.url)
    assert shown.returncode == 0, shown.stderr
    pairs = {(p["intake_a"], p["intake_b"]): set(p["reasons"].split(", ")) for p in json.loads(shown.stdout)}
    assert pairs == county.planted
    assert "4 likely duplicate pair(s)" in shown.stderr
    detail = client.get("/api/v1/duplicates", headers=county.operator).json()["items"]
    near = next(p for p in detail if p["evidence"][0]["reason"] == "same_owner_near")
    assert (
        near["evidence"][0]["label"] == "同一取水单位且相距很近"
        and " m apart" in near["evidence"][0]["detail"]
    )


def test_a_dismissed_pair_is_not_shown_again(client: TestClient, county: County) -> None:
    pair = next(p for p, why in county.planted.items() if why == {"similar_name"})
    body = {"intake_a": pair[1], "intake_b": pair[0], "note": "两个不同的取水口, 现场核实"}
    made = client.post("/api/v1/duplicates/dismiss", headers=county.operator, json=body)
    assert made.status_code == 201, made.text
    assert made.json()["decision"] == "dismissed" and made.json()["evidence"][0]["reason"] == "similar_name"
    assert pair not in _listed(client, county)
    again = client.post("/api/v1/duplicates/dismiss", headers=county.operator, json=body)
    assert again.status_code == 409
    shown = intake("registry", "duplicates", "--format", "json", INTAKE_DATABASE_URL=county.url)
    assert pair not in {(p["intake_a"], p["intake_b"]) for p in json.loads(shown.stdout)}
    reviews = client.get("/api/v1/duplicates/reviews", headers=county.operator).json()["items"]
    assert [(r["intake_a"], r["intake_b"], r["actor"]) for r in reviews] == [(*pair, "dup-operator")]


def test_a_merge_moves_the_meter_readings_volumes_and_findings(client: TestClient, county: County) -> None:
    with psycopg.connect(county.url) as conn:
        (meter,) = conn.execute(
            "SELECT meter_id FROM meters WHERE intake_code = %s", (county.metered,)
        ).fetchone() or ("",)
        readings = conn.execute(
            "SELECT count(*), sum(total_m3) FROM readings WHERE meter_id = %s", (meter,)
        ).fetchone()
        findings = {
            i for (i,) in conn.execute("SELECT id FROM findings WHERE intake_code = %s", (county.metered,))
        }
    assert findings
    volumes = client.get("/api/v1/annual-volumes", headers=county.admin, params={"year": YEAR, "limit": 1000})
    before = next(v for v in volumes.json()["items"] if v["intake_code"] == county.metered)
    body = {"survivor": county.copy, "duplicate": county.metered, "note": "同一取水口重复登记"}
    assert client.post("/api/v1/duplicates/merge", headers=county.operator, json=body).status_code == 403
    merged = client.post("/api/v1/duplicates/merge", headers=county.admin, json=body)
    assert merged.status_code == 200, merged.text
    assert merged.json()["meters_moved"] == [meter] and set(merged.json()["findings_moved"]) == findings

    assert client.get(f"/api/v1/intakes/{county.metered}", headers=county.admin).status_code == 404
    assert client.get(f"/api/v1/intakes/{county.copy}", headers=county.admin).json()["meter_id"] == meter
    with psycopg.connect(county.url) as conn:
        assert (
            conn.execute(
                "SELECT count(*), sum(total_m3) FROM readings WHERE meter_id = %s", (meter,)
            ).fetchone()
            == readings
        )
        assert {
            i for (i,) in conn.execute("SELECT id FROM findings WHERE intake_code = %s", (county.copy,))
        } >= findings
        kept, moved = conn.execute(
            "SELECT merged_record, moved FROM duplicate_reviews WHERE decision = 'merged'"
        ).fetchone() or (None, None)
        deleted = conn.execute(
            "SELECT actor FROM registry_changes WHERE record = 'intake' AND key = %s AND field = '(deleted)'",
            (county.metered,),
        ).fetchone()
    assert kept["code"] == county.metered and moved["meters"] == [meter]
    assert deleted == ("dup-admin",)
    volumes = client.get("/api/v1/annual-volumes", headers=county.admin, params={"year": YEAR, "limit": 1000})
    after = {v["intake_code"]: v for v in volumes.json()["items"]}
    assert county.metered not in after
    assert after[county.copy]["volume_m3"] == before["volume_m3"]  # counted once, on the survivor
    assert (tuple(sorted((county.metered, county.copy)))) not in _listed(client, county)


def test_a_merge_that_would_put_two_meters_on_one_intake_changes_nothing(
    client: TestClient, county: County
) -> None:
    pair = next(p for p, why in county.planted.items() if why == {"same_serial"})
    before = _state(county.url)
    body = {"survivor": pair[0], "duplicate": pair[1], "note": "x"}
    refused = client.post("/api/v1/duplicates/merge", headers=county.admin, json=body)
    assert refused.status_code == 409 and "both intakes have an active meter" in refused.json()["detail"]
    assert _state(county.url) == before
    cli = intake("registry", "merge", pair[0], pair[1], "--note", "x", INTAKE_DATABASE_URL=county.url)
    assert cli.returncode == 1 and "nothing changed" in cli.stderr
    assert _state(county.url) == before
    for bad in ({**body, "duplicate": pair[0]}, {**body, "duplicate": "NO-SUCH"}):
        got = client.post("/api/v1/duplicates/merge", headers=county.admin, json=bad)
        assert got.status_code in (404, 409), got.text
    assert _state(county.url) == before
