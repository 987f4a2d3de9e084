"""Corrections of a meter's days (anomaly/queries/corrections.py): read by every role, made and
revoked by auditors and operators, each recorded with who, when, the volume before and after."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends

from anomaly.queries import corrections as cq
from api.deps import Auditor, Config, Db
from api.errors import Conflict, NotFound, Unprocessable
from api.paging import Page, Paging, page_of
from api.problems import responses
from api.routers.registry import meter_or_404
from api.schemas import CorrectionIn, CorrectionOut, RevokeIn
from api.strict import strict_request

router = APIRouter(
    tags=["corrections"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)


@router.get("/meters/{meter_id}/corrections", response_model=Page[CorrectionOut], responses=responses(404))
def list_corrections(_: Auditor, db: Db, page: Paging, meter_id: str) -> Page[CorrectionOut]:
    """Every correction of the meter's days, newest day first, revoked ones included."""
    meter_or_404(db, meter_id)
    found, total = cq.list_corrections(db, meter_id, page.limit, page.offset)
    return page_of([CorrectionOut(**r) for r in found], total, page)


@router.post(
    "/meters/{meter_id}/corrections",
    response_model=list[CorrectionOut],
    status_code=201,
    responses=responses(404),
)
def add_correction(
    caller: Auditor, db: Db, config: Config, meter_id: str, body: CorrectionIn
) -> list[CorrectionOut]:
    """Mark a day (or a range of days, with ``to_day``) invalid, or give a day a corrected volume. The
    register's volume stays stored; reports count the correction and say so. A correction in force
    for the same day is superseded (and kept)."""
    meter_or_404(db, meter_id)
    if (body.kind == "volume") != (body.volume_m3 is not None):
        raise Unprocessable(
            "volume_m3 is given exactly when kind is 'volume'",
            errors=[{"field": "volume_m3", "message": "required for kind volume, refused for invalid"}],
        )
    try:
        made = cq.correct(
            db,
            cq.Correction(
                meter_id,
                body.day,
                body.to_day or body.day,
                body.volume_m3,
                body.reason,
                body.evidence,
                caller.name,
            ),
            datetime.now(config.zone).date(),
        )
    except cq.CorrectionError as exc:
        raise Unprocessable(str(exc)) from None
    found, _total = cq.list_corrections(db, meter_id, 10_000, 0)
    return [CorrectionOut(**r) for r in found if r["id"] in made]


@router.post(
    "/corrections/{correction_id}/revoke", response_model=CorrectionOut, responses=responses(404, 409)
)
def revoke_correction(caller: Auditor, db: Db, correction_id: int, body: RevokeIn) -> CorrectionOut:
    """Take a correction out of force: its day reports the register's volume again."""
    found = cq.one(db, correction_id)
    if found is None:
        raise NotFound(f"no correction {correction_id}")
    if found[2]:
        raise Conflict(f"correction {correction_id} was already revoked")
    cq.revoke(db, correction_id, body.reason, caller.name)
    rows, _total = cq.list_corrections(db, found[0], 10_000, 0)
    return next(CorrectionOut(**r) for r in rows if r["id"] == correction_id)
