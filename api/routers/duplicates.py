"""Duplicate registrations (重报): the check over the caller's division, and a person's decision on
each pair: two intakes after all (dismiss, remembered) or one (merge into the survivor)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from anomaly.queries import duplicates as qd
from api import queries
from api.deps import Admin, Auditor, Caller, Db, Operator
from api.errors import Conflict, NotFound
from api.limits import limited
from api.paging import Page, Paging, page_of
from api.problems import responses
from api.schemas_campaign import (
    DismissIn,
    DuplicateEvidence,
    DuplicateIntake,
    DuplicatePairOut,
    DuplicateReviewOut,
    MergeIn,
    MergeOut,
)
from api.strict import strict_request
from devices.duplicates import DEFAULT_NEAR_M

router = APIRouter(
    tags=["duplicates"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)
NearM = Annotated[float, Query(ge=0, le=100_000, description="same-owner distance in metres")]


@router.get(
    "/duplicates",
    response_model=Page[DuplicatePairOut],
    dependencies=[Depends(limited("report"))],
    responses=responses(429),
)
def list_duplicates(
    caller: Auditor, db: Db, page: Paging, near_m: NearM = DEFAULT_NEAR_M
) -> Page[DuplicatePairOut]:
    """Pairs of the caller's intakes that may be one intake registered twice, with the evidence;
    dismissed pairs are left out."""
    pairs = qd.check(db, caller.division, near_m)
    shown = pairs[page.offset : page.offset + page.limit]
    about = qd.summaries(db, {code for p in shown for code in (p.a, p.b)})
    out = [
        DuplicatePairOut(
            intake_a=DuplicateIntake(**about[p.a]),
            intake_b=DuplicateIntake(**about[p.b]),
            evidence=[DuplicateEvidence(**e.as_dict()) for e in p.evidence],  # type: ignore[arg-type]
        )
        for p in shown
    ]
    return page_of(out, len(pairs), page)


def _in_scope(db: Db, caller: Caller, codes: list[str]) -> None:
    if not qd.all_in_scope(db, codes, caller.division):
        raise NotFound(f"no intake {' or '.join(codes)} in your division")


@router.post(
    "/duplicates/dismiss", status_code=201, response_model=DuplicateReviewOut, responses=responses(404, 409)
)
def dismiss(caller: Operator, db: Db, body: DismissIn) -> DuplicateReviewOut:
    """Record that two intakes are two after all; the check does not show the pair again."""
    if body.intake_a == body.intake_b:
        raise Conflict("an intake is not a duplicate of itself")
    _in_scope(db, caller, [body.intake_a, body.intake_b])
    evidence = qd.pair_evidence(db, body.intake_a, body.intake_b)
    made = qd.dismiss(db, body.intake_a, body.intake_b, evidence, body.note, caller.name, datetime.now(UTC))
    if made is None:
        raise Conflict(f"{body.intake_a} and {body.intake_b} are already dismissed")
    return DuplicateReviewOut(**made)


@router.post("/duplicates/merge", response_model=MergeOut, responses=responses(404, 409))
def merge(caller: Admin, db: Db, body: MergeIn) -> MergeOut:
    """Fold ``duplicate`` into ``survivor``: its meters (with readings and volumes) and findings move,
    its registry row is kept with the decision, then it is removed. 409, nothing changed, when both
    have an active meter or the duplicate has signed annual volumes."""
    if body.survivor == body.duplicate:
        raise Conflict("an intake is not a duplicate of itself")
    _in_scope(db, caller, [body.survivor, body.duplicate])
    evidence = qd.pair_evidence(db, body.survivor, body.duplicate)
    try:
        merged = qd.merge(
            db, body.survivor, body.duplicate, evidence, body.note, caller.name, datetime.now(UTC)
        )
    except qd.MergeRefused as refused:
        raise Conflict(str(refused)) from None
    return MergeOut(
        review_id=merged.review_id,
        survivor=merged.survivor,
        removed=merged.removed,
        meters_moved=list(merged.meters),
        findings_moved=list(merged.findings_moved),
        findings_closed=list(merged.findings_closed),
    )


@router.get("/duplicates/reviews", response_model=Page[DuplicateReviewOut])
def list_reviews(caller: Auditor, db: Db, page: Paging) -> Page[DuplicateReviewOut]:
    """Every decision on a pair in the caller's division, newest first."""
    rows, total = queries.paged(db, qd.REVIEWS, caller.scoped(**page.model_dump()))
    return page_of([DuplicateReviewOut(**r) for r in rows], total, page)
