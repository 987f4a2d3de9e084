"""The ledger over HTTP: an operator moves a finding open → rectifying → closed, each step in its
history under the operator's name; an auditor can read it and cannot move it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.auth import Role
from tests.api.conftest import bearer


def _open_finding(client: TestClient, token: str) -> dict[str, object]:
    found = client.get("/api/v1/findings", headers=bearer(token), params={"state": "open", "limit": 1000})
    assert found.status_code == 200
    return found.json()["items"][-1]  # type: ignore[no-any-return]


def test_an_operator_rectifies_and_closes_a_finding(client: TestClient, tokens: dict[Role, str]) -> None:
    operator, auditor = bearer(tokens[Role.OPERATOR]), bearer(tokens[Role.AUDITOR])
    finding = _open_finding(client, tokens[Role.AUDITOR])
    url = f"/api/v1/findings/{finding['id']}"

    refused = client.post(
        url + "/rectify", headers=auditor, json={"measure": "m", "responsible": "r", "deadline": "2026-12-31"}
    )
    assert refused.status_code == 403
    assert client.get(url, headers=auditor).json()["state"] == "open"

    too_soon = client.post(url + "/close", headers=operator, json={"note": "done"})
    assert too_soon.status_code == 409 and "rectifying" in too_soon.json()["detail"]

    moved = client.post(
        url + "/rectify",
        headers=operator,
        json={"measure": "更换电池并复核数据", "responsible": "县水利局 张三", "deadline": "2026-12-31"},
    )
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert (body["state"], body["measure"], body["deadline"]) == (
        "rectifying",
        "更换电池并复核数据",
        "2026-12-31",
    )
    assert body["history"][-1]["actor"] == "test-operator" and body["history"][-1]["action"] == "rectifying"

    closed = client.post(url + "/close", headers=operator, json={"note": "已更换，数据恢复"})
    assert closed.status_code == 200
    assert (closed.json()["state"], closed.json()["closed_by"]) == ("closed", "test-operator")
    listed = client.get("/api/v1/findings", headers=auditor, params={"state": "closed"}).json()["items"]
    assert finding["id"] in [f["id"] for f in listed]


def test_blank_words_and_unknown_findings_are_refused_clearly(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    operator = bearer(tokens[Role.OPERATOR])
    finding = _open_finding(client, tokens[Role.AUDITOR])
    blank = client.post(
        f"/api/v1/findings/{finding['id']}/rectify",
        headers=operator,
        json={"measure": "   ", "responsible": "r", "deadline": "2026-12-31"},
    )
    assert blank.status_code == 422
    assert [e["field"] for e in blank.json()["errors"]] == ["measure"]
    missing = client.post("/api/v1/findings/424242/close", headers=operator, json={"note": "x"})
    assert missing.status_code == 404 and missing.json()["detail"] == "no finding 424242"


def test_filters_and_pages_agree_with_the_whole_list(client: TestClient, tokens: dict[Role, str]) -> None:
    auditor = bearer(tokens[Role.AUDITOR])
    whole = client.get("/api/v1/findings", headers=auditor, params={"limit": 1000}).json()
    assert whole["total"] == len(whole["items"]) > 3
    pages = [
        client.get("/api/v1/findings", headers=auditor, params={"limit": 2, "offset": o}).json()
        for o in range(0, whole["total"], 2)
    ]
    assert [f["id"] for p in pages for f in p["items"]] == [f["id"] for f in whole["items"]]
    assert {p["total"] for p in pages} == {whole["total"]}
    metering = client.get(
        "/api/v1/findings", headers=auditor, params={"problem": "metering", "limit": 1000}
    ).json()
    assert [f["id"] for f in metering["items"]] == [
        f["id"] for f in whole["items"] if f["problem"] == "metering"
    ]
    past_end = client.get("/api/v1/findings", headers=auditor, params={"offset": 10_000}).json()
    assert (past_end["items"], past_end["total"]) == ([], whole["total"])
