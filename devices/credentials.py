"""Broker credentials: one password per meter, Mosquitto's password and ACL files. Pure functions.

Passwords are hashed in Mosquitto's own format (``$7$``: PBKDF2-HMAC-SHA512, the format
``mosquitto_passwd`` writes), so the registry keeps only hashes and the broker's password file can be
rebuilt from it at any time. The plaintext exists once: in the file handed to the installer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from devices.errors import InvalidValue

ITERATIONS = 101  # mosquitto_passwd's default for $7$
SALT_BYTES = 12
METER_TOPICS = ("readings", "status")


def new_password() -> str:
    """144 random bits; never starting with '-', which a spreadsheet opening issued-*.csv would run."""
    while (password := secrets.token_urlsafe(18)).startswith("-"):
        pass
    return password


def hash_password(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    try:
        _empty, kind, iterations, salt, digest = hashed.split("$")
    except ValueError:
        return False
    if kind != "7":
        return False
    expected = hash_password(password, base64.b64decode(salt), int(iterations))
    return hmac.compare_digest(expected.split("$")[-1], digest)


def check_username(username: str) -> str:
    if not username or any(c in username for c in ":#+/\n ") or len(username) > 128:
        raise InvalidValue(
            f"broker username {username!r} must be 1-128 characters without ':', '#', '+', '/' or spaces"
        )
    return username


def password_file(accounts: Iterable[tuple[str, str]]) -> str:
    """Mosquitto ``password_file`` text from (username, hash) pairs."""
    return "".join(f"{check_username(user)}:{hashed}\n" for user, hashed in sorted(accounts))


def acl_file(collectors: Iterable[str]) -> str:
    """Mosquitto ``acl_file`` text: meters write only under their own id, collectors read every meter."""
    lines = [
        "# Written by `intake registry credentials` from the registry; rebuilt on every run: do not edit.",
        "# A meter's username is its meter id: it may publish only under meters/<its id>/.",
        *(f"pattern write meters/%u/{topic}" for topic in METER_TOPICS),
        "",
    ]
    for user in sorted(collectors):
        lines += [
            "# The collector reads every meter (directly or through a shared subscription) and $SYS.",
            f"user {check_username(user)}",
            *(f"topic read meters/+/{topic}" for topic in METER_TOPICS),
            *(f"topic read $share/+/meters/+/{topic}" for topic in METER_TOPICS),
            "topic read $SYS/#",
            "",
        ]
    return "\n".join(lines)
