"""Test harness: a private TimescaleDB cluster and a private Mosquitto per test session.

Both run from the machine's binaries (installed by ``scripts/stack up``) on free ports, in folders
of their own, so tests never depend on the machine's services and may stop and restart them.
Every test that asks for ``database_url`` gets a fresh database with the schema migrated; every
test gets its own MQTT topic prefix.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from infra import migrations
from infra.sandbox import PrivateMosquitto, PrivatePostgres

TEMPLATE_DB = "intake_template"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres().init().start()
    try:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
        with psycopg.connect(cluster.url(TEMPLATE_DB)) as conn:
            migrations.migrate(conn)
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE {TEMPLATE_DB} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[PrivateMosquitto]:
    broker = PrivateMosquitto().start()
    try:
        yield broker
    finally:
        broker.destroy()


def fresh_database(cluster: PrivatePostgres, template: str = TEMPLATE_DB) -> str:
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    return name


def drop_database(cluster: PrivatePostgres, name: str) -> None:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def database_url(postgres: PrivatePostgres) -> Iterator[str]:
    """A fresh database of this test's own, with TimescaleDB and every migration applied."""
    name = fresh_database(postgres, TEMPLATE_DB)
    try:
        yield postgres.url(name)
    finally:
        drop_database(postgres, name)


@pytest.fixture
def empty_database_url(postgres: PrivatePostgres) -> Iterator[str]:
    """A fresh database with nothing in it (no extension, no migrations)."""
    name = fresh_database(postgres, "template0")
    try:
        yield postgres.url(name)
    finally:
        drop_database(postgres, name)


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix no other test uses, so runs never see each other's messages."""
    return f"test/{uuid.uuid4().hex[:12]}"
