"""An intake with several meters (one per pump): imported as such, its volume the sum of its meters'
(day by day, in the year, in the Annex 1 export, on the map), while status and findings stay per meter."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from anomaly import queries as aq
from api import accounts
from api.auth import Role
from devices.forms import Table
from devices.readings import Reading
from ingest.directory import load_meters
from ingest.message import Message, Source
from ingest.store import store
from tests.api.conftest import api_client, bearer
from tests.devices.registry_files import good_rows, write_workbook
from tests.devices.test_registry import import_file
from tests.intake.test_cli import intake
from tests.roles import MONITOR, as_role

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 1, tzinfo=ZONE)
# M-JP-1 pumps 10 m³ an hour, the second pump's meter M-JP-1B 5 m³, for 48 hours from 1 March 2026.
RATES = {"M-JP-1": 10, "M-JP-1B": 5}


def _two_pumps(url: str, tmp_path: Path) -> None:
    rows = good_rows()
    rows[Table.METERS].append(
        ["M-JP-1B", "I-JP-1", "水表", 80, None, "是", 60, None, date(2025, 1, 1), None, None]
    )
    with psycopg.connect(url, autocommit=True) as conn:
        import_file(conn, write_workbook(tmp_path, rows))
    with psycopg.connect(url) as conn:
        meters = load_meters(conn, ZONE)
        for meter_id, rate in RATES.items():
            readings = [
                Reading(meter_id, START + timedelta(hours=h), Decimal(1000 + rate * h)) for h in range(0, 49)
            ]
            store(conn, [Message(Source.MQTT, meter_id, b"{}", START, readings)], meters, ZONE)
        conn.commit()


def test_two_meters_of_one_intake_add_up_and_stay_apart_where_they_should(
    database_url: str, tmp_path: Path
) -> None:
    _two_pumps(database_url, tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        active = conn.execute(
            "SELECT meter_id FROM meters WHERE intake_code = 'I-JP-1' AND removed_on IS NULL ORDER BY 1"
        ).fetchall()
        token = bearer(accounts.add(conn, "auditor-jp", Role.AUDITOR, "tests", None))
        annual = aq.annual_by_intake(conn, [2026], date(2026, 12, 31), signed=False)["I-JP-1"][0]
    assert active == [("M-JP-1",), ("M-JP-1B",)]  # both stay active: a second pump, not a swap
    assert annual.volume_m3 == Decimal(48 * 15) + annual.estimated_m3  # measured: both meters' 720 m³
    assert annual.volume_m3 - annual.estimated_m3 == Decimal(720)

    with api_client(database_url) as client:
        days = client.get(
            "/api/v1/intakes/I-JP-1/daily-volumes",
            params={"from": "2026-03-01", "to": "2026-03-03"},
            headers=token,
        ).json()
        assert [(d["day"], Decimal(d["volume_m3"]), d["meters"]) for d in days] == [
            ("2026-03-01", Decimal(360), 2),
            ("2026-03-02", Decimal(360), 2),
            ("2026-03-03", Decimal(0), 2),  # the readings end at its midnight
        ]
        intake_row = client.get("/api/v1/intakes/I-JP-1", headers=token).json()
        assert intake_row["meter_ids"] == ["M-JP-1", "M-JP-1B"] and intake_row["meter_id"] == "M-JP-1"
        features = client.get("/api/v1/map.geojson", headers=token).json()["features"]
        mine = [f for f in features if f["properties"]["code"] == "I-JP-1"]
        assert len(mine) == 1 and mine[0]["properties"]["meters"] == 2  # one point, two meters

    out = tmp_path / "registration.csv"
    made = intake("report", "registration", "--year", "2026", "--as-of", "2026-03-31", "--out", str(out),
                  INTAKE_DATABASE_URL=database_url)  # fmt: skip
    assert made.returncode == 0, made.stderr
    with out.open(encoding="utf-8-sig") as handle:
        table = list(csv.reader(handle))
    header, jp = table[0], next(r for r in table[1:] if r[0] == "I-JP-1")
    this_year = header.index(next(h for h in header if h.endswith("(2026)")))
    measured_wan = (Decimal(720) / 10_000).quantize(Decimal("0.0001"))
    assert Decimal(jp[this_year]) >= measured_wan and "of" in jp[-1]  # the year's basis is stated

    # status and findings stay per meter: the sweep judges each of the two
    swept = intake("check", "--as-of", "2026-03-02", INTAKE_DATABASE_URL=as_role(database_url, MONITOR))
    assert swept.returncode == 0, swept.stderr
    with psycopg.connect(database_url) as conn:
        per_meter = conn.execute(
            "SELECT rule, array_agg(meter_id ORDER BY meter_id) FROM findings "
            "WHERE intake_code = 'I-JP-1' AND meter_id IS NOT NULL GROUP BY 1"
        ).fetchall()
    assert ("meter_offline", ["M-JP-1", "M-JP-1B"]) in per_meter, per_meter  # a finding each
    again = intake("check", "--as-of", "2026-03-02", INTAKE_DATABASE_URL=as_role(database_url, MONITOR))
    assert "0 new, 0 updated" in again.stdout
