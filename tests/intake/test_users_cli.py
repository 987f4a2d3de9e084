"""`intake users`: a token is printed once, stored only as a hash, and works at once over HTTP;
rotate and revoke stop the old one; `intake api --help` says where it listens."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import api_settings, bearer
from tests.intake.test_cli import intake


def test_a_user_gets_a_token_once_and_only_its_hash_is_kept(database_url: str) -> None:
    env = {"INTAKE_DATABASE_URL": database_url}
    added = intake("users", "add", "wang.fang", "--role", "operator", **env)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert token.startswith("itk_") and "shown this once" in added.stderr and token not in added.stderr
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT name, role, token_hash FROM api_users").fetchall()
    assert [(n, r) for n, r, _h in stored] == [("wang.fang", "operator")]
    assert token not in stored[0][2]
    listed = intake("users", "list", **env)
    assert "wang.fang" in listed.stdout and "operator" in listed.stdout and token not in listed.stdout

    with TestClient(create_app(api_settings(database_url))) as client:
        assert client.get("/api/v1/me", headers=bearer(token)).json() == {
            "name": "wang.fang",
            "role": "operator",
            "division_code": None,
            "division_name": None,
        }
        again = intake("users", "add", "wang.fang", "--role", "admin", **env)
        assert again.returncode == 1 and "exists" in again.stderr
        rotated = intake("users", "rotate", "wang.fang", **env).stdout.strip()
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
        assert client.get("/api/v1/me", headers=bearer(rotated)).status_code == 200
        assert intake("users", "revoke", "wang.fang", **env).returncode == 0
        assert client.get("/api/v1/me", headers=bearer(rotated)).status_code == 401
    gone = intake("users", "revoke", "wang.fang", **env)
    assert gone.returncode == 1 and "no active user wang.fang" in gone.stderr
    bad = intake("users", "add", "no spaces", "--role", "auditor", **env)
    assert bad.returncode == 1 and "user name" in bad.stderr


def test_a_user_of_a_county_sees_only_its_intakes(database_url: str) -> None:
    env = {"INTAKE_DATABASE_URL": database_url}
    added = intake("users", "add", "li.lei", "--role", "auditor", "--division", "211322", **env)
    assert added.returncode == 0, added.stderr
    assert "(auditor, division 211322)" in added.stderr
    assert "211322" in intake("users", "list", **env).stdout
    unknown = intake("users", "add", "nobody", "--role", "auditor", "--division", "219999", **env)
    assert unknown.returncode == 1 and "division 219999 is not known" in unknown.stderr
    with TestClient(create_app(api_settings(database_url))) as client:
        me = client.get("/api/v1/me", headers=bearer(added.stdout.strip())).json()
    assert me["division_code"] == "211322"


def test_api_help_names_its_settings() -> None:
    shown = intake("api", "--help")
    assert shown.returncode == 0 and "INTAKE_API_PORT" in shown.stdout
