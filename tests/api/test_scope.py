"""Who sees and changes what (属地管理): every route × {county A, county B, their city, all divisions}.

The county (tests/api/conftest.py) is a Chaoyang sample spread over its counties; one intake is moved
to a district of another city (沈阳市和平区) and one is left unplaced, so the city, a county and all
divisions each see something the others do not. What each user should see is computed here from the
intakes' division codes, independently of the service's rule; a detail outside a user's division is
404 and a change outside it is refused and changes nothing (checked in the database).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import openpyxl
import psycopg
import pytest
from fastapi.testclient import TestClient

from api import accounts
from api.auth import Role
from infra.sandbox import PrivatePostgres
from tests.api.conftest import api_client, bearer, loaded_county
from tests.api.test_roles import ROUTES
from tests.intake.test_cli import intake

CITY = "211300"
YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year
OTHER_CITY_DISTRICT = "210102"  # 沈阳市和平区
SCOPES = ("A", "B", "city", "all")
DUPLICATE = """
INSERT INTO intakes (code, name, owner, credit_code, county, township, longitude, latitude, engineering_type,
                     status, source_type, water_use, division_code)
SELECT %(new)s, name, owner, credit_code, county, township, longitude, latitude, engineering_type, status,
       source_type, water_use, division_code
FROM intakes WHERE code = %(code)s"""


class World:
    """The county's data as the test sees it, and a token per (scope, role)."""

    def __init__(self, url: str) -> None:
        self.url = url
        with psycopg.connect(url) as conn:
            self.division: dict[str, str | None] = dict(
                conn.execute("SELECT code, division_code FROM intakes").fetchall()
            )
            self.meter_intake: dict[str, str] = dict(
                conn.execute("SELECT meter_id, intake_code FROM meters WHERE removed_on IS NULL").fetchall()
            )
            # a finding's division: its intake's, or (a permit's finding, 应登未登) its own
            self.finding_division: dict[int, str | None] = dict(
                conn.execute(
                    "SELECT f.id, coalesce(i.division_code, f.division_code) "
                    "FROM findings f LEFT JOIN intakes i ON i.code = f.intake_code"
                ).fetchall()
            )
            self.permit_intakes: dict[str, list[str]] = dict(
                conn.execute(
                    "SELECT permit_no, array_agg(code) FROM intakes WHERE permit_no IS NOT NULL GROUP BY 1"
                ).fetchall()
            )
        counties = sorted(
            {d for d in self.division.values() if d and d.startswith("2113")},
            key=lambda d: -sum(1 for f in self.finding_division.values() if f == d),
        )
        self.a, self.b = counties[0], counties[1]
        self.codes = {"A": self.a, "B": self.b, "city": CITY, "all": None}
        self.tokens: dict[tuple[str, Role], str] = {}
        self.submissions: dict[str, int] = {}
        self.duplicates: dict[str, tuple[str, str]] = {}

    def sees(self, scope: str, intake: str | None) -> bool:
        """Independent of the service: what a user of ``scope`` should see of an intake."""
        if scope == "all":
            return True
        if intake is None:
            return False
        division = self.division[intake]
        if division is None:
            return False
        return division.startswith("2113") if scope == "city" else division == self.codes[scope]

    def intakes(self, scope: str) -> set[str]:
        return {code for code in self.division if self.sees(scope, code)}

    def meter_in(self, scope: str) -> str:
        return sorted(m for m, i in self.meter_intake.items() if self.division[i] == self.codes[scope])[0]

    def permit_in(self, scope: str) -> str:
        """A permit whose intakes all lie in county ``scope``."""
        return min(
            p
            for p, codes in self.permit_intakes.items()
            if {self.division[c] for c in codes} == {self.codes[scope]}
        )

    def finding_in(self, scope: str) -> int:
        return min(f for f, d in self.finding_division.items() if d == self.codes[scope])

    def sees_division(self, scope: str, division: str | None) -> bool:
        if scope == "all":
            return True
        if division is None:
            return False
        return division.startswith("2113") if scope == "city" else division == self.codes[scope]

    def headers(self, scope: str, role: Role = Role.ADMIN) -> dict[str, str]:
        return bearer(self.tokens[(scope, role)])


