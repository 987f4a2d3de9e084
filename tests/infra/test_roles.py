"""Each process kind's database role can do what that process does, and nothing it need not."""

from __future__ import annotations

import psycopg
import pytest

from tests.intake.test_cli import intake
from tests.roles import API, COLLECTOR, MONITOR, READER, as_role

SECRET = {"api_users", "broker_accounts", "alert_subscriptions"}  # the last: robots' keys in its targets


def refused(url: str, sql: str) -> bool:
    with psycopg.connect(url) as conn:
        try:
            conn.execute(sql)
        except psycopg.errors.InsufficientPrivilege:
            return True
    return False


@pytest.mark.parametrize(
    ("role", "sql"),
    [
        (COLLECTOR, "SELECT * FROM api_users"),
        (COLLECTOR, "SELECT * FROM broker_accounts"),
        (COLLECTOR, "UPDATE meters SET totalizer_capacity_m3 = 1"),
        (COLLECTOR, "INSERT INTO findings (intake_code) VALUES ('x')"),
        (MONITOR, "SELECT * FROM api_users"),
        (MONITOR, "INSERT INTO readings (meter_id, ts, total_m3) VALUES ('x', now(), 1)"),
        (MONITOR, "UPDATE meters SET dn = 1"),
        (API, "SELECT * FROM broker_accounts"),
        # it adds manual readings (人工抄表) but never alters or removes a stored one
        (API, "UPDATE readings SET total_m3 = 0"),
        (API, "DELETE FROM readings"),
        (API, "DELETE FROM manual_readings"),
        (API, "DELETE FROM findings"),
        (READER, "SELECT * FROM api_users"),
        (READER, "SELECT target FROM alert_subscriptions"),
        (COLLECTOR, "SELECT target FROM alert_subscriptions"),
        (
            MONITOR,
            "INSERT INTO alert_subscriptions (owner, channel, target, kinds) "
            "VALUES ('x', 'email', 'a@b', '{new_finding}')",
        ),
        (READER, "INSERT INTO readings (meter_id, ts, total_m3) VALUES ('x', now(), 1)"),
        (READER, "UPDATE findings SET state = 'closed'"),
    ],
)
def test_a_role_is_refused_what_its_process_does_not_do(database_url: str, role: str, sql: str) -> None:
    assert refused(as_role(database_url, role), sql)


def test_every_table_but_the_secrets_is_readable_by_every_service_role(database_url: str) -> None:
    """A migration that adds a table must grant it (migrations/0012_service_roles.sql says how)."""
    with psycopg.connect(database_url) as conn:
        tables = [
            t
            for (t,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            ).fetchall()
        ]
    assert {"readings", "daily_volumes", "findings"} <= set(tables)
    for role in (COLLECTOR, MONITOR, API, READER):
        with psycopg.connect(as_role(database_url, role)) as conn:
            for table in tables:
                if table in SECRET:
                    continue
                conn.execute(f"SELECT 1 FROM {table} LIMIT 1")  # raises if a grant is missing


def test_a_service_role_gets_a_hashed_password(database_url: str) -> None:
    done = intake("db", "password", "collector", INTAKE_DATABASE_URL=database_url)
    assert done.returncode == 0, done.stderr
    password = done.stdout.strip()
    assert len(password) >= 24
    given = intake(
        "db",
        "password",
        "reader",
        "--from-env",
        "GRAFANA_PW",
        INTAKE_DATABASE_URL=database_url,
        GRAFANA_PW="pw-1",
    )
    assert given.returncode == 0 and given.stdout == ""  # nothing printed: the caller has it
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN (%s, %s)", (COLLECTOR, READER)
        ).fetchall()
        stored: dict[str, str] = {str(r): str(p) for r, p in rows}
    assert all(v.startswith("SCRAM-SHA-256$") for v in stored.values())  # hashed before it was sent
    assert password not in str(stored)
    unknown = intake("db", "password", "root", INTAKE_DATABASE_URL=database_url)
    assert unknown.returncode == 1 and "no service role 'root'" in unknown.stderr
