"""A small county for the API tests: a 30-intake sample registry, six weeks of simulated readings
stored through the collector's own store (some meters live, some gone quiet, some never heard),
one status and compliance sweep, and a user of each role."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient

from api import accounts
from api.app import create_app
from api.auth import Role
from api.settings import ApiSettings
from devices.queries import load_registry
from devices.topics import readings_topic
from infra.sandbox import PrivatePostgres
from ingest.message import Message, MeterInfo, Source
from ingest.store import store
from simulators.fleet import plan_fleet
from tests.conftest import drop_database, fresh_database
from tests.intake.test_cli import intake
from tests.roles import API, MONITOR, as_role

ZONE = ZoneInfo("Asia/Shanghai")
LIVE, QUIET = 6, 3  # the first six meters report up to now, the next three stopped 3 days ago


def load_county(url: str, folder: Path, intakes: int = 30, seed: int = 5) -> None:
    sample = folder / "county.xlsx"
    made = intake("registry", "sample", "--intakes", str(intakes), "--seed", str(seed), "--out", str(sample))
    assert made.returncode == 0, made.stderr
    loaded = intake("registry", "import", str(sample), INTAKE_DATABASE_URL=url)
    assert loaded.returncode == 0, loaded.stderr
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        meters, by_code, permits = load_registry(conn)
        epoch = datetime(now.year, 1, 1, tzinfo=ZONE)
        planned = plan_fleet(meters, by_code, permits, seed, ZONE, epoch)
        for n, plan in enumerate(planned[: LIVE + QUIET]):
            meter = plan.meter
            end = now if n < LIVE else now - timedelta(days=3)
            readings = list(meter.readings(max(epoch, now - timedelta(days=42)), end))
            info = {
                meter.meter_id: MeterInfo(meter.meter_id, meter.capacity, int(meter.interval.total_seconds()))
            }
            topic = readings_topic(meter.meter_id)
            for start in range(0, len(readings), 500):
                batch = [
                    Message(
                        Source.MQTT, meter.meter_id, b"{}", end, readings[start : start + 500], topic=topic
                    )
                ]
                store(conn, batch, info, ZONE)
            conn.execute(
                "UPDATE meter_state SET last_received_at = %s WHERE meter_id = %s", (end, meter.meter_id)
            )
            conn.commit()
    swept = intake("check", INTAKE_DATABASE_URL=as_role(url, MONITOR))
    assert swept.returncode == 0, swept.stderr


@contextmanager
def loaded_county(postgres: PrivatePostgres, folder: Path, intakes: int = 30, seed: int = 5) -> Iterator[str]:
    """A database of its own holding a sample county (:func:`load_county`), dropped afterwards."""
    name = fresh_database(postgres)
    url = postgres.url(name)
    try:
        load_county(url, folder, intakes, seed)
        yield url
    finally:
        drop_database(postgres, name)


@contextmanager
def api_client(url: str) -> Iterator[TestClient]:
    """The app in process on ``url``, logged in to the database as the API's role."""
    with TestClient(create_app(api_settings(as_role(url, API)))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def county_url(postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with loaded_county(postgres, tmp_path_factory.mktemp("county")) as url:
        yield url


@pytest.fixture(scope="module")
def tokens(county_url: str) -> dict[Role, str]:
    with psycopg.connect(county_url, autocommit=True) as conn:
        return {role: accounts.add(conn, f"test-{role}", role, "tests") for role in Role}


@pytest.fixture(scope="module")
def client(county_url: str) -> Iterator[TestClient]:
    with api_client(county_url) as test_client:
        yield test_client


def api_settings(database_url: str) -> ApiSettings:
    return ApiSettings.model_validate({"database_url": database_url})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
