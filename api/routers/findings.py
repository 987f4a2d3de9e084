"""The rectification ledger (整改台账): findings, their history, and the lifecycle moves
open → rectifying → closed, which operators make and auditors only read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from anomaly import queries as aq
from anomaly.findings import ProblemType, Severity
from anomaly.ledger import LedgerError
from api import queries
from api.deps import Auditor, Caller, Db, Operator
from api.errors import Conflict, NotFound
from api.paging import Page, Paging, page_of
from api.params import Filter
from api.problems import responses
from api.schemas import CloseIn, FindingDetail, FindingEventOut, FindingOut, RectifyIn
from api.strict import strict_request

router = APIRouter(
    tags=["findings"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)


@router.get("/findings", response_model=Page[FindingOut])
def list_findings(
    caller: Auditor,
    db: Db,
    page: Paging,
    state: Literal["open", "rectifying", "closed"] | None = None,
    open: Annotated[bool | None, Query(description="true: open or rectifying; false: closed")] = None,
    problem: ProblemType | None = None,
    severity: Severity | None = None,
    rule: Filter = None,
    intake_code: Filter = None,
    county: Filter = None,
) -> Page[FindingOut]:
    """Findings, oldest first."""
    params = caller.scoped(
        state=state,
        open=open,
        problem=problem,
        severity=severity,
        rule=rule,
        intake=intake_code,
        county=county,
        **page.model_dump(),
    )
    found, total = queries.paged(db, queries.FINDINGS, params)
    return page_of([FindingOut(**r) for r in found], total, page)


@router.get("/findings/{finding_id}", response_model=FindingDetail, responses=responses(404))
def get_finding(caller: Auditor, db: Db, finding_id: int) -> FindingDetail:
    return _detail(db, caller, finding_id)


@router.post("/findings/{finding_id}/rectify", response_model=FindingDetail, responses=responses(404, 409))
def rectify(caller: Operator, db: Db, finding_id: int, body: RectifyIn) -> FindingDetail:
    """open → rectifying, with the measure (整改措施), who is responsible and the deadline."""
    _detail(db, caller, finding_id)
    try:
        aq.start_rectifying(
            db, finding_id, body.measure, body.responsible, body.deadline, caller.name, datetime.now(UTC)
        )
    except LedgerError as exc:
        raise Conflict(f"finding {finding_id}: {exc}") from None
    return _detail(db, caller, finding_id)


@router.post("/findings/{finding_id}/close", response_model=FindingDetail, responses=responses(404, 409))
def close(caller: Operator, db: Db, finding_id: int, body: CloseIn) -> FindingDetail:
    """rectifying → closed (销号), with a note of what was done."""
    _detail(db, caller, finding_id)
    try:
        aq.close_finding(db, finding_id, body.note, caller.name, datetime.now(UTC))
    except LedgerError as exc:
        raise Conflict(f"finding {finding_id}: {exc}") from None
    return _detail(db, caller, finding_id)


def _detail(db: Db, caller: Caller, finding_id: int) -> FindingDetail:
    """The finding with its history, or 404: also for a finding outside the caller's division."""
    if not -(2**63) <= finding_id < 2**63:
        raise NotFound(f"no finding {finding_id}")
    found = queries.rows(db, queries.ONE_FINDING, caller.scoped(id=finding_id))
    if not found:
        raise NotFound(f"no finding {finding_id}")
    history = [FindingEventOut(**e) for e in aq.history(db, finding_id)]
    return FindingDetail(**found[0], history=history)
