"""INTAKE_API_READ_DATABASE_URL: the report routes read a replica (here a restored copy of the
primary, as it stood), every other route the primary."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from fastapi.testclient import TestClient

from api import accounts
from api.app import create_app
from api.auth import Role
from api.settings import ApiSettings
from devices.readings import Reading
from infra import backup
from infra.sandbox import PrivatePostgres
from infra.testbed import register_meters
from ingest.directory import load_meters
from ingest.message import Message, Source
from ingest.store import store
from tests.api.conftest import bearer
from tests.conftest import drop_database, fresh_database
from tests.roles import API, READER, as_role

ZONE = ZoneInfo("Asia/Shanghai")


def _readings(url: str, meter: str) -> None:
    start = datetime.now(ZONE).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    with psycopg.connect(url) as conn:
        readings = [Reading(meter, start + timedelta(hours=h), Decimal(10 * h)) for h in range(48)]
        store(conn, [Message(Source.MQTT, meter, b"{}", start, readings)], load_meters(conn, ZONE), ZONE)
        conn.commit()


def test_the_report_routes_read_the_replica_and_the_rest_the_primary(
    postgres: PrivatePostgres, database_url: str, tmp_path: Path
) -> None:
    register_meters(database_url, ["OLD"])
    _readings(database_url, "OLD")
    with psycopg.connect(database_url, autocommit=True) as conn:
        token = bearer(accounts.add(conn, "replica-auditor", Role.AUDITOR, "tests"))
    dump = backup.backup(database_url, tmp_path / "primary.dump").path
    replica = fresh_database(postgres, "template0")
    try:
        backup.restore(postgres.url(replica), dump)
        register_meters(database_url, ["NEW"])  # the primary moves on; the replica has not seen it
        _readings(database_url, "NEW")
        settings = ApiSettings.model_validate(
            {
                "database_url": as_role(database_url, API),
                "api_read_database_url": as_role(postgres.url(replica), READER),  # read-only, too
            }
        )
        with TestClient(create_app(settings)) as client:
            intakes = client.get("/api/v1/intakes", headers=token).json()["items"]
            assert sorted(i["code"] for i in intakes) == ["I-NEW", "I-OLD"]  # the primary
            mapped = client.get("/api/v1/map.geojson", headers=token).json()["features"]
            assert [f["properties"]["code"] for f in mapped] == ["I-OLD"]  # the replica
            year = client.get("/api/v1/annual-volumes", headers=token).json()["items"]
            assert [a["intake_code"] for a in year] == ["I-OLD"]
            days = client.get("/api/v1/meters/OLD/daily-volumes", headers=token)
            assert days.status_code == 200 and sum(Decimal(d["volume_m3"]) for d in days.json()) == Decimal(
                470
            )
            assert (
                client.get("/api/v1/meters/NEW/daily-volumes", headers=token).status_code == 404
            )  # not there yet
            assert client.get("/api/v1/meters/NEW", headers=token).status_code == 200  # the primary's
    finally:
        drop_database(postgres, replica)
