"""Review up the hierarchy (逐级审核上报): a county (or city) submits its year's reports, frozen; the
division above accepts or returns them; a returned one is submitted again as a new version."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Depends, Query

from anomaly import tables
from anomaly.queries import submissions as sq
from anomaly.submissions import REPORTS, State, SubmissionError, differences, freeze, may_review, may_submit
from api import queries
from api.deps import Auditor, Caller, Config, Db, Operator
from api.errors import Conflict, NotFound
from api.limits import limited
from api.paging import Page, Paging, page_of
from api.params import year_begun
from api.problems import responses
from api.schemas import ReturnIn, ReviewIn, RowChangeOut, SubmissionDetail, SubmissionIn, SubmissionOut
from api.strict import strict_request

router = APIRouter(
    tags=["submissions"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)


@router.get("/submissions", response_model=Page[SubmissionOut])
def list_submissions(
    caller: Auditor,
    db: Db,
    page: Paging,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    state: Literal["submitted", "returned", "accepted"] | None = None,
    kind: Literal["annual", "progress"] | None = None,
) -> Page[SubmissionOut]:
    """The caller's division's submissions and those of the divisions inside it (a city's review
    queue: ``state=submitted``), newest first."""
    found, total = queries.paged(
        db, sq.LIST, caller.scoped(year=year, state=state, kind=kind, **page.model_dump())
    )
    return page_of([SubmissionOut(**r) for r in found], total, page)


@router.post(
    "/submissions",
    response_model=SubmissionDetail,
    status_code=201,
    dependencies=[Depends(limited("report"))],
    responses=responses(409, 429),
)
def submit(caller: Operator, db: Db, config: Config, body: SubmissionIn) -> SubmissionDetail:
    """Submit the caller's division's reports for ``year`` (the registration form's annual volumes,
    Annex 2, Annex 3) to the division above, frozen as they are now."""
    now = datetime.now(UTC)
    today = now.astimezone(config.zone).date()
    year_begun(body.year, today)
    try:
        may_submit(
            caller.division, sq.live_state(db, caller.division, body.year) if caller.division else None
        )
    except SubmissionError as exc:
        raise Conflict(str(exc)) from None
    assert caller.division is not None
    inside = queries.intakes_in_scope(db, caller.division)
    made = [
        tables.build(db, kind, body.year, today, now, config.timezone, inside, caller.division)
        for kind in REPORTS
    ]
    contents, digest = freeze(made)
    try:
        submission = sq.submit(db, caller.division, body.year, contents, digest, caller.name, body.note)
    except psycopg.errors.UniqueViolation:  # submitted meanwhile by another user of the division
        raise Conflict("the division's submission for that year was made meanwhile") from None
    return submission_detail(db, caller, submission)


@router.get("/submissions/{submission_id}", response_model=SubmissionDetail, responses=responses(404))
def get_submission(caller: Auditor, db: Db, submission_id: int) -> SubmissionDetail:
    """One submission with its frozen reports and its history."""
    return submission_detail(db, caller, submission_id)


@router.get(
    "/submissions/{submission_id}/changes", response_model=list[RowChangeOut], responses=responses(404)
)
def submission_changes(caller: Auditor, db: Db, submission_id: int) -> list[RowChangeOut]:
    """What this version changed against the one before it (returned), row by row; [] for a first."""
    found = _found(db, caller, submission_id)
    before = sq.previous_contents(db, found)
    if before is None:
        return []
    return [RowChangeOut(**asdict(c)) for c in differences(before, found["contents"])]


@router.post(
    "/submissions/{submission_id}/accept", response_model=SubmissionDetail, responses=responses(404, 409)
)
def accept(caller: Auditor, db: Db, submission_id: int, body: ReviewIn) -> SubmissionDetail:
    """The division above accepts the submission (复核通过)."""
    return _review(db, caller, submission_id, State.ACCEPTED, body.note)


@router.post(
    "/submissions/{submission_id}/return", response_model=SubmissionDetail, responses=responses(404, 409)
)
def return_(caller: Auditor, db: Db, submission_id: int, body: ReturnIn) -> SubmissionDetail:
    """The division above returns the submission with the reason; the division submits again."""
    return _review(db, caller, submission_id, State.RETURNED, body.reason)


def _review(db: Db, caller: Caller, submission_id: int, state: State, note: str | None) -> SubmissionDetail:
    found = _found(db, caller, submission_id)
    try:
        may_review(caller.division, found["division_code"], True, State(found["state"]))
    except SubmissionError as exc:
        raise Conflict(str(exc)) from None
    if not sq.review(db, submission_id, state, caller.name, note):
        raise Conflict(f"submission {submission_id} was reviewed meanwhile")
    return submission_detail(db, caller, submission_id)


def _found(db: Db, caller: Caller, submission_id: int) -> dict[str, Any]:
    if not -(2**63) <= submission_id < 2**63:
        raise NotFound(f"no submission {submission_id}")
    found = sq.one(db, submission_id, caller.division)
    if found is None:
        raise NotFound(f"no submission {submission_id}")  # also one outside the caller's division
    return found


def submission_detail(db: Db, caller: Caller, submission_id: int) -> SubmissionDetail:
    found = dict(_found(db, caller, submission_id))
    found["reports"] = found.pop("contents")
    return SubmissionDetail(**found)
