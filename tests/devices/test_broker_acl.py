"""Per-meter credentials and the topic ACL, on a real Mosquitto started with the files we write."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg

from devices import accounts
from infra.sandbox import PrivateMosquitto
from tests.devices.conftest import COLLECTOR, read_issued
from tests.devices.registry_files import good_rows, write_workbook
from tests.devices.test_registry import import_file
from tests.mqtt import Subscriber, connect_reason, publish_all


def test_plaintext_file_is_private_and_registry_keeps_only_hashes(
    secured: tuple[PrivateMosquitto, dict[str, str], str, Path],
) -> None:
    _broker, passwords, database_url, auth = secured
    issued = next(auth.glob("issued-*.csv"))
    assert oct(issued.stat().st_mode & 0o777) == "0o600"
    assert set(passwords) == {"M-JP-1", "M-JP-2", "M-BP-1", COLLECTOR}
    with psycopg.connect(database_url) as conn:
        stored = [h for (h,) in conn.execute("SELECT password_hash FROM broker_accounts").fetchall()]
    assert all(h.startswith("$7$") for h in stored)
    assert not any(p in (auth / "passwd").read_text() for p in passwords.values())


def test_meter_publishes_only_under_its_own_id(
    secured: tuple[PrivateMosquitto, dict[str, str], str, Path],
) -> None:
    broker, passwords, _url, _auth = secured
    collector = Subscriber(
        broker.url, "$share/collectors/meters/+/readings", username=COLLECTOR, password=passwords[COLLECTOR]
    ).start()
    try:
        publish_all(
            broker.url, "meters/M-JP-1/readings", [b"own"], username="M-JP-1", password=passwords["M-JP-1"]
        )
        publish_all(
            broker.url,
            "meters/M-JP-2/readings",
            [b"impostor"],
            username="M-JP-1",
            password=passwords["M-JP-1"],
        )
        publish_all(
            broker.url, "meters/M-BP-1/readings", [b"other"], username="M-BP-1", password=passwords["M-BP-1"]
        )
        received = collector.wait_for(3, timeout=5, quiet=2)
    finally:
        collector.stop()
    assert sorted((m.topic, bytes(m.payload)) for m in received) == [
        ("meters/M-BP-1/readings", b"other"),
        ("meters/M-JP-1/readings", b"own"),
    ]


def test_wrong_password_and_anonymous_are_refused(
    secured: tuple[PrivateMosquitto, dict[str, str], str, Path],
) -> None:
    broker, passwords, _url, _auth = secured
    assert connect_reason(broker.url, "M-JP-1", passwords["M-JP-1"]) == "Success"
    assert connect_reason(broker.url, "M-JP-1", passwords["M-JP-2"]) == "Not authorized"
    assert connect_reason(broker.url, None, None) == "Not authorized"
    assert connect_reason(broker.url, "M-NOBODY", "guess") == "Not authorized"


def test_rotating_one_meter_leaves_the_others_alone(
    secured: tuple[PrivateMosquitto, dict[str, str], str, Path],
) -> None:
    broker, passwords, database_url, auth = secured
    other = Subscriber(
        broker.url, "meters/M-JP-2/readings", username=COLLECTOR, password=passwords[COLLECTOR]
    )
    other.start()
    try:
        with psycopg.connect(database_url) as conn:
            plaintext = accounts.issue(conn, auth, COLLECTOR, ["M-JP-1"], False).plaintext
        broker.reload()
        time.sleep(0.5)
        fresh = read_issued(plaintext)
        assert set(fresh) == {"M-JP-1"}
        assert connect_reason(broker.url, "M-JP-1", passwords["M-JP-1"]) == "Not authorized"
        assert connect_reason(broker.url, "M-JP-1", fresh["M-JP-1"]) == "Success"
        assert connect_reason(broker.url, "M-JP-2", passwords["M-JP-2"]) == "Success"
        # the collector's session, connected before the reload, still receives
        publish_all(
            broker.url, "meters/M-JP-2/readings", [b"after"], username="M-JP-2", password=passwords["M-JP-2"]
        )
        assert [bytes(m.payload) for m in other.wait_for(1, timeout=5)] == [b"after"]
    finally:
        other.stop()


def test_removed_meter_loses_broker_access(database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(database_url) as conn:
        import_file(conn, write_workbook(tmp_path, good_rows()))
        first = accounts.issue(conn, tmp_path / "first", COLLECTOR, [], False).password_file.read_text()
        conn.execute("UPDATE meters SET removed_on = '2026-01-01' WHERE meter_id = 'M-JP-2'")
        conn.commit()
        again = accounts.issue(conn, tmp_path / "second", COLLECTOR, [], False)
        second = again.password_file.read_text()
    assert "M-JP-2:" in first
    assert "M-JP-2:" not in second
    assert again.passwords == {}  # nothing new to hand out


def test_an_unwritable_out_folder_changes_nothing(database_url: str, tmp_path: Path) -> None:
    """The plaintexts are written before the hashes are stored: when they cannot be, no account has a
    password that nobody holds (the broker's passwd and the registry stay as they were)."""
    from devices.credentials import verify_password
    from tests.intake.test_cli import intake

    with psycopg.connect(database_url) as conn:
        import_file(conn, write_workbook(tmp_path, good_rows()))
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    done = intake("registry", "credentials", "--out", str(blocked / "auth"), INTAKE_DATABASE_URL=database_url)
    assert done.returncode == 1
    assert "cannot write the new passwords to" in done.stderr and "nothing was changed" in done.stderr
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM broker_accounts").fetchone() == (0,)
    works = intake(
        "registry", "credentials", "--out", str(tmp_path / "auth"), INTAKE_DATABASE_URL=database_url
    )
    assert works.returncode == 0, works.stderr
    issued = read_issued(next((tmp_path / "auth").glob("issued-*.csv")))
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT username, password_hash FROM broker_accounts").fetchall()
        stored: dict[str, str] = {str(u): str(h) for u, h in rows}
    assert set(issued) == set(stored)  # everyone stored holds a password that was handed out
    assert all(verify_password(issued[u], stored[u]) for u in stored)
