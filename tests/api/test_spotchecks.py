"""Spot checks end to end (监督检查): the city draws a sample of a county (the same seed draws the same
sample, from the API and from the command line), the county does not see it, inspectors are assigned,
and each inspection raises in the ledger exactly what it contradicts, which the county then sees."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api import accounts
from api.auth import Role
from infra.sandbox import PrivatePostgres
from tests.api.conftest import api_client, bearer, loaded_county
from tests.intake.test_cli import intake

CITY = "211300"


@dataclass
class World:
    url: str
    county: str
    city: dict[str, str]
    own: dict[str, str]  # the county's operator


@pytest.fixture(scope="module")
def world(postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with loaded_county(postgres, tmp_path_factory.mktemp("spot"), intakes=60, seed=17) as url:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT division_code FROM intakes GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            ).fetchone()
            assert row is not None
        with psycopg.connect(url, autocommit=True) as conn:
            city = bearer(accounts.add(conn, "city-inspector", Role.OPERATOR, "tests", CITY))
            own = bearer(accounts.add(conn, "county-operator", Role.OPERATOR, "tests", row[0]))
        yield World(url, row[0], city, own)


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    with api_client(world.url) as test_client:
        yield test_client


def _draw(client: TestClient, who: dict[str, str], **body: Any) -> Any:
    return client.post("/api/v1/spot-checks", headers=who, json={"title": "2026年第四季度监督检查", **body})


def test_the_same_seed_draws_the_same_sample_and_the_county_does_not_see_it(
    client: TestClient, world: World
) -> None:
    one = _draw(client, world.city, division_code=world.county, count=8, seed=42)
    assert one.status_code == 201, one.text
    codes = [i["intake_code"] for i in one.json()["items"]]
    assert len(codes) == 8 and all(i["division_code"] == world.county for i in one.json()["items"])
    again = _draw(client, world.city, division_code=world.county, count=8, seed=42)
    assert [i["intake_code"] for i in again.json()["items"]] == codes
    other = _draw(client, world.city, division_code=world.county, count=8, seed=43)
    assert [i["intake_code"] for i in other.json()["items"]] != codes
    cli = intake(
        "spotcheck", "draw", "--division", world.county, "--count", "8", "--seed", "42", "--title", "CLI",
        INTAKE_DATABASE_URL=world.url,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    made = int(cli.stdout.split("#")[1].split(":")[0])
    shown = intake("spotcheck", "report", str(made), "--format", "json", INTAKE_DATABASE_URL=world.url)
    assert [r["intake_code"] for r in json.loads(shown.stdout)] == codes
    # the county checked sees none of it (四不两直); the city does
    spot = one.json()["id"]
    assert client.get(f"/api/v1/spot-checks/{spot}", headers=world.own).status_code == 404
    assert client.get("/api/v1/spot-checks", headers=world.own).json()["total"] == 0
    assert client.get("/api/v1/spot-checks", headers=world.city).json()["total"] == 3
    assert _draw(client, world.own, division_code=CITY, count=3).status_code == 422  # above its own
    assert _draw(client, world.city, division_code=world.county, count=3, share=0.5).status_code == 422


def test_inspections_raise_what_they_contradict(client: TestClient, world: World) -> None:
    # a finding the county closed recently: was the rectification real?
    with psycopg.connect(world.url) as conn:
        finding = conn.execute(
            "SELECT f.id, f.intake_code, f.problem FROM findings f JOIN intakes i ON i.code = f.intake_code "
            "WHERE i.division_code = %s AND f.state = 'open' "
            "AND EXISTS (SELECT 1 FROM meters m WHERE m.intake_code = i.code AND m.removed_on IS NULL) "
            "ORDER BY f.id LIMIT 1",
            (world.county,),
        ).fetchone()
    assert finding is not None
    deadline = (date.today() + timedelta(days=30)).isoformat()
    rectify = {"measure": "更换计量设施", "responsible": "某村 李四", "deadline": deadline}
    assert (
        client.post(f"/api/v1/findings/{finding[0]}/rectify", headers=world.own, json=rectify).status_code
        == 200
    )
    assert (
        client.post(
            f"/api/v1/findings/{finding[0]}/close", headers=world.own, json={"note": "已更换"}
        ).status_code
        == 200
    )

    drawn = _draw(client, world.city, division_code=world.county, share=1.0, seed=7)
    assert drawn.status_code == 201, drawn.text
    spot, items = drawn.json()["id"], {i["intake_code"]: i for i in drawn.json()["items"]}
    assert items[finding[1]]["risk"] == "closed_recently" or items[finding[1]]["risk"] == "over_permit"
    metered = sorted(c for c, i in items.items() if i["registered"]["meter_serial"] and c != finding[1])
    gone, swapped, fine = metered[:3]
    assigned = client.post(
        f"/api/v1/spot-checks/{spot}/assign", headers=world.city, json={"inspectors": ["王五", "赵六"]}
    )
    assert assigned.status_code == 200
    load = [i["inspector"] for i in assigned.json()["items"]]
    assert abs(load.count("王五") - load.count("赵六")) <= 1 and None not in load

    def inspect(code: str, **found: Any) -> Any:
        body = {
            "intake_code": code,
            "inspected_on": date.today().isoformat(),
            "inspected_by": "王五",
            **found,
        }
        return client.post(f"/api/v1/spot-checks/{spot}/inspections", headers=world.city, json=body)

    serial = items[fine]["registered"]["meter_serial"]
    as_registered = inspect(fine, found=True, meter_serial=f" {serial.lower()} ", photos=["IMG_0001.jpg"])
    assert as_registered.status_code == 201, as_registered.text
    assert as_registered.json() == {"intake_code": fine, "meter_as_registered": True, "findings": []}
    assert inspect(gone, found=False).json()["findings"]
    assert inspect(swapped, found=True, meter_serial="NOT-THE-SAME").json()["meter_as_registered"] is False
    rectified = inspect(finding[1], found=True, meter_serial=items[finding[1]]["registered"]["meter_serial"],
                        rectification_real=False)  # fmt: skip
    assert rectified.status_code == 201 and len(rectified.json()["findings"]) == 1

    seen = client.get("/api/v1/findings", headers=world.own, params={"limit": 1000}).json()["items"]
    raised = {
        (f["intake_code"], f["rule"], f["problem"]) for f in seen if f["rule"].startswith("inspection_")
    }
    assert raised == {
        (gone, "inspection_not_found", "registration"),
        (swapped, "inspection_meter_mismatch", "registration"),
        (finding[1], "inspection_rectification", finding[2]),
    }
    summary = client.get(f"/api/v1/spot-checks/{spot}", headers=world.city).json()["summary"]
    assert summary == {
        "drawn": len(items), "assigned": len(items), "inspected": 4, "not_found": 1,
        "meter_not_as_registered": 1, "rectification_not_real": 1, "findings_raised": 3,
    }  # fmt: skip
    # refused, and nothing recorded: not in the sample, in the future, a meter at an intake not there
    before = client.get(f"/api/v1/spot-checks/{spot}", headers=world.city).json()
    assert inspect("NO-SUCH", found=True).status_code == 422
    future = {"inspected_on": (date.today() + timedelta(days=2)).isoformat()}
    assert inspect(fine, found=True, **future).status_code == 422
    assert inspect(fine, found=False, meter_serial="X").status_code == 422
    assert client.get(f"/api/v1/spot-checks/{spot}", headers=world.city).json() == before
