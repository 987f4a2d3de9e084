"""Verifiable exports: every report file issued is recorded by its SHA-256 with its provenance; an
untouched file verifies (API and `intake verify`), a file with one cell changed does not."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
from fastapi.testclient import TestClient

from anomaly.provenance import SHEET
from api.auth import Role
from tests.api.conftest import bearer
from tests.intake.test_cli import intake


def _verify(client: TestClient, token: str, body: bytes) -> dict[str, object]:
    headers = {**bearer(token), "Content-Type": "application/octet-stream"}
    got = client.post("/api/v1/verify", headers=headers, content=body)
    assert got.status_code == 200, got.text
    result: dict[str, object] = got.json()
    return result


def test_an_untouched_export_verifies_and_an_edited_one_does_not(
    client: TestClient, tokens: dict[Role, str], county_url: str, tmp_path: Path
) -> None:
    auditor = tokens[Role.AUDITOR]
    got = client.get("/api/v1/exports/ledger", headers=bearer(auditor))
    assert got.status_code == 200, got.text
    book = openpyxl.load_workbook(io.BytesIO(got.content))
    source = {row[1]: row[2] for row in book[SHEET].iter_rows(values_only=True)}
    assert source["report"] == "ledger" and source["issued by"] == "test-auditor"
    assert source["division"] == "全部" and source["data cut-off"] != "—"
    verified = _verify(client, auditor, got.content)
    assert verified["issued"] is True and verified["sha256"] == got.headers["x-content-sha256"]
    assert (verified["report"], verified["issued_by"], verified["format"]) == (
        "ledger",
        "test-auditor",
        "xlsx",
    )

    book.worksheets[0].cell(2, 2).value = "改过的"
    edited = io.BytesIO()
    book.save(edited)
    assert _verify(client, auditor, edited.getvalue())["issued"] is False

    csv = client.get("/api/v1/exports/summary", headers=bearer(auditor), params={"format": "csv"})
    digest = csv.headers["x-content-sha256"]
    sidecar = client.get(f"/api/v1/verify/{digest}", headers=bearer(auditor))
    assert sidecar.status_code == 200 and sidecar.json()["format"] == "csv"
    assert _verify(client, auditor, csv.content.replace(b",", b";", 1))["issued"] is False
    assert client.get(f"/api/v1/verify/{'0' * 64}", headers=bearer(auditor)).status_code == 404

    # the command line says the same of files on disk
    good, bad = tmp_path / "ledger.xlsx", tmp_path / "edited.xlsx"
    good.write_bytes(got.content)
    bad.write_bytes(edited.getvalue())
    ok = intake("verify", str(good), INTAKE_DATABASE_URL=county_url)
    assert ok.returncode == 0 and "issued by this service, unchanged: ledger" in ok.stdout, ok.stdout
    assert "test-auditor" in ok.stdout
    refused = intake("verify", str(bad), INTAKE_DATABASE_URL=county_url)
    assert refused.returncode == 1 and "NOT issued by this service" in refused.stdout


def test_a_report_written_by_the_command_verifies(county_url: str, tmp_path: Path) -> None:
    out = tmp_path / "compliance.xlsx"
    made = intake("report", "compliance", "--out", str(out), INTAKE_DATABASE_URL=county_url)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "SHA-256" in made.stdout
    book = openpyxl.load_workbook(out)
    assert book.sheetnames[1] == SHEET
    assert intake("verify", str(out), INTAKE_DATABASE_URL=county_url).returncode == 0
    book.worksheets[0].cell(2, 5).value = 0
    book.save(out)
    assert intake("verify", str(out), INTAKE_DATABASE_URL=county_url).returncode == 1


def test_the_map_as_a_file_carries_its_provenance_and_verifies(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    auditor = tokens[Role.AUDITOR]
    got = client.get("/api/v1/map.geojson", headers=bearer(auditor), params={"download": "true"})
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    body = json.loads(got.content)
    assert body["provenance"]["report"] == "map" and body["provenance"]["issued by"] == "test-auditor"
    assert body["features"]
    verified = _verify(client, auditor, got.content)
    assert verified["issued"] is True and verified["format"] == "geojson"
    body["features"][0]["properties"]["ytd_m3"] = "0"
    assert _verify(client, auditor, json.dumps(body).encode())["issued"] is False
    plain = client.get("/api/v1/map.geojson", headers=bearer(auditor))
    assert "provenance" not in json.loads(plain.content)  # the dashboard's map stays as it was
