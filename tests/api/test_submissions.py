"""Review up the hierarchy: a county submits, the city returns it with a reason, the county fixes a
finding and submits again, the city sees what changed and accepts, then submits its own roll-up to
the province. A submission is frozen: later data does not change it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api import accounts
from api.auth import Role
from infra.sandbox import PrivatePostgres
from tests.api.conftest import api_client, bearer, loaded_county

CITY, PROVINCE = "211300", "210000"
YEAR = date.today().year


class Hierarchy:
    def __init__(self, url: str) -> None:
        self.url = url
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT i.division_code, f.id FROM findings f JOIN intakes i ON i.code = f.intake_code "
                "WHERE f.state = 'open' ORDER BY f.id"
            ).fetchall()
            self.division: dict[str, str] = dict(
                conn.execute("SELECT code, division_code FROM intakes").fetchall()
            )
        by_county: dict[str, list[int]] = {}
        for division, finding in rows:
            by_county.setdefault(division, []).append(finding)
        self.county = max(by_county, key=lambda d: len(by_county[d]))
        self.other = next(d for d in sorted(set(self.division.values())) if d != self.county)
        self.findings = by_county[self.county]
        self.tokens: dict[str, str] = {}

    def h(self, who: str) -> dict[str, str]:
        return bearer(self.tokens[who])


@pytest.fixture(scope="module")
def world(postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hierarchy]:
    with loaded_county(postgres, tmp_path_factory.mktemp("review"), intakes=30, seed=11) as url:
        found = Hierarchy(url)
        users = {
            "county-op": (Role.OPERATOR, found.county),
            "county-aud": (Role.AUDITOR, found.county),
            "other-op": (Role.OPERATOR, found.other),
            "city-aud": (Role.AUDITOR, CITY),
            "city-op": (Role.OPERATOR, CITY),
            "province-aud": (Role.AUDITOR, PROVINCE),
        }
        with psycopg.connect(url, autocommit=True) as conn:
            for name_, (role, division) in users.items():
                found.tokens[name_] = accounts.add(conn, name_, role, "tests", division)
        yield found


@pytest.fixture(scope="module")
def client(world: Hierarchy) -> Iterator[TestClient]:
    with api_client(world.url) as test_client:
        yield test_client


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_a_full_review_cycle(client: TestClient, world: Hierarchy) -> None:
    first = _ok(client.post("/api/v1/submissions", headers=world.h("county-op"), json={"year": YEAR}), 201)
    assert (first["version"], first["state"], first["division_code"]) == (1, "submitted", world.county)
    codes = {row[0] for row in first["reports"]["registration"]["rows"]}
    assert codes and all(world.division[c] == world.county for c in codes)  # the county's own, only
    assert set(first["reports"]) == {"registration", "summary", "ledger"}

    again = client.post("/api/v1/submissions", headers=world.h("county-op"), json={"year": YEAR})
    assert again.status_code == 409 and "being reviewed" in again.json()["detail"]
    own = client.post(f"/api/v1/submissions/{first['id']}/accept", headers=world.h("county-aud"), json={})
    assert own.status_code == 409 and "division above" in own.json()["detail"]
    assert client.get(f"/api/v1/submissions/{first['id']}", headers=world.h("other-op")).status_code == 404
    assert (
        client.post(
            "/api/v1/submissions/1/return", headers=world.h("city-aud"), json={"reason": ""}
        ).status_code
        == 422
    )

    queue = _ok(client.get("/api/v1/submissions", headers=world.h("city-aud"), params={"state": "submitted"}))
    assert [s["id"] for s in queue["items"]] == [first["id"]]
    returned = _ok(
        client.post(
            f"/api/v1/submissions/{first['id']}/return",
            headers=world.h("city-aud"),
            json={"reason": "第3号问题未整改"},
        )
    )
    assert returned["state"] == "returned"
    assert [(e["actor"], e["action"], e["note"]) for e in returned["events"]] == [
        ("county-op", "submitted", None),
        ("city-aud", "returned", "第3号问题未整改"),
    ]

    finding = world.findings[0]
    fix = {"measure": "安装计量设施", "responsible": "县水利局", "deadline": f"{YEAR}-12-31"}
    _ok(client.post(f"/api/v1/findings/{finding}/rectify", headers=world.h("county-op"), json=fix))
    second = _ok(client.post("/api/v1/submissions", headers=world.h("county-op"), json={"year": YEAR}), 201)
    assert second["version"] == 2 and second["sha256"] != first["sha256"]
    changes = _ok(client.get(f"/api/v1/submissions/{second['id']}/changes", headers=world.h("city-aud")))
    assert any(
        c["report"] == "ledger" and c["change"] == "changed" and "安装计量设施" in c["after"] for c in changes
    )
    assert _ok(client.get(f"/api/v1/submissions/{first['id']}/changes", headers=world.h("city-aud"))) == []

    # frozen: a later change of the data leaves the submission as it was
    if len(world.findings) > 1:
        _ok(
            client.post(
                f"/api/v1/findings/{world.findings[1]}/rectify", headers=world.h("county-op"), json=fix
            )
        )
    kept = _ok(client.get(f"/api/v1/submissions/{second['id']}", headers=world.h("county-aud")))
    assert kept["reports"] == second["reports"] and kept["sha256"] == second["sha256"]
    with psycopg.connect(world.url) as conn:
        stored = conn.execute("SELECT contents FROM submissions WHERE id = %s", (second["id"],)).fetchone()
    assert stored is not None and stored[0]["ledger"]["rows"] == second["reports"]["ledger"]["rows"]

    accepted = _ok(
        client.post(f"/api/v1/submissions/{second['id']}/accept", headers=world.h("city-aud"), json={})
    )
    assert accepted["state"] == "accepted"
    done = client.post("/api/v1/submissions", headers=world.h("county-op"), json={"year": YEAR})
    assert done.status_code == 409 and "accepted" in done.json()["detail"]

    city = _ok(client.post("/api/v1/submissions", headers=world.h("city-op"), json={"year": YEAR}), 201)
    assert city["division_code"] == CITY and len(city["reports"]["registration"]["rows"]) > len(codes)
    mine = client.post(f"/api/v1/submissions/{city['id']}/accept", headers=world.h("city-aud"), json={})
    assert mine.status_code == 409  # a city does not accept its own
    assert client.get(f"/api/v1/submissions/{city['id']}", headers=world.h("county-aud")).status_code == 404
    top = _ok(
        client.post(f"/api/v1/submissions/{city['id']}/accept", headers=world.h("province-aud"), json={})
    )
    assert top["state"] == "accepted"
    listed = _ok(client.get("/api/v1/submissions", headers=world.h("province-aud")))
    assert {(s["division_code"], s["version"], s["state"]) for s in listed["items"]} == {
        (world.county, 1, "returned"),
        (world.county, 2, "accepted"),
        (CITY, 1, "accepted"),
    }
