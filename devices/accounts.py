"""Broker accounts in the registry: issue and rotate passwords, and write Mosquitto's files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from devices import credentials
from devices.errors import DeviceError
from devices.queries import Conn

ACTIVE_METERS_WITHOUT_ACCOUNT = """
SELECT m.meter_id FROM meters m LEFT JOIN broker_accounts a ON a.meter_id = m.meter_id
WHERE m.removed_on IS NULL AND a.username IS NULL ORDER BY m.meter_id"""
METERS_IN = "SELECT meter_id, removed_on IS NULL FROM meters WHERE meter_id = ANY(%s)"
ROLES_OF = "SELECT username, role FROM broker_accounts WHERE username = ANY(%s)"
UPSERT_ACCOUNT = """
INSERT INTO broker_accounts (username, role, meter_id, password_hash) VALUES (%s, %s, %s, %s)
ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, issued_at = now()"""
COLLECTOR_EXISTS = "SELECT 1 FROM broker_accounts WHERE username = %s AND role = 'collector'"
# Who may log in: collectors, and meters still installed (a removed meter's account stays, unused).
LIVE_ACCOUNTS = """
SELECT a.username, a.password_hash, a.role
FROM broker_accounts a LEFT JOIN meters m ON m.meter_id = a.meter_id
WHERE a.role = 'collector' OR m.removed_on IS NULL ORDER BY a.username"""


@dataclass(frozen=True, slots=True)
class Issued:
    passwords: dict[str, str]  # username -> plaintext, only those issued now
    password_file: str
    acl_file: str
    meters_live: int


def issue(conn: Conn, collector: str, rotate: list[str], rotate_collector: bool) -> Issued:
    """Passwords for active meters that have none, for ``rotate`` meters, and for the collector."""
    credentials.check_username(collector)
    found = dict(conn.execute(METERS_IN, (rotate,)).fetchall())
    unknown = [m for m in rotate if m not in found]
    if unknown:
        raise DeviceError(f"cannot rotate: no such meter {', '.join(unknown)}")
    removed = [m for m in rotate if not found[m]]
    if removed:
        raise DeviceError(f"cannot rotate: meter {', '.join(removed)} is removed (it has no broker access)")
    wanted = [(m, "meter") for (m,) in conn.execute(ACTIVE_METERS_WITHOUT_ACCOUNT).fetchall()]
    wanted += [(m, "meter") for m in rotate]
    if rotate_collector or conn.execute(COLLECTOR_EXISTS, (collector,)).fetchone() is None:
        wanted.append((collector, "collector"))
    roles = dict(conn.execute(ROLES_OF, ([u for u, _ in wanted],)).fetchall())
    for username, role in wanted:
        if roles.get(username, role) != role:
            raise DeviceError(f"username {username!r} is already a {roles[username]} account: choose another")
    passwords = {username: credentials.new_password() for username, _ in wanted}
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            UPSERT_ACCOUNT,
            [
                (u, role, u if role == "meter" else None, credentials.hash_password(passwords[u]))
                for u, role in wanted
            ],
        )
    live = conn.execute(LIVE_ACCOUNTS).fetchall()
    return Issued(
        passwords=passwords,
        password_file=credentials.password_file((u, h) for u, h, _r in live),
        acl_file=credentials.acl_file(u for u, _h, r in live if r == "collector"),
        meters_live=sum(1 for _u, _h, r in live if r == "meter"),
    )


def write_files(out: Path, issued: Issued) -> tuple[Path, Path, Path | None]:
    """Write ``passwd`` and ``acl`` (replaced atomically) and, if any, the new plaintexts (mode 0600)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in (("passwd", issued.password_file), ("acl", issued.acl_file)):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text)
        tmp.chmod(0o644)  # hashes only; the broker runs as its own user and must read them
        tmp.replace(out / name)
        paths.append(out / name)
    plaintext = None
    if issued.passwords:
        plaintext = out / f"issued-{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}.csv"
        fd = os.open(plaintext, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("username,password\n")
            handle.writelines(f"{u},{p}\n" for u, p in sorted(issued.passwords.items()))
    return paths[0], paths[1], plaintext
