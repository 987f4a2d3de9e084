"""Broker accounts in the registry: issue and rotate passwords, and write Mosquitto's files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from devices import credentials
from devices.errors import DeviceError
from devices.queries import Conn

ACTIVE_METERS_WITHOUT_ACCOUNT = """
SELECT m.meter_id FROM meters m LEFT JOIN broker_accounts a ON a.meter_id = m.meter_id
WHERE meter_in_service(m.removed_on, current_date) AND a.username IS NULL ORDER BY m.meter_id"""
METERS_IN = "SELECT meter_id, meter_in_service(removed_on, current_date) FROM meters WHERE meter_id = ANY(%s)"
ROLES_OF = "SELECT username, role FROM broker_accounts WHERE username = ANY(%s)"
UPSERT_ACCOUNT = """
INSERT INTO broker_accounts (username, role, meter_id, password_hash) VALUES (%s, %s, %s, %s)
ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, issued_at = now()"""
COLLECTOR_EXISTS = "SELECT 1 FROM broker_accounts WHERE username = %s AND role = 'collector'"
# Who may log in: collectors, and meters in service (a removed meter's account stays, unused, from the
# first run after its removal day; until then it may still send what it holds).
LIVE_ACCOUNTS = """
SELECT a.username, a.password_hash, a.role
FROM broker_accounts a LEFT JOIN meters m ON m.meter_id = a.meter_id
WHERE a.role = 'collector' OR meter_in_service(m.removed_on, current_date) ORDER BY a.username"""


@dataclass(frozen=True, slots=True)
class Written:
    passwords: dict[str, str]  # username -> plaintext, only those issued now
    password_file: Path
    acl_file: Path
    plaintext: Path | None  # the new plaintexts, once (mode 0600); None when nothing was issued
    meters_live: int


def issue(
    conn: Conn,
    out: Path,
    collector: str,
    rotate: list[str],
    rotate_collector: bool,
    collector_password: str | None = None,
) -> Written:
    """Passwords for active meters that have none, for ``rotate`` meters, and for the collector (a
    given ``collector_password``, or a new one when it has none or ``rotate_collector``).

    The plaintexts are written to ``out`` first, then the hashes committed, then Mosquitto's files
    rewritten from the registry: a folder that cannot be written changes nothing, so no password is
    ever stored that nobody holds."""
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
    has_collector = conn.execute(COLLECTOR_EXISTS, (collector,)).fetchone() is not None
    if rotate_collector or collector_password is not None or not has_collector:
        wanted.append((collector, "collector"))
    roles = dict(conn.execute(ROLES_OF, ([u for u, _ in wanted],)).fetchall())
    for username, role in wanted:
        if roles.get(username, role) != role:
            raise DeviceError(f"username {username!r} is already a {roles[username]} account: choose another")
    passwords = {username: credentials.new_password() for username, _ in wanted}
    if collector_password is not None:
        passwords[collector] = collector_password
    plaintext = _write_plaintext(
        out, {u: p for u, p in passwords.items() if u != collector or not collector_password}
    )
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                UPSERT_ACCOUNT,
                [
                    (u, role, u if role == "meter" else None, credentials.hash_password(passwords[u]))
                    for u, role in wanted
                ],
            )
            live = cur.execute(LIVE_ACCOUNTS).fetchall()
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.commit()  # a connection not in autocommit: the block above was only a savepoint
    except BaseException:
        if plaintext is not None:  # never stored: the file would hand out passwords that do not work
            plaintext.unlink(missing_ok=True)
        raise
    passwd, acl = _write_broker_files(
        out,
        credentials.password_file((u, h) for u, h, _r in live),
        credentials.acl_file(u for u, _h, r in live if r == "collector"),
    )
    meters_live = sum(1 for _u, _h, r in live if r == "meter")
    return Written(passwords, passwd, acl, plaintext, meters_live)


def _write_plaintext(out: Path, passwords: dict[str, str]) -> Path | None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not passwords:
            return None
        path = out / f"issued-{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}.csv"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("username,password\n")
            handle.writelines(f"{u},{p}\n" for u, p in sorted(passwords.items()))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise DeviceError(
            f"cannot write the new passwords to {out}: {exc.strerror or exc}; nothing was changed"
        ) from None
    return path


def _write_broker_files(out: Path, password_file: str, acl_file: str) -> tuple[Path, Path]:
    """``passwd`` and ``acl``, each replaced atomically (hashes only: the broker's own user reads them)."""
    paths = []
    try:
        for name, text in (("passwd", password_file), ("acl", acl_file)):
            tmp = out / f".{name}.tmp"
            tmp.write_text(text)
            tmp.chmod(0o644)
            tmp.replace(out / name)
            paths.append(out / name)
    except OSError as exc:
        raise DeviceError(
            f"the new passwords are stored, but {out}/passwd and acl could not be written "
            f"({exc.strerror or exc}): run the command again with a writable --out to write them"
        ) from None
    return paths[0], paths[1]
