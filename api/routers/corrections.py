"""Corrections of a meter's days, taken out of force (anomaly/queries/corrections.py); listing and
making them is under /meters/{id}/corrections (api/routers/meters.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from anomaly.queries import corrections as cq
from api.deps import Auditor, Db
from api.errors import Conflict, NotFound
from api.found import meter_or_404
from api.problems import responses
from api.schemas import (
    CorrectionOut,
    RevokeIn,
)
from api.strict import strict_request

router = APIRouter(
    tags=["corrections"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)


@router.post(
    "/corrections/{correction_id}/revoke", response_model=CorrectionOut, responses=responses(404, 409)
)
def revoke_correction(caller: Auditor, db: Db, correction_id: int, body: RevokeIn) -> CorrectionOut:
    """Take a correction out of force: its day reports the register's volume again."""
    found = cq.one(db, correction_id)
    if found is None:
        raise NotFound(f"no correction {correction_id}")
    try:
        meter_or_404(db, caller, found[0])
    except NotFound:  # outside the caller's division: as if it did not exist
        raise NotFound(f"no correction {correction_id}") from None
    if found[2]:
        raise Conflict(f"correction {correction_id} was already revoked")
    cq.revoke(db, correction_id, body.reason, caller.name)
    rows, _total = cq.list_corrections(db, found[0], 10_000, 0)
    return next(CorrectionOut(**r) for r in rows if r["id"] == correction_id)
