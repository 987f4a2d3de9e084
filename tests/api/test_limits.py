"""What one client can make the API hold: bodies bounded (413), expensive routes bounded in how many run
at once (429 with Retry-After), and a large registry import run beside the event loop, so the API
keeps answering meanwhile. Over HTTP against a real `intake api`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from api import accounts
from api.auth import Role
from infra.sandbox import PrivatePostgres
from infra.testbed import api_server
from tests.api.conftest import bearer
from tests.conftest import drop_database, fresh_database
from tests.intake.test_cli import intake
from tests.roles import API, as_role

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LIMITS = {
    "INTAKE_API_MAX_UPLOAD_MB": "8",
    "INTAKE_API_MAX_BODY_KB": "16",
    "INTAKE_API_REPORT_CONCURRENCY": "1",
}


@pytest.fixture(scope="module")
def server(county_url: str) -> Iterator[str]:
    with api_server(as_role(county_url, API), "--no-access-log", env=LIMITS) as url:
        yield url


def test_a_body_beyond_the_limit_is_413_declared_or_streamed(server: str, tokens: dict[Role, str]) -> None:
    admin = {**bearer(tokens[Role.ADMIN]), "Content-Type": XLSX}
    big = b"PK" + b"\0" * (9 << 20)
    declared = httpx.post(f"{server}/api/v1/registry/import", content=big, headers=admin, timeout=30)
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"
    assert "larger than the 8 MiB this route takes" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"\0" * (1 << 20)

    streamed = httpx.post(f"{server}/api/v1/registry/import", content=chunks(), headers=admin, timeout=30)
    assert streamed.status_code == 413
    operator = bearer(tokens[Role.OPERATOR])
    json_body = httpx.post(
        f"{server}/api/v1/meters", content=b'{"x": "' + b"a" * 20_000 + b'"}', headers=operator, timeout=30
    )
    assert json_body.status_code == 413 and "16 KiB" in json_body.json()["detail"]
    assert httpx.get(f"{server}/healthz", timeout=5).status_code == 200  # and it is still up


def test_an_expensive_route_beyond_its_concurrency_is_429(
    server: str, county_url: str, tokens: dict[Role, str]
) -> None:
    """One compliance report is made to wait on a lock; a second one is not queued behind it."""
    auditor = bearer(tokens[Role.AUDITOR])
    answers: list[httpx.Response] = []
    with psycopg.connect(county_url) as blocker:
        blocker.execute("LOCK TABLE permits IN ACCESS EXCLUSIVE MODE")
        first = threading.Thread(
            target=lambda: answers.append(
                httpx.get(f"{server}/api/v1/compliance", headers=auditor, timeout=60)
            )
        )
        first.start()
        with psycopg.connect(county_url, autocommit=True) as watcher:
            waiting = (
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'intake-api' AND wait_event_type = 'Lock'"
            )
            deadline = time.monotonic() + 30
            while watcher.execute(waiting).fetchone() != (1,) and time.monotonic() < deadline:
                time.sleep(0.05)  # until the first request waits on the lock, holding its place
        second = httpx.get(f"{server}/api/v1/compliance", headers=auditor, timeout=30)
        cheap = httpx.get(f"{server}/api/v1/fleet/summary", headers=auditor, timeout=30)
        blocker.rollback()
    first.join(timeout=60)
    assert second.status_code == 429
    assert second.headers["retry-after"] == "5"
    assert second.json()["title"] == "Too Many Requests"
    assert cheap.status_code == 200  # the cheap routes still have their connections
    assert [a.status_code for a in answers] == [200]


@pytest.fixture
def large_workbook(tmp_path: Path) -> Path:
    path = tmp_path / "20k.xlsx"
    done = intake("registry", "sample", "--intakes", "20000", "--seed", "5", "--out", str(path))
    assert done.returncode == 0, done.stderr
    return path


@pytest.mark.slow
def test_healthz_answers_while_a_20000_intake_import_runs(
    postgres: PrivatePostgres, large_workbook: Path
) -> None:
    name = fresh_database(postgres)
    try:
        url = postgres.url(name)
        with psycopg.connect(url, autocommit=True) as conn:
            token = accounts.add(conn, "importer", Role.ADMIN, "tests")
        with api_server(as_role(url, API), "--no-access-log") as base:
            result: list[httpx.Response] = []
            body = large_workbook.read_bytes()
            headers = {**bearer(token), "Content-Type": XLSX}
            upload = threading.Thread(
                target=lambda: result.append(
                    httpx.post(f"{base}/api/v1/registry/import", content=body, headers=headers, timeout=300)
                )
            )
            upload.start()
            answered_meanwhile = 0
            while upload.is_alive():
                probe = httpx.get(f"{base}/healthz", timeout=30)
                if probe.status_code == 200 and upload.is_alive():
                    answered_meanwhile += 1
                time.sleep(0.2)
            upload.join()
        assert result and result[0].status_code == 200, result[0].text if result else "no answer"
        assert answered_meanwhile >= 3
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM intakes").fetchone() == (20000,)
    finally:
        drop_database(postgres, name)
