"""Probes and metrics: /readyz names what is down; /metrics counts requests by route template and
reports the fleet by status, as the database holds it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role
from infra.sandbox import PrivateMosquitto
from tests.api.conftest import api_settings, bearer


def test_ready_when_the_database_and_broker_answer(county_url: str, mosquitto: PrivateMosquitto) -> None:
    settings = api_settings(county_url).model_copy(update={"mqtt_url": f"mqtt://127.0.0.1:{mosquitto.port}"})
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {
            "status": "ready",
            "database": "ok",
            "broker": "ok",
        }


def test_not_ready_names_what_is_down(county_url: str) -> None:
    settings = api_settings(county_url).model_copy(update={"mqtt_url": "mqtt://127.0.0.1:1"})
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["broker"] == "unreachable" and ready.json()["database"] == "ok"
        assert client.get("/healthz").json() == {"status": "ok"}


def test_metrics_count_requests_and_the_fleet(client: TestClient, tokens: dict[Role, str]) -> None:
    auditor = bearer(tokens[Role.AUDITOR])
    for _ in range(3):
        client.get("/api/v1/meters/no-such-meter", headers=auditor)
    text = client.get("/metrics", headers=auditor).text
    assert (
        'intake_api_requests_total{method="GET",route="/api/v1/meters/{meter_id}",status="404"} 3.0' in text
    )
    summary = client.get("/api/v1/fleet/summary", headers=auditor).json()
    for status in ("online", "offline", "never_reported"):
        count = sum(c[status] for c in summary)
        assert f'intake_meters{{status="{status}"}} {float(count)}' in text
    assert "no-such-meter" not in text  # labels are route templates, not paths


def test_the_dashboard_loads_nothing_from_elsewhere(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "取水口计量监管" in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    for asset in ("app.js", "charts.js", "i18n.js", "style.css"):
        assert client.get(f"/static/{asset}").status_code == 200
        assert f"/static/{asset}" in page.text
    assert "http://" not in page.text and "https://" not in page.text
