"""Meters and calibrations changed over HTTP by operators, the registry workbook imported by an
admin: what is written is what a later read shows, and refused input changes nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient

from api.auth import Role
from devices.forms import Table
from tests.api.conftest import bearer
from tests.devices.registry_files import good_rows, write_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _intake_without_meter(client: TestClient, token: str) -> str:
    intakes = client.get("/api/v1/intakes", headers=bearer(token), params={"limit": 1000}).json()["items"]
    return str(next(i["code"] for i in intakes if i["meter_id"] is None and i["status"] != "decommissioned"))


def test_an_operator_registers_a_meter_and_changes_it(client: TestClient, tokens: dict[Role, str]) -> None:
    operator = bearer(tokens[Role.OPERATOR])
    code = _intake_without_meter(client, tokens[Role.AUDITOR])
    body = {
        "meter_id": f"{code}-9",
        "intake_code": code,
        "meter_type": "electromagnetic",
        "dn": 100,
        "report_interval_s": 900,
        "installed_on": "2026-11-01",
    }
    created = client.post("/api/v1/meters", headers=operator, json=body)
    assert created.status_code == 201, created.text
    assert client.get(f"/api/v1/intakes/{code}", headers=operator).json()["meter_id"] == f"{code}-9"

    # a second pump's meter: added beside the first, both active (an intake may have several)
    second = client.post("/api/v1/meters", headers=operator, json={**body, "meter_id": f"{code}-8"})
    assert second.status_code == 201, second.text
    both = client.get(f"/api/v1/intakes/{code}", headers=operator).json()
    assert both["meter_ids"] == [f"{code}-8", f"{code}-9"]  # installed the same day: by id
    assert (
        client.patch(
            f"/api/v1/meters/{code}-8", headers=operator, json={"removed_on": "2026-11-02"}
        ).status_code
        == 200
    )

    changed = client.patch(
        f"/api/v1/meters/{code}-9", headers=operator, json={"report_interval_s": 300, "serial": "SN1"}
    )
    assert changed.status_code == 200
    assert (changed.json()["report_interval_s"], changed.json()["serial"], changed.json()["dn"]) == (
        300,
        "SN1",
        100,
    )

    cleared = client.patch(f"/api/v1/meters/{code}-9", headers=operator, json={"meter_type": None})
    assert cleared.status_code == 422 and "meter_type cannot be cleared" in cleared.json()["detail"]
    retired = client.patch(f"/api/v1/meters/{code}-9", headers=operator, json={"removed_on": "2026-11-20"})
    assert retired.status_code == 200 and retired.json()["removed_on"] == "2026-11-20"
    replacement = client.post("/api/v1/meters", headers=operator, json={**body, "meter_id": f"{code}-10"})
    assert replacement.status_code == 201
    back = client.patch(f"/api/v1/meters/{code}-9", headers=operator, json={"removed_on": None})
    assert back.status_code == 200  # back in service beside the other: two pumps
    assert client.get(f"/api/v1/intakes/{code}", headers=operator).json()["meter_ids"] == [
        f"{code}-10",  # installed the same day as -9: by id
        f"{code}-9",
    ]

    backwards = client.patch(f"/api/v1/meters/{code}-9", headers=operator, json={"removed_on": "2020-01-01"})
    assert backwards.status_code == 422 and "before installed on" in backwards.json()["detail"]
    assert client.get(f"/api/v1/meters/{code}-9", headers=operator).json()["removed_on"] is None


def test_a_calibration_is_recorded_once_and_moves_the_due_date(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    operator = bearer(tokens[Role.OPERATOR])
    overdue = client.get("/api/v1/calibrations/due", headers=operator, params={"overdue": True}).json()[
        "items"
    ]
    meter = overdue[0]["meter_id"]
    url = f"/api/v1/meters/{meter}/calibrations"
    today = date.today().isoformat()
    recorded = client.post(
        url, headers=operator, json={"calibrated_on": today, "result": "pass", "certificate_no": "JD-1"}
    )
    assert recorded.status_code == 201, recorded.text
    assert (
        client.post(url, headers=operator, json={"calibrated_on": today, "result": "pass"}).status_code == 409
    )
    assert client.get(url, headers=operator).json()["items"][0]["certificate_no"] == "JD-1"
    still = client.get("/api/v1/calibrations/due", headers=operator, params={"overdue": True}).json()["items"]
    assert meter not in [d["meter_id"] for d in still]
    future = client.post(url, headers=operator, json={"calibrated_on": "2999-01-01", "result": "pass"})
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "calibrated_on"


def test_an_admin_imports_the_workbook_and_a_bad_one_changes_nothing(
    client: TestClient, tokens: dict[Role, str], tmp_path: Path
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    before = client.get("/api/v1/intakes", headers=admin).json()["total"]
    rows = good_rows()
    bad = good_rows()
    bad[Table.INTAKES][0][6] = "999,99"  # coordinates outside China
    refused = client.post(
        "/api/v1/registry/import",
        headers={**admin, "Content-Type": XLSX},
        content=write_workbook(tmp_path, bad, "bad.xlsx").read_bytes(),
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] and "nothing was written" in refused.json()["detail"]
    assert client.get("/api/v1/intakes", headers=admin).json()["total"] == before

    dry = client.post(
        "/api/v1/registry/import?dry_run=true",
        headers={**admin, "Content-Type": XLSX},
        content=write_workbook(tmp_path, rows).read_bytes(),
    )
    assert dry.status_code == 200 and client.get("/api/v1/intakes", headers=admin).json()["total"] == before
    done = client.post(
        "/api/v1/registry/import",
        headers={**admin, "Content-Type": XLSX},
        content=write_workbook(tmp_path, rows).read_bytes(),
    )
    assert done.status_code == 200, done.text
    assert client.get("/api/v1/intakes", headers=admin).json()["total"] == before + len(rows[Table.INTAKES])
    wrong_type = client.post(
        "/api/v1/registry/import", headers={**admin, "Content-Type": "text/csv"}, content=b"a,b"
    )
    assert wrong_type.status_code == 415


def test_a_meter_is_reached_through_an_rtu_address_and_channel(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    operator = bearer(tokens[Role.OPERATOR])
    meters = client.get("/api/v1/meters", headers=operator, params={"limit": 1000}).json()["items"]
    first, second = [m["meter_id"] for m in meters if m["removed_on"] is None][:2]
    put = client.patch(f"/api/v1/meters/{first}", headers=operator, json={"rtu_address": "211321-12"})
    assert put.status_code == 200, put.text
    assert (put.json()["rtu_address"], put.json()["rtu_channel"]) == ("211321-00012", 1)
    shown = client.get(f"/api/v1/meters/{first}", headers=operator).json()
    assert (shown["rtu_address"], shown["rtu_channel"]) == ("211321-00012", 1)

    clash = client.patch(f"/api/v1/meters/{second}", headers=operator, json={"rtu_address": "211321-00012"})
    assert clash.status_code == 409, clash.text  # channel 1 of that RTU is the first meter's
    bad = client.patch(f"/api/v1/meters/{second}", headers=operator, json={"rtu_address": "21132-00012"})
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["rtu_address"]
    lone = client.patch(f"/api/v1/meters/{second}", headers=operator, json={"rtu_channel": 2})
    assert lone.status_code == 422, lone.text  # a channel without an address
    assert client.get(f"/api/v1/meters/{second}", headers=operator).json()["rtu_address"] is None
    channel_two = client.patch(
        f"/api/v1/meters/{second}", headers=operator, json={"rtu_address": "211321-00012", "rtu_channel": 2}
    )
    assert channel_two.status_code == 200, channel_two.text

    for meter_id in (first, second):
        cleared = client.patch(
            f"/api/v1/meters/{meter_id}", headers=operator, json={"rtu_address": None, "rtu_channel": None}
        )
        assert cleared.status_code == 200, cleared.text
        assert (cleared.json()["rtu_address"], cleared.json()["rtu_channel"]) == (None, None)
