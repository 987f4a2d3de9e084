"""The one record a route names, within the caller's division, or 404: the same answer for a record
that does not exist and for one outside the division, so existence does not leak."""

from __future__ import annotations

from typing import Any

from api import queries
from api.deps import Caller, Conn
from api.errors import NotFound


def meter_or_404(db: Conn, caller: Caller, meter_id: str) -> dict[str, Any]:
    """The meter's row (with its county)."""
    found = queries.rows(db, queries.ONE_METER, caller.scoped(meter=meter_id))
    if not found:
        raise NotFound(f"no meter {meter_id}")
    return found[0]


def intake_or_404(db: Conn, caller: Caller, code: str) -> None:
    if not queries.rows(db, queries.ONE_INTAKE, caller.scoped(code=code)):
        raise NotFound(f"no intake {code}; import it with the registry first")