@pytest.fixture(scope="module")
def world(postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with loaded_county(postgres, tmp_path_factory.mktemp("scoped"), intakes=40, seed=7) as url:
        with psycopg.connect(url) as conn:
            codes = [c for (c,) in conn.execute("SELECT code FROM intakes ORDER BY code DESC LIMIT 2")]
            conn.execute(
                "UPDATE intakes SET county = '和平区', division_code = %s WHERE code = %s",
                (OTHER_CITY_DISTRICT, codes[0]),
            )
            conn.execute(
                "UPDATE intakes SET county = '某县', division_code = NULL WHERE code = %s", (codes[1],)
            )
        found = World(url)
        with psycopg.connect(url) as conn:  # one duplicate registration (重报) in each of A and B
            for scope in ("A", "B"):
                original = min(c for c, d in found.division.items() if d == found.codes[scope])
                conn.execute(DUPLICATE, {"code": original, "new": f"{original}-DUP"})
                found.duplicates[scope] = (original, f"{original}-DUP")
                found.division[f"{original}-DUP"] = found.codes[scope]
        with psycopg.connect(url, autocommit=True) as conn:
            for scope in SCOPES:
                for role in (Role.AUDITOR, Role.OPERATOR, Role.ADMIN):
                    found.tokens[(scope, role)] = accounts.add(
                        conn, f"{scope}-{role}", role, "tests", found.codes[scope]
                    )
            # refused messages of a meter in A, one in B, and one that names no meter
            for meter in (found.meter_in("A"), found.meter_in("B"), None):
                conn.execute(
                    "INSERT INTO rejected_messages (received_at, source, meter_id, topic, payload, reason, "
                    "message) VALUES (now(), 'mqtt', %s, 'meters/x/readings', '{}', 'bad_json', 'test')",
                    (meter,),
                )
        yield found


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    with api_client(world.url) as test_client:
        for owner in ("A", "B"):  # each county submits its year's reports
            made = test_client.post(
                "/api/v1/submissions", headers=world.headers(owner, Role.OPERATOR), json={"year": YEAR}
            )
            assert made.status_code == 201, made.text
            world.submissions[owner] = made.json()["id"]
        yield test_client


def _all(client: TestClient, path: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    got = client.get(path, headers=headers, params={"limit": 1000, **params})
    assert got.status_code == 200, got.text
    body = got.json()
    items: list[dict[str, Any]] = body["items"] if isinstance(body, dict) and "items" in body else body
    return items


# --- lists: exactly what the division holds ---------------------------------------------------------
LISTS: dict[str, Any] = {
    "/api/v1/intakes": lambda item, w: {item["code"]},
    "/api/v1/meters": lambda item, w: {item["intake_code"]},
    "/api/v1/meters/status": lambda item, w: {item["intake_code"]},
    "/api/v1/findings": lambda item, w: (
        {item["intake_code"]} if item["intake_code"] else set(item["evidence"].get("intakes", []))
    ),
    "/api/v1/annual-volumes": lambda item, w: {item["intake_code"]},
    "/api/v1/calibrations/due": lambda item, w: {item["intake_code"]},
    "/api/v1/permits": lambda item, w: set(item["intakes"] or []),
    "/api/v1/compliance": lambda item, w: set(item["intakes"]),
    "/api/v1/rejected": lambda item, w: {w.meter_intake.get(item["meter_id"])},
    "/api/v1/rejected/summary": lambda item, w: {w.meter_intake.get(item["meter_id"])},
    "/api/v1/duplicates": lambda item, w: {item["intake_a"]["code"], item["intake_b"]["code"]},
    "/api/v1/duplicates/reviews": lambda item, w: {item["intake_a"], item["intake_b"]},
}


@pytest.mark.parametrize("path", sorted(LISTS))
@pytest.mark.parametrize("scope", SCOPES)
def test_a_list_holds_exactly_the_division(client: TestClient, world: World, scope: str, path: str) -> None:
    items = _all(client, path, world.headers(scope, Role.AUDITOR))
    seen = set().union(*(LISTS[path](item, world) for item in items)) if items else set()
    seen_codes = {c for c in seen if c is not None}
    assert all(world.sees(scope, code) for code in seen), (scope, seen - world.intakes(scope))
    if path in ("/api/v1/intakes",):  # every intake of the division is listed
        assert seen_codes == world.intakes(scope)
    if path == "/api/v1/meters":
        assert seen_codes == {i for i in world.meter_intake.values() if world.sees(scope, i)}
    if path == "/api/v1/findings":
        visible = {f for f, d in world.finding_division.items() if world.sees_division(scope, d)}
        assert {item["id"] for item in items} == visible
    if path in ("/api/v1/rejected", "/api/v1/rejected/summary"):  # naming no meter: all divisions only
        assert (None in seen) == (scope == "all")
        assert len(items) == {"A": 1, "B": 1, "city": 2, "all": 3}[scope]
    if path == "/api/v1/duplicates":
        expected = {
            tuple(sorted(world.duplicates[s]))
            for s in ("A", "B")
            if world.sees(scope, world.duplicates[s][0])
        }
        assert {(i["intake_a"]["code"], i["intake_b"]["code"]) for i in items} == expected


@pytest.mark.parametrize("scope", SCOPES)
def test_submissions_are_listed_within_the_division(client: TestClient, world: World, scope: str) -> None:
    listed = _all(client, "/api/v1/submissions", world.headers(scope, Role.AUDITOR))
    expected = {"A": {world.a}, "B": {world.b}, "city": {world.a, world.b}, "all": {world.a, world.b}}
    assert {s["division_code"] for s in listed} == expected[scope]


@pytest.mark.parametrize("scope", SCOPES)
def test_the_map_summary_and_metrics_count_only_the_division(
    client: TestClient, world: World, scope: str
) -> None:
    headers = world.headers(scope, Role.AUDITOR)
    features = client.get("/api/v1/map.geojson", headers=headers).json()["features"]
    assert {f["properties"]["code"] for f in features} == world.intakes(scope)
    outlines = client.get("/api/v1/map/outlines.geojson", headers=headers).json()["features"]
    codes = {o["properties"]["division_code"] for o in outlines}
    assert all(world.sees_division(scope, c) for c in codes) and len(codes) == len(outlines)
    assert {"A": 1, "B": 1, "city": 7, "all": 100}[scope] == len(codes)  # 朝阳市: 2 districts, 5 counties
    summary = client.get("/api/v1/fleet/summary", headers=headers).json()
    status = _all(client, "/api/v1/meters/status", headers)
    assert sum(row["total"] for row in summary) == len(status)
    if scope in ("A", "B"):
        assert len(summary) == 1  # its own county
    metrics = client.get("/metrics", headers=headers).text
    meters = sum(float(v) for v in re.findall(r'^intake_meters\{status="[a-z_]+"\} (\S+)$', metrics, re.M))
    assert meters == len(status)


@pytest.mark.parametrize("scope", SCOPES)
def test_the_progress_report_holds_the_divisions_inside(client: TestClient, world: World, scope: str) -> None:
    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    got = client.get("/api/v1/progress", headers=world.headers(scope, Role.AUDITOR), params={"month": month})
    assert got.status_code == 200, got.text
    shown = {r["division_code"] for r in got.json()["divisions"]}
    placed = {d for code, d in world.division.items() if d is not None and world.sees(scope, code)}
    assert shown == placed
    assert sum(r["intakes_total"] for r in got.json()["divisions"]) == len(
        [c for c in world.intakes(scope) if world.division[c] is not None]
    )


@pytest.mark.parametrize("report", ["registration", "summary", "ledger", "compliance"])
@pytest.mark.parametrize("scope", ["A", "city"])
def test_an_export_holds_only_the_division(client: TestClient, world: World, scope: str, report: str) -> None:
    got = client.get(f"/api/v1/exports/{report}", headers=world.headers(scope, Role.AUDITOR))
    assert got.status_code == 200, got.text
    sheet = openpyxl.load_workbook(io.BytesIO(got.content)).worksheets[0]
    text = " ".join(str(c) for row in sheet.iter_rows(min_row=2, values_only=True) for c in row if c)
    others = set(world.division) - world.intakes(scope)
    names = _names(world)
    assert not [c for c in others if c in text or names[c] in text], (scope, report)

    # verifiable by its division and above; not from a county beside it (existence does not leak)
    def verified(by: str) -> dict[str, Any]:
        headers = {**world.headers(by, Role.AUDITOR), "Content-Type": "application/octet-stream"}
        answer: dict[str, Any] = client.post("/api/v1/verify", headers=headers, content=got.content).json()
        return answer

    assert verified(scope)["issued"] is True and verified(scope)["division_code"] == world.codes[scope]
    assert verified("all")["issued"] is True
    assert verified("B")["issued"] is False


def _names(world: World) -> dict[str, str]:
    with psycopg.connect(world.url) as conn:
        return dict(conn.execute("SELECT code, name FROM intakes").fetchall())


# --- details: 404 outside, whatever the role -----------------------------------------------------------
def _details(world: World, owner: str) -> list[str]:
    meter, finding = world.meter_in(owner), world.finding_in(owner)
    intake = world.meter_intake[meter]
    return [
        f"/api/v1/intakes/{intake}",
        f"/api/v1/meters/{meter}",
        f"/api/v1/meters/{meter}/status/history",
        f"/api/v1/meters/{meter}/days",
        f"/api/v1/meters/{meter}/daily-volumes",
        f"/api/v1/meters/{meter}/calibrations",
        f"/api/v1/meters/{meter}/corrections",
        f"/api/v1/meters/{meter}/readings?from=2026-01-01T00:00:00%2B08:00&to=2026-01-02T00:00:00%2B08:00",
        f"/api/v1/findings/{finding}",
        f"/api/v1/intakes/{intake}/changes",
        f"/api/v1/intakes/{intake}/daily-volumes",
        f"/api/v1/meters/{meter}/manual-readings",
        f"/api/v1/intakes/{intake}/signoffs",
        f"/api/v1/meters/{meter}/changes",
        f"/api/v1/permits/{quote(world.permit_in(owner), safe='')}/changes",
        f"/api/v1/submissions/{world.submissions[owner]}",
        f"/api/v1/submissions/{world.submissions[owner]}/changes",
    ]


@pytest.mark.parametrize("scope", SCOPES)
def test_a_detail_outside_the_division_is_404(client: TestClient, world: World, scope: str) -> None:
    for owner in ("A", "B"):
        inside = scope in (owner, "city", "all")
        for path in _details(world, owner):
            got = client.get(path, headers=world.headers(scope, Role.AUDITOR))
            assert got.status_code == (200 if inside else 404), (scope, owner, path, got.text)


# --- changes: refused outside, and nothing changed -----------------------------------------------------
def _state(world: World) -> tuple[Any, ...]:
    with psycopg.connect(world.url) as conn:
        return (
            conn.execute("SELECT * FROM meters ORDER BY meter_id").fetchall(),
            conn.execute("SELECT id, state, measure FROM findings ORDER BY id").fetchall(),
            conn.execute("SELECT * FROM calibrations ORDER BY meter_id, calibrated_on").fetchall(),
            conn.execute("SELECT id, revoked_at FROM volume_corrections ORDER BY id").fetchall(),
            conn.execute("SELECT * FROM volume_signoffs ORDER BY id").fetchall(),
            conn.execute("SELECT id, state FROM submissions ORDER BY id").fetchall(),
            conn.execute("SELECT code FROM intakes ORDER BY code").fetchall(),
            conn.execute("SELECT id FROM duplicate_reviews ORDER BY id").fetchall(),
            conn.execute("SELECT count(*) FROM readings").fetchall(),
            conn.execute("SELECT meter_id, ts FROM manual_readings ORDER BY 1, 2").fetchall(),
        )


def test_a_county_operator_changes_nothing_in_another_county(client: TestClient, world: World) -> None:
    b_meter, b_finding = world.meter_in("B"), world.finding_in("B")
    b_intake = world.meter_intake[b_meter]
    made = client.post(
        f"/api/v1/meters/{b_meter}/corrections",
        headers=world.headers("B", Role.OPERATOR),
        json={"day": "2026-01-01", "kind": "invalid", "reason": "a test"},
    )
    assert made.status_code == 201, made.text
    correction = made.json()[0]["id"]
    before = _state(world)
    a = world.headers("A", Role.ADMIN)  # even an admin of county A
    rectify = {"measure": "x", "responsible": "y", "deadline": "2026-12-31"}
    sneak = {
        "meter_id": "SNEAK-1",
        "intake_code": b_intake,
        "meter_type": "other",
        "installed_on": "2026-01-01",
    }
    attempts = [
        ("PATCH", f"/api/v1/meters/{b_meter}", {"report_interval_s": 60}),
        ("POST", f"/api/v1/meters/{b_meter}/calibrations", {"calibrated_on": "2026-01-02", "result": "pass"}),
        (
            "POST",
            f"/api/v1/meters/{b_meter}/corrections",
            {"day": "2026-01-03", "kind": "invalid", "reason": "x"},
        ),
        ("POST", f"/api/v1/corrections/{correction}/revoke", {"reason": "x"}),
        (
            "POST",
            f"/api/v1/meters/{b_meter}/manual-readings",
            {"read_at": "2026-01-01T09:00+08:00", "totalizer_m3": "1"},
        ),
        ("POST", f"/api/v1/findings/{b_finding}/rectify", rectify),
        ("POST", f"/api/v1/findings/{b_finding}/close", {"note": "done"}),
        ("POST", "/api/v1/meters", sneak),
        ("POST", f"/api/v1/intakes/{b_intake}/signoffs", {"year": 2026}),
        ("POST", f"/api/v1/submissions/{world.submissions['B']}/accept", {}),
        ("POST", f"/api/v1/submissions/{world.submissions['B']}/return", {"reason": "x"}),
        (
            "POST",
            "/api/v1/duplicates/merge",
            dict(zip(("survivor", "duplicate"), world.duplicates["B"], strict=True), note="x"),
        ),
        (
            "POST",
            "/api/v1/duplicates/dismiss",
            dict(zip(("intake_a", "intake_b"), world.duplicates["B"], strict=True), note="x"),
        ),
    ]
    for method, path, body in attempts:
        got = client.request(method, path, headers=a, json=body)
        assert got.status_code == 404, (method, path, got.text)
    assert _state(world) == before
    # the county's own operator can
    own = client.post(
        f"/api/v1/corrections/{correction}/revoke",
        headers=world.headers("B", Role.OPERATOR),
        json={"reason": "mine"},
    )
    assert own.status_code == 200, own.text  # fmt: skip


def test_users_are_issued_and_seen_within_the_issuers_division(client: TestClient, world: World) -> None:
    city = world.headers("city", Role.ADMIN)
    clerk_a = {"name": "a-clerk", "role": "auditor", "division_code": world.a}
    made = client.post("/api/v1/users", headers=city, json=clerk_a)
    assert made.status_code == 201 and made.json()["division_code"] == world.a
    mine = client.post("/api/v1/users", headers=city, json={"name": "c-clerk", "role": "auditor"})
    assert mine.status_code == 201 and mine.json()["division_code"] == CITY  # the issuer's own by default
    wide = {"name": "wide", "role": "auditor", "division_code": CITY}
    wider = client.post("/api/v1/users", headers=world.headers("A", Role.ADMIN), json=wide)
    assert wider.status_code == 422 and "not inside yours" in wider.json()["detail"]
    nowhere = {"name": "nowhere", "role": "auditor", "division_code": "219999"}
    unknown = client.post("/api/v1/users", headers=city, json=nowhere)
    assert unknown.status_code == 422
    clerk = bearer(made.json()["token"])
    me = client.get("/api/v1/me", headers=clerk).json()
    assert me["division_code"] == world.a and me["division_name"].startswith("朝阳市")
    assert {i["code"] for i in _all(client, "/api/v1/intakes", clerk)} == world.intakes("A")
    listed = {u["name"] for u in _all(client, "/api/v1/users", world.headers("A", Role.ADMIN))}
    assert "a-clerk" in listed and "c-clerk" not in listed and "B-admin" not in listed
    b_admin = world.headers("B", Role.ADMIN)
    assert client.post("/api/v1/users/a-clerk/rotate", headers=b_admin).status_code == 404
    assert client.delete("/api/v1/users/a-clerk", headers=b_admin).status_code == 404
    assert client.get("/api/v1/me", headers=clerk).status_code == 200  # untouched
    assert client.delete("/api/v1/users/a-clerk", headers=world.headers("A", Role.ADMIN)).status_code == 204
    assert client.get("/api/v1/me", headers=clerk).status_code == 401


def test_every_route_is_in_the_matrix() -> None:
    """A route added to the API without a place here fails this test."""
    others = """
        GET /api/v1/map.geojson  GET /api/v1/fleet/summary  GET /metrics  GET /api/v1/exports/{report}
        GET /api/v1/intakes/{code}  GET /api/v1/meters/{meter_id}
        GET /api/v1/meters/{meter_id}/status/history
        GET /api/v1/meters/{meter_id}/days  GET /api/v1/meters/{meter_id}/daily-volumes
        GET /api/v1/meters/{meter_id}/calibrations  GET /api/v1/meters/{meter_id}/corrections
        GET /api/v1/meters/{meter_id}/readings  GET /api/v1/findings/{finding_id}
        PATCH /api/v1/meters/{meter_id}  POST /api/v1/meters/{meter_id}/calibrations
        POST /api/v1/meters/{meter_id}/corrections  POST /api/v1/corrections/{correction_id}/revoke
        POST /api/v1/findings/{finding_id}/rectify  POST /api/v1/findings/{finding_id}/close
        POST /api/v1/meters  GET /api/v1/me  GET /api/v1/users  POST /api/v1/users
        POST /api/v1/users/{name}/rotate  DELETE /api/v1/users/{name}  POST /api/v1/registry/import
        GET /api/v1/intakes/{code}/changes  GET /api/v1/meters/{meter_id}/changes
        GET /api/v1/permits/{permit_no}/changes  POST /api/v1/verify
        GET /api/v1/verify/{digest}  GET /api/v1/intakes/{code}/signoffs
        POST /api/v1/intakes/{code}/signoffs  POST /api/v1/submissions  POST /api/v1/signoffs
        GET /api/v1/submissions/{submission_id}  GET /api/v1/submissions/{submission_id}/changes
        POST /api/v1/submissions/{submission_id}/accept  POST /api/v1/submissions/{submission_id}/return
        POST /api/v1/duplicates/merge  POST /api/v1/duplicates/dismiss
        GET /api/v1/reference-lists  GET /api/v1/reference-lists/{list_id}  POST /api/v1/reference-lists
        GET /api/v1/spot-checks  GET /api/v1/spot-checks/{spot_check_id}  POST /api/v1/spot-checks
        POST /api/v1/spot-checks/{spot_check_id}/assign  POST /api/v1/spot-checks/{spot_check_id}/inspections
        GET /api/v1/progress  POST /api/v1/progress-reports  GET /api/v1/registry/template
        GET /api/v1/meters/{meter_id}/manual-readings  POST /api/v1/meters/{meter_id}/manual-readings
        POST /api/v1/manual-readings  GET /api/v1/manual-readings/template  POST /api/v1/rejected/replay
        GET /api/v1/alerts/subscriptions  POST /api/v1/alerts/subscriptions  GET /api/v1/alerts/deliveries
        DELETE /api/v1/alerts/subscriptions/{subscription_id}  GET /api/v1/map/outlines.geojson
        GET /api/v1/intakes/{code}/daily-volumes
    """.split()  # noqa: SIM905 - a table to read, not a list to write
    covered = (
        {("GET", p) for p in LISTS}
        | {("GET", "/api/v1/submissions")}
        | set(zip(others[::2], others[1::2], strict=True))
    )
    assert covered == set(ROUTES)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _keep(path: Any, world: World, intakes: set[str]) -> bytes:
    """The workbook at ``path`` with only the rows of these intakes (and their meters)."""
    book = openpyxl.load_workbook(path)
    meters = {m for m, i in world.meter_intake.items() if i in intakes}
    for sheet in book.worksheets:
        header = [c.value for c in sheet[1]]
        if "取水口编号" in header:
            column, kept = header.index("取水口编号"), intakes
        elif "计量设施编号" in header:
            column, kept = header.index("计量设施编号"), meters
        else:
            continue
        for n in range(sheet.max_row, 1, -1):
            if sheet.cell(n, column + 1).value not in kept:
                sheet.delete_rows(n)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_admin_imports_only_within_the_division(client: TestClient, world: World, tmp_path: Any) -> None:
    out = tmp_path / "registry.xlsx"
    done = intake("registry", "export", "--out", str(out), INTAKE_DATABASE_URL=world.url)
    assert done.returncode == 0, done.stderr
    upload = {**world.headers("A", Role.ADMIN), "Content-Type": XLSX}
    before = _state(world)
    placed = {code for code, division in world.division.items() if division is not None}
    refused = client.post("/api/v1/registry/import", headers=upload, content=_keep(out, world, placed))
    assert refused.status_code == 422, refused.text
    wrong = {e["field"] for e in refused.json()["errors"] if "outside your division" in e["message"]}
    assert len(wrong) >= len(placed - world.intakes("A"))  # every intake row of another division, at least
    assert _state(world) == before
    accepted = client.post(
        "/api/v1/registry/import", headers=upload, content=_keep(out, world, world.intakes("A"))
    )
    assert accepted.status_code == 200, accepted.text


def test_a_county_signs_off_its_own_intakes_only(client: TestClient, world: World) -> None:
    signed = client.post("/api/v1/signoffs", headers=world.headers("A", Role.AUDITOR), json={"year": YEAR})
    assert signed.status_code == 201, signed.text
    with psycopg.connect(world.url) as conn:
        codes = {
            c for (c,) in conn.execute("SELECT intake_code FROM volume_signoffs WHERE year = %s", (YEAR,))
        }
    assert codes == world.intakes("A") and signed.json()["intakes"] == len(codes)
