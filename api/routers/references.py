"""Reference lists (核查依据): upload a list the registry is checked against; see what it lacks
(应登未登), permits no intake references, and fields that disagree. An upload records findings."""

from __future__ import annotations

import hashlib
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from anomaly.queries import references as qr
from anomaly.reconcile import DEFAULT_NEAR_M, Reconciliation, report_rows, summary
from api import queries
from api.deps import Auditor, Caller, Db, Operator
from api.errors import BadRequest, NotFound, Unprocessable
from api.limits import limited
from api.paging import Page, Paging, page_of
from api.problems import responses
from api.schemas_campaign import ReferenceGap, ReferenceListOut, ReferenceReportOut
from api.strict import strict_request
from api.uploads import UploadBody, table_upload
from devices import queries as dq
from devices.errors import DeviceError
from devices.references import ListKind, ReferenceRejected, read_entries
from devices.workbook import read_list

router = APIRouter(
    tags=["reference lists"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)
NearM = Annotated[
    float, Query(ge=0, le=100_000, description="an entry is registered if an intake lies this close (m)")
]


def _report(
    listed: dict[str, Any], result: Reconciliation, counts: dict[str, int] | None = None
) -> ReferenceReportOut:
    return ReferenceReportOut(
        reference_list=ReferenceListOut(**{k: v for k, v in listed.items() if k != "total"}),
        summary=summary(result),
        matched=result.matched,
        gaps=[ReferenceGap(**row) for row in report_rows(result)],  # type: ignore[arg-type]
        findings_created=counts["created"] if counts else None,
        findings_updated=counts["updated"] if counts else None,
    )


@router.post(
    "/reference-lists",
    status_code=201,
    response_model=ReferenceReportOut,
    openapi_extra=UploadBody,
    dependencies=[Depends(limited("import"))],
    responses=responses(415, 429),
)
async def upload(
    caller: Operator, request: Request, db: Db, kind: ListKind, near_m: NearM = DEFAULT_NEAR_M
) -> ReferenceReportOut:
    """A reference list as the request body (.xlsx or CSV), of ``kind``: kept, checked against the
    registry of the caller's division, its gaps recorded as findings. A list with any bad row is
    refused whole (422, every row and reason)."""
    body, suffix = await table_upload(request, "list")
    return await run_in_threadpool(_upload, db, caller, kind, body, suffix, near_m)


def _upload(
    db: Db, caller: Caller, kind: ListKind, body: bytes, suffix: str, near_m: float
) -> ReferenceReportOut:
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"list{suffix}"
        path.write_bytes(body)
        try:
            headers, rows = read_list(path)
            entries = read_entries(kind, headers, rows, dq.load_divisions(db), caller.division)
        except ReferenceRejected as rejected:
            raise Unprocessable(
                f"list refused: {len(rejected.problems)} problem(s); nothing was written",
                errors=[{"field": p.split(":")[0], "message": p} for p in rejected.problems],
            ) from None
        except DeviceError as exc:
            raise BadRequest(f"the list cannot be read: {exc}") from None
    digest = hashlib.sha256(body).hexdigest()
    try:
        list_id = qr.import_list(
            db, kind, f"upload{suffix}", digest, entries, caller.division, caller.name, now
        )
    except qr.OutsideDivision as exc:
        raise Unprocessable(str(exc), errors=[{"field": "division", "message": str(exc)}]) from None
    listed = qr.one_list(db, list_id, caller.division)
    assert listed is not None
    result, counts = qr.check_and_record(db, listed, caller.name, now, near_m)
    return _report(listed, result, counts)


@router.get("/reference-lists", response_model=Page[ReferenceListOut])
def list_lists(caller: Auditor, db: Db, page: Paging) -> Page[ReferenceListOut]:
    """The reference lists of the caller's division and those inside it, newest first."""
    rows, total = queries.paged(db, qr.LISTS, caller.scoped(**page.model_dump()))
    return page_of([ReferenceListOut(**r) for r in rows], total, page)


@router.get(
    "/reference-lists/{list_id}",
    response_model=ReferenceReportOut,
    dependencies=[Depends(limited("report"))],
    responses=responses(404, 429),
)
def report(caller: Auditor, db: Db, list_id: int, near_m: NearM = DEFAULT_NEAR_M) -> ReferenceReportOut:
    """The list checked against the registry as it is now (nothing recorded: an upload or
    `intake reference check` records findings)."""
    listed = qr.one_list(db, list_id, caller.division) if -(2**63) <= list_id < 2**63 else None
    if listed is None:
        raise NotFound(f"no reference list {list_id} in your division")
    return _report(listed, qr.check(db, listed, near_m))
