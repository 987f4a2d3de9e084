"""The service's least-privilege database roles (migration 0012), as test processes log in with them."""

from __future__ import annotations

from urllib.parse import urlsplit

COLLECTOR = "intake_collector"
MONITOR = "intake_monitor"
API = "intake_api"
READER = "intake_reader"


def as_role(url: str, role: str) -> str:
    """The same database, logged in as ``role`` (the test clusters trust 127.0.0.1)."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{role}@{host}:{parts.port}" if parts.port else f"{role}@{host}"
    return parts._replace(netloc=netloc).geturl()
