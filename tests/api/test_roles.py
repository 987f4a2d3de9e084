"""Every route, every role: 401 without a valid token, 403 for a role below the route's, and through
for the roles it admits. The table below is the contract; a route missing from it fails the test."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from tests.api.conftest import bearer

AUD, OPS, ADM = Role.AUDITOR, Role.OPERATOR, Role.ADMIN
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz")}
# (method, path) -> the least role, and a request that passes validation where it can.
ROUTES: dict[tuple[str, str], tuple[Role, dict[str, Any]]] = {
    ("GET", "/api/v1/fleet/summary"): (AUD, {}),
    ("GET", "/api/v1/meters/status"): (AUD, {}),
    ("GET", "/api/v1/meters/{meter_id}/status/history"): (AUD, {}),
    ("GET", "/api/v1/meters/{meter_id}/readings"): (
        AUD,
        {"params": {"from": "2026-01-01T00:00:00+08:00", "to": "2026-01-02T00:00:00+08:00"}},
    ),
    ("GET", "/api/v1/meters/{meter_id}/daily-volumes"): (AUD, {}),
    ("GET", "/api/v1/meters/{meter_id}/days"): (AUD, {}),
    ("GET", "/api/v1/annual-volumes"): (AUD, {}),
    ("GET", "/api/v1/map.geojson"): (AUD, {}),
    ("GET", "/api/v1/intakes"): (AUD, {}),
    ("GET", "/api/v1/intakes/{code}"): (AUD, {}),
    ("GET", "/api/v1/intakes/{code}/changes"): (AUD, {}),
    ("GET", "/api/v1/intakes/{code}/signoffs"): (AUD, {}),
    ("POST", "/api/v1/intakes/{code}/signoffs"): (AUD, {"json": {"year": 2026}}),
    ("POST", "/api/v1/signoffs"): (AUD, {"json": {"year": 1999}}),
    ("GET", "/api/v1/permits/{permit_no}/changes"): (AUD, {}),
    ("GET", "/api/v1/meters/{meter_id}/changes"): (AUD, {}),
    ("GET", "/api/v1/permits"): (AUD, {}),
    ("GET", "/api/v1/meters"): (AUD, {}),
    ("POST", "/api/v1/meters"): (
        OPS,
        {
            "json": {
                "meter_id": "X-1",
                "intake_code": "nowhere",
                "meter_type": "other",
                "installed_on": "2026-01-01",
            }
        },
    ),
    ("GET", "/api/v1/meters/{meter_id}"): (AUD, {}),
    ("PATCH", "/api/v1/meters/{meter_id}"): (OPS, {"json": {}}),
    ("GET", "/api/v1/meters/{meter_id}/calibrations"): (AUD, {}),
    ("POST", "/api/v1/meters/{meter_id}/calibrations"): (
        OPS,
        {"json": {"calibrated_on": "1990-01-01", "result": "pass"}},
    ),
    ("GET", "/api/v1/calibrations/due"): (AUD, {}),
    ("GET", "/api/v1/meters/{meter_id}/corrections"): (AUD, {}),
    ("POST", "/api/v1/meters/{meter_id}/corrections"): (
        AUD,
        {"json": {"day": "2026-01-01", "kind": "invalid", "reason": "a test"}},
    ),
    ("POST", "/api/v1/corrections/{correction_id}/revoke"): (AUD, {"json": {"reason": "a test"}}),
    ("GET", "/api/v1/meters/{meter_id}/manual-readings"): (AUD, {}),
    ("POST", "/api/v1/meters/{meter_id}/manual-readings"): (
        OPS,
        {"json": {"read_at": "2026-01-01T09:00+08:00", "totalizer_m3": "1"}},
    ),
    ("POST", "/api/v1/manual-readings"): (
        OPS,
        {
            "content": "计量设施编号,抄表时间,表底数(m³),抄表人\n".encode(),
            "headers": {"Content-Type": "text/csv"},
        },
    ),
    ("GET", "/api/v1/manual-readings/template"): (AUD, {}),
    ("POST", "/api/v1/registry/import"): (ADM, {"content": b"", "headers": {"Content-Type": "text/plain"}}),
    ("GET", "/api/v1/findings"): (AUD, {}),
    ("GET", "/api/v1/findings/{finding_id}"): (AUD, {}),
    ("POST", "/api/v1/findings/{finding_id}/rectify"): (
        OPS,
        {"json": {"measure": "x", "responsible": "y", "deadline": "2026-12-31"}},
    ),
    ("POST", "/api/v1/findings/{finding_id}/close"): (OPS, {"json": {"note": "done"}}),
    ("GET", "/api/v1/compliance"): (AUD, {}),
    ("GET", "/api/v1/exports/{report}"): (AUD, {}),
    ("POST", "/api/v1/verify"): (
        AUD,
        {"content": b"a file", "headers": {"Content-Type": "text/csv"}},
    ),
    ("GET", "/api/v1/verify/{digest}"): (AUD, {}),
    ("GET", "/api/v1/rejected"): (AUD, {}),
    ("GET", "/api/v1/alerts/subscriptions"): (AUD, {}),
    ("GET", "/api/v1/map/outlines.geojson"): (AUD, {}),
    ("GET", "/api/v1/intakes/{code}/daily-volumes"): (AUD, {}),
    ("POST", "/api/v1/alerts/subscriptions"): (
        AUD,
        {"json": {"channel": "email", "target": "x@example.org", "kinds": ["meter_offline"]}},
    ),
    ("DELETE", "/api/v1/alerts/subscriptions/{subscription_id}"): (AUD, {}),
    ("GET", "/api/v1/alerts/deliveries"): (AUD, {}),
    ("GET", "/api/v1/rejected/summary"): (AUD, {}),
    ("POST", "/api/v1/rejected/replay"): (OPS, {"json": {"meter_id": "no-such-meter"}}),
    ("GET", "/api/v1/submissions"): (AUD, {}),
    ("POST", "/api/v1/submissions"): (OPS, {"json": {"year": 2026}}),
    ("GET", "/api/v1/submissions/{submission_id}"): (AUD, {}),
    ("GET", "/api/v1/submissions/{submission_id}/changes"): (AUD, {}),
    ("POST", "/api/v1/submissions/{submission_id}/accept"): (AUD, {"json": {}}),
    ("POST", "/api/v1/submissions/{submission_id}/return"): (AUD, {"json": {"reason": "x"}}),
    ("GET", "/api/v1/me"): (AUD, {}),
    ("GET", "/api/v1/users"): (ADM, {}),
    ("POST", "/api/v1/users"): (ADM, {"json": {"name": "test-admin", "role": "auditor"}}),
    ("POST", "/api/v1/users/{name}/rotate"): (ADM, {}),
    ("DELETE", "/api/v1/users/{name}"): (ADM, {}),
    ("GET", "/metrics"): (AUD, {}),
    ("GET", "/api/v1/duplicates"): (AUD, {}),
    ("GET", "/api/v1/reference-lists"): (AUD, {}),
    ("GET", "/api/v1/spot-checks"): (AUD, {}),
    ("GET", "/api/v1/registry/template"): (AUD, {}),
    ("GET", "/api/v1/progress"): (AUD, {"params": {"month": "2026-01"}}),
    ("POST", "/api/v1/progress-reports"): (OPS, {"json": {"month": "2026-01", "work": "x"}}),
    ("GET", "/api/v1/spot-checks/{spot_check_id}"): (AUD, {}),
    ("POST", "/api/v1/spot-checks"): (OPS, {"json": {"title": "x", "division_code": "219999", "count": 1}}),
    ("POST", "/api/v1/spot-checks/{spot_check_id}/assign"): (OPS, {"json": {"inspectors": ["x"]}}),
    ("POST", "/api/v1/spot-checks/{spot_check_id}/inspections"): (
        OPS,
        {"json": {"intake_code": "x", "inspected_on": "2026-01-01", "inspected_by": "x", "found": True}},
    ),
    ("GET", "/api/v1/reference-lists/{list_id}"): (AUD, {}),
    ("POST", "/api/v1/reference-lists"): (
        OPS,
        {
            "params": {"kind": "enterprises"},
            "content": "企业名称\n某公司\n".encode(),
            "headers": {"Content-Type": "text/csv"},
        },
    ),
    ("GET", "/api/v1/duplicates/reviews"): (AUD, {}),
    ("POST", "/api/v1/duplicates/dismiss"): (
        OPS,
        {"json": {"intake_a": "no-such-intake", "intake_b": "no-such-other", "note": "x"}},
    ),
    ("POST", "/api/v1/duplicates/merge"): (
        ADM,
        {"json": {"survivor": "no-such-intake", "duplicate": "no-such-other", "note": "x"}},
    ),
}
# Path parameters that name nothing: an admitted role gets 404 or 409, never a change.
PATH_VALUES = {
    "meter_id": "no-such-meter",
    "code": "no-such-intake",
    "finding_id": "999999",
    "correction_id": "999999",
    "report": "ledger",
    "name": "no-such-user",
    "permit_no": "no-such-permit",
    "digest": "0" * 64,
    "submission_id": "999999",
    "list_id": "999999",
    "spot_check_id": "999999",
    "subscription_id": "999999",
}


def _call(client: TestClient, method: str, path: str, headers: dict[str, str], extra: dict[str, Any]) -> Any:
    url = path.format(**{k: v for k, v in PATH_VALUES.items() if "{" + k + "}" in path})
    return client.request(
        method,
        url,
        headers={**headers, **extra.get("headers", {})},
        **{k: v for k, v in extra.items() if k != "headers"},
    )


def test_the_table_covers_every_route_in_the_schema(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    listed = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert listed == set(ROUTES) | PUBLIC


@pytest.mark.parametrize(("method", "path"), sorted(ROUTES))
def test_no_token_or_a_bad_one_is_401(client: TestClient, method: str, path: str) -> None:
    extra = ROUTES[(method, path)][1]
    for headers in (
        {},
        {"Authorization": "Bearer itk_" + "A" * 43},  # well formed, never issued
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ):
        response = _call(client, method, path, headers, extra)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
        body = response.json()
        assert body["status"] == 401 and body["detail"]


@pytest.mark.parametrize(("method", "path"), sorted(ROUTES))
def test_each_role_is_admitted_or_refused_by_the_table(
    client: TestClient, tokens: dict[Role, str], method: str, path: str
) -> None:
    needed, extra = ROUTES[(method, path)]
    for role, token in tokens.items():
        response = _call(client, method, path, bearer(token), extra)
        if role.may(needed):
            assert response.status_code not in (401, 403), (role, response.text)
            assert response.status_code < 500, (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert str(needed) in response.json()["detail"]


@pytest.mark.parametrize("path", sorted(p for _m, p in PUBLIC))
def test_probes_answer_without_a_token(client: TestClient, path: str) -> None:
    assert client.get(path).status_code in (200, 503)


def test_a_revoked_token_stops_working_at_once(client: TestClient, tokens: dict[Role, str]) -> None:
    admin = bearer(tokens[Role.ADMIN])
    issued = client.post("/api/v1/users", headers=admin, json={"name": "leaving", "role": "operator"})
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    assert client.get("/api/v1/me", headers=bearer(token)).json() == {
        "name": "leaving",
        "role": "operator",
        "division_code": None,
        "division_name": None,
    }
    assert client.delete("/api/v1/users/leaving", headers=admin).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    listed = client.get("/api/v1/users", headers=admin).json()["items"]
    assert [u["revoked_at"] is not None for u in listed if u["name"] == "leaving"] == [True]
    assert all("token" not in u for u in listed)


def test_rotating_a_token_retires_the_old_one(client: TestClient, tokens: dict[Role, str]) -> None:
    admin = bearer(tokens[Role.ADMIN])
    first = client.post("/api/v1/users", headers=admin, json={"name": "rotor", "role": "auditor"}).json()[
        "token"
    ]
    second = client.post("/api/v1/users/rotor/rotate", headers=admin).json()["token"]
    assert first != second
    assert client.get("/api/v1/me", headers=bearer(first)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200
    again = client.post("/api/v1/users", headers=admin, json={"name": "rotor", "role": "admin"})
    assert again.status_code == 409 and "rotate" in again.json()["detail"]
