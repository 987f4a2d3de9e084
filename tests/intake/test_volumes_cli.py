"""`intake volumes correct | corrections | revoke` as a person runs them."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import orjson
import psycopg

from devices.readings import Reading
from infra.testbed import register_meters
from ingest.message import Message, MeterInfo, Source
from ingest.store import store
from tests.intake.test_cli import intake

ZONE = ZoneInfo("Asia/Shanghai")


def daily(database_url: str) -> dict[str, dict[str, str]]:
    done = intake(
        "volumes",
        "daily",
        "--meter",
        "C1",
        "--from",
        "2026-05-01",
        "--to",
        "2026-05-03",
        "--format",
        "csv",
        INTAKE_DATABASE_URL=database_url,
    )
    assert done.returncode == 0, done.stderr
    return {row["day"]: row for row in csv.DictReader(io.StringIO(done.stdout))}


def test_correct_list_and_revoke(database_url: str) -> None:
    register_meters(database_url, ["C1"], interval_s=3600)
    start = datetime(2026, 5, 1, tzinfo=ZONE)
    readings = [Reading("C1", start + timedelta(hours=h), Decimal(10 * h)) for h in range(49)]
    with psycopg.connect(database_url) as conn:
        store(
            conn,
            [Message(Source.MQTT, "C1", b"{}", start, readings)],
            {"C1": MeterInfo("C1", None, 3600)},
            ZONE,
        )
    env = {"INTAKE_DATABASE_URL": database_url}
    assert daily(database_url)["2026-05-01"]["reported_m3"] == "240.000000"
    done = intake(
        "volumes",
        "correct",
        "--meter",
        "C1",
        "--day",
        "2026-05-01",
        "--volume",
        "200",
        "--reason",
        "a meter test showed +20 %",
        "--evidence",
        "test report 17",
        "--by",
        "auditor-wang",
        **env,
    )
    assert done.returncode == 0, done.stderr
    assert "1 day(s) from 2026-05-01 to 2026-05-01 marked a corrected volume of 200 m³" in done.stdout
    row = daily(database_url)["2026-05-01"]
    assert (row["volume_m3"], row["reported_m3"], row["method"]) == ("240.000000", "200", "corrected")
    assert row["correction"].endswith(": a meter test showed +20 %")
    ranged = intake(
        "volumes",
        "correct",
        "--meter",
        "C1",
        "--day",
        "2026-05-02",
        "--to",
        "2026-05-03",
        "--invalid",
        "--reason",
        "pump swapped",
        "--by",
        "operator-li",
        **env,
    )
    assert ranged.returncode == 0, ranged.stderr
    assert [daily(database_url)[d]["method"] for d in ("2026-05-02", "2026-05-03")] == ["invalid", "invalid"]
    listing = intake("volumes", "corrections", "--meter", "C1", "--format", "json", **env)
    assert listing.returncode == 0
    first = next(c for c in orjson.loads(listing.stdout) if c["day"] == "2026-05-01")
    revoked = intake(
        "volumes", "revoke", str(first["id"]), "--reason", "test repeated", "--by", "auditor-wang", **env
    )
    assert revoked.returncode == 0, revoked.stderr
    assert daily(database_url)["2026-05-01"]["method"] == "metered"
    again = intake("volumes", "revoke", str(first["id"]), "--reason", "x", "--by", "y", **env)
    assert again.returncode == 1 and "already revoked" in again.stderr
    future = intake(
        "volumes",
        "correct",
        "--meter",
        "C1",
        "--day",
        "2099-01-01",
        "--invalid",
        "--reason",
        "x",
        "--by",
        "y",
        **env,
    )
    assert future.returncode == 1 and "has not ended yet" in future.stderr
    bad = intake(
        "volumes",
        "correct",
        "--meter",
        "C1",
        "--day",
        "2026-05-01",
        "--volume",
        "-3",
        "--reason",
        "x",
        "--by",
        "y",
        **env,
    )
    assert bad.returncode == 2 and "0 or more" in bad.stderr
