"""Fixtures for the registry's tests: a broker that knows only the registry's accounts."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devices import accounts
from infra.sandbox import PrivateMosquitto
from tests.devices.registry_files import good_rows, write_workbook
from tests.devices.test_registry import import_file

COLLECTOR = "intake-collector"


def read_issued(path: Path | None) -> dict[str, str]:
    assert path is not None
    with path.open() as handle:
        return {row["username"]: row["password"] for row in csv.DictReader(handle)}


@pytest.fixture
def secured(
    database_url: str, tmp_path: Path
) -> Iterator[tuple[PrivateMosquitto, dict[str, str], str, Path]]:
    """A broker that knows only the registry's accounts, and the plaintext passwords issued for them."""
    auth = tmp_path / "auth"
    with psycopg.connect(database_url) as conn:
        import_file(conn, write_workbook(tmp_path, good_rows()))
        plaintext = accounts.issue(conn, auth, COLLECTOR, [], False).plaintext
    broker = PrivateMosquitto(auth_dir=auth).start()
    try:
        yield broker, read_issued(plaintext), database_url, auth
    finally:
        broker.destroy()
