"""A silent network between the API and the database (packets dropped, nothing closed): requests
fail with 503 within the database timeout instead of hanging, and the API recovers once it heals."""

from __future__ import annotations

import time

import httpx
import pytest

from api.auth import Role
from infra.sandbox import PrivatePostgres
from infra.testbed import api_server
from tests.api.conftest import bearer
from tests.relay import Relay
from tests.roles import API, as_role


@pytest.mark.slow
def test_a_silent_partition_gives_503s_then_the_api_recovers(
    county_url: str, postgres: PrivatePostgres, tokens: dict[Role, str]
) -> None:
    relay = Relay(postgres.port).start()
    auditor = bearer(tokens[Role.AUDITOR])
    try:
        url = relay.url(as_role(county_url, API))
        with api_server(url, "--no-access-log", env={"INTAKE_DATABASE_TIMEOUT_S": "2"}) as base:
            assert httpx.get(f"{base}/api/v1/fleet/summary", headers=auditor, timeout=30).status_code == 200
            relay.partition()
            started = time.monotonic()
            during = httpx.get(f"{base}/api/v1/fleet/summary", headers=auditor, timeout=60)
            waited = time.monotonic() - started
            ready = httpx.get(f"{base}/readyz", timeout=60)
            relay.heal()
            deadline = time.monotonic() + 60
            after = httpx.get(f"{base}/api/v1/fleet/summary", headers=auditor, timeout=60)
            while after.status_code != 200 and time.monotonic() < deadline:  # stale pooled connections go
                after = httpx.get(f"{base}/api/v1/fleet/summary", headers=auditor, timeout=60)
    finally:
        relay.close()
    assert during.status_code == 503 and during.headers["content-type"] == "application/problem+json"
    assert waited < 30  # bounded by the 2 s database timeout, not by the partition
    assert ready.status_code == 503 and ready.json()["database"].startswith("unreachable")
    assert after.status_code == 200
