"""The registry's audit trail (migration 0018): every change to an intake, meter or permit, by whom,
from what to what, whatever path made it; nobody can write or erase the trail itself."""

from __future__ import annotations

import getpass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from api import accounts
from api.app import create_app
from api.auth import Role
from devices.forms import Table
from tests.api.conftest import api_settings, bearer
from tests.devices.registry_files import good_rows, write_workbook
from tests.intake.test_cli import intake
from tests.roles import API, as_role


def changes(url: str, record: str, key: str) -> list[tuple[str, str, str | None, str | None]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT actor, field, old_value, new_value FROM registry_changes "
            "WHERE record = %s AND key = %s ORDER BY id",
            (record, key),
        ).fetchall()


def test_every_change_is_recorded_with_who_made_it(database_url: str, tmp_path: Path) -> None:
    env = {"INTAKE_DATABASE_URL": database_url}
    rows = good_rows()
    assert intake("registry", "import", str(write_workbook(tmp_path, rows)), **env).returncode == 0
    me = f"cli:{getpass.getuser()}"
    assert changes(database_url, "intake", "I-JP-1")[0][:2] == (me, "(created)")
    rows[Table.INTAKES][0][8] = 900  # 设计日最大取水能力 800 -> 900
    rows[Table.INTAKES][0][5] = "万寿街道"
    done = intake("registry", "import", str(write_workbook(tmp_path, rows, "again.xlsx")), **env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(changes(database_url, "intake", "I-JP-1")[1:]) == [
        (me, "design_daily_capacity_m3", "800", "900"),
        (me, "township", "黑水镇", "万寿街道"),
    ]
    assert len(changes(database_url, "intake", "I-JP-2")) == 1  # unchanged: only its creation

    with psycopg.connect(database_url, autocommit=True) as conn:
        token = accounts.add(conn, "zhao.lei", Role.OPERATOR, "tests")
        conn.execute("UPDATE permits SET authority = '朝阳市水利局' WHERE permit_no LIKE '%%00002号'")
    with TestClient(create_app(api_settings(as_role(database_url, API)))) as client:
        patched = client.patch(
            "/api/v1/meters/M-JP-1", headers=bearer(token), json={"serial": "SN1-B", "dn": 100}
        )
        assert patched.status_code == 200, patched.text
        shown = client.get("/api/v1/meters/M-JP-1/changes", headers=bearer(token)).json()
        permit = client.get(
            "/api/v1/permits/取水(辽朝BP)字[2023]第00002号/changes", headers=bearer(token)
        ).json()
        assert client.get("/api/v1/intakes/I-JP-1/changes", headers=bearer(token)).json()["total"] == 3
        assert client.get("/api/v1/meters/NOPE/changes", headers=bearer(token)).status_code == 404
    newest = sorted((c["actor"], c["field"], c["old_value"], c["new_value"]) for c in shown["items"][:2])
    assert newest == [("zhao.lei", "dn", "80", "100"), ("zhao.lei", "serial", "SN1", "SN1-B")]
    # a change made outside the service (psql) names the database role
    assert permit["items"][0]["field"] == "authority" and permit["items"][0]["actor"] == "postgres"


def test_nobody_writes_or_erases_the_trail(database_url: str) -> None:
    with psycopg.connect(as_role(database_url, API)) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO registry_changes (actor, record, key, field) VALUES ('me', 'intake', 'x', 'y')"
            )
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM registry_changes")
