"""Intakes, permits and calibrations due: read by every role; the registry import (the forms'
workbook) by admins. The meters themselves are in api/routers/meters.py."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from anomaly import queries as aq
from anomaly.queries import signoffs as sq
from api import queries
from api.deps import Admin, Auditor, Caller, Config, Db, ReadDb
from api.errors import BadRequest, NotFound, Unprocessable, Unsupported
from api.found import intake_or_404
from api.limits import limited
from api.paging import Page, Paging, page_of, slice_page
from api.params import EARLIEST, LATEST, Filter, IsoDate, year_begun
from api.problems import responses
from api.schemas import (
    CalibrationDueOut,
    ImportResult,
    IntakeDayOut,
    IntakeOut,
    PermitOut,
    RegistryChangeOut,
    SignedCount,
    SignOffIn,
    SignOffOut,
)
from api.strict import strict_request
from api.uploads import XLSX
from devices import queries as dq
from devices import registry
from devices.errors import DeviceError, RegistryRejected
from devices.forms import Table
from devices.model import ConstructionStatus
from devices.workbook import read_xlsx, write_xlsx

router = APIRouter(
    tags=["registry"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)
ImportBody = {
    "requestBody": {"required": True, "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}
}


@router.get(
    "/registry/template",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "the workbook, headers only"}},
)
def registry_template(caller: Auditor) -> Response:
    """An empty registration workbook: the four sheets (取水口, 取水许可, 监测计量设施, 检定记录) with the
    form's headers, to fill in and import (docs/REGISTRY.md)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "template.xlsx"
        write_xlsx(path, {table: [] for table in Table})
        body = path.read_bytes()
    disposition = 'attachment; filename="registry-template.xlsx"'
    return Response(body, media_type=XLSX, headers={"Content-Disposition": disposition})


@router.get("/intakes", response_model=Page[IntakeOut])
def list_intakes(
    caller: Auditor,
    db: Db,
    page: Paging,
    county: Filter = None,
    status: ConstructionStatus | None = None,
    permit_no: Filter = None,
    q: Annotated[Filter, Query(description="part of the code or name")] = None,
) -> Page[IntakeOut]:
    found, total = queries.paged(
        db,
        queries.INTAKES,
        caller.scoped(county=county, status=status, permit=permit_no, q=q, **page.model_dump()),
    )
    return page_of([IntakeOut(**r) for r in found], total, page)


@router.get("/intakes/{code}", response_model=IntakeOut, responses=responses(404))
def get_intake(caller: Auditor, db: Db, code: str) -> IntakeOut:
    row = queries.rows(db, queries.ONE_INTAKE_FULL, caller.scoped(code=code))
    if not row:
        raise NotFound(f"no intake {code}")
    return IntakeOut(**row[0])


@router.get("/intakes/{code}/daily-volumes", response_model=list[IntakeDayOut], responses=responses(404))
def intake_days(
    caller: Auditor,
    db: ReadDb,
    config: Config,
    code: str,
    start: Annotated[
        IsoDate | None, Query(alias="from", description="first local day (default: 30 days ago)")
    ] = None,
    end: Annotated[IsoDate | None, Query(alias="to", description="last local day (default: today)")] = None,
) -> list[IntakeDayOut]:
    """Per local day: the intake's volume, the sum of its meters' (one per pump or outlet)."""
    intake_or_404(db, caller, code)
    last = end or datetime.now(config.zone).date()
    first = start or last - timedelta(days=30)
    if not EARLIEST <= first <= last <= LATEST or (last - first).days > 3660:
        raise Unprocessable(
            f"'from' {first} and 'to' {last}: from {EARLIEST}, 'to' not before 'from', at most 10 years",
            errors=[{"field": "from", "message": "a range of days from 2000 to 2100, at most 10 years"}],
        )
    rows = queries.rows(db, queries.INTAKE_DAYS, {"code": code, "from": first, "to": last})
    return [IntakeDayOut(**r) for r in rows]


@router.get("/intakes/{code}/changes", response_model=Page[RegistryChangeOut], responses=responses(404))
def intake_changes(caller: Auditor, db: Db, page: Paging, code: str) -> Page[RegistryChangeOut]:
    """Who changed which of the intake's fields, from what to what, newest first (the audit trail)."""
    intake_or_404(db, caller, code)
    found, total = queries.paged(db, queries.CHANGES, {"record": "intake", "key": code, **page.model_dump()})
    return page_of([RegistryChangeOut(**r) for r in found], total, page)


@router.get("/intakes/{code}/signoffs", response_model=list[SignOffOut], responses=responses(404))
def list_signoffs(caller: Auditor, db: Db, code: str) -> list[SignOffOut]:
    """The intake's signed-off annual volumes, newest first, each with its revisions (pending while
    ``accepted_by`` is null)."""
    intake_or_404(db, caller, code)
    return [SignOffOut(**r) for r in sq.history(db, code)]


@router.post("/intakes/{code}/signoffs", response_model=SignOffOut, status_code=201, responses=responses(404))
def sign_off(caller: Auditor, db: Db, config: Config, code: str, body: SignOffIn) -> SignOffOut:
    """Sign off the intake's annual volume for ``year`` as the data says now: every later report of
    that year shows it. Signing again accepts the pending revision."""
    intake_or_404(db, caller, code)
    today = datetime.now(config.zone).date()
    year_begun(body.year, today)
    volume = aq.annual_by_intake(db, [body.year], today, signed=False)[code][0]
    made = sq.sign(db, code, body.year, volume, caller.name, body.note)
    return next(SignOffOut(**r) for r in sq.history(db, code) if r["id"] == made)


@router.post(
    "/signoffs",
    response_model=SignedCount,
    status_code=201,
    dependencies=[Depends(limited("report"))],
    responses=responses(429),
)
def sign_off_division(caller: Auditor, db: Db, config: Config, body: SignOffIn) -> SignedCount:
    """Sign off the year's annual volume of every intake in the caller's division (a county's, a
    city's) as the data says now, in one transaction's worth of sign-offs."""
    today = datetime.now(config.zone).date()
    year_begun(body.year, today)
    inside = queries.intakes_in_scope(db, caller.division)
    computed = aq.annual_by_intake(db, [body.year], today, signed=False)
    codes = sorted(c for c in computed if inside is None or c in inside)
    for code in codes:
        sq.sign(db, code, body.year, computed[code][0], caller.name, body.note)
    return SignedCount(year=body.year, intakes=len(codes))


@router.get("/permits/{permit_no}/changes", response_model=Page[RegistryChangeOut], responses=responses(404))
def permit_changes(caller: Auditor, db: Db, page: Paging, permit_no: str) -> Page[RegistryChangeOut]:
    """Who changed which of the permit's fields, from what to what, newest first (the audit trail)."""
    if not queries.rows(db, queries.ONE_PERMIT, caller.scoped(permit=permit_no)):
        raise NotFound(f"no permit {permit_no}")
    params = {"record": "permit", "key": permit_no, **page.model_dump()}
    found, total = queries.paged(db, queries.CHANGES, params)
    return page_of([RegistryChangeOut(**r) for r in found], total, page)


@router.get("/permits", response_model=Page[PermitOut])
def list_permits(
    caller: Auditor,
    db: Db,
    config: Config,
    page: Paging,
    expired: Annotated[bool | None, Query(description="only expired (true) or only valid (false)")] = None,
) -> Page[PermitOut]:
    today = datetime.now(config.zone).date()
    found, total = queries.paged(
        db, queries.PERMITS, caller.scoped(expired=expired, today=today, **page.model_dump())
    )
    return page_of([PermitOut(**r) for r in found], total, page)


@router.get("/calibrations/due", response_model=Page[CalibrationDueOut])
def calibrations_due(
    caller: Auditor,
    db: Db,
    config: Config,
    page: Paging,
    within_days: Annotated[
        int | None, Query(ge=0, le=3650, description="default INTAKE_CALIBRATION_DUE_WITHIN_DAYS")
    ] = None,
    overdue: Annotated[bool | None, Query(description="only overdue (true) or only due soon (false)")] = None,
    county: Filter = None,
) -> Page[CalibrationDueOut]:
    days = config.calibration_due_within_days if within_days is None else within_days
    due = dq.calibrations_due(db, datetime.now(config.zone).date(), days, config.calibration_periods())
    inside = queries.intakes_in_scope(db, caller.division)
    items = [
        CalibrationDueOut(
            meter_id=d.meter.meter_id,
            intake_code=d.meter.intake_code,
            county=d.county,
            meter_type=str(d.meter.meter_type),
            last_calibrated=d.last_calibrated,
            due=d.due,
            overdue=d.overdue,
        )
        for d in due
        if (overdue is None or d.overdue == overdue)
        and (county is None or d.county == county)
        and (inside is None or d.meter.intake_code in inside)
    ]
    return slice_page(items, page)


@router.post(
    "/registry/import",
    response_model=ImportResult,
    openapi_extra=ImportBody,
    dependencies=[Depends(limited("import"))],
    responses=responses(400, 413, 415, 429),
)
async def import_registry(caller: Admin, request: Request, db: Db, dry_run: bool = False) -> ImportResult:
    """The forms' workbook (取水口, 取水许可, 监测计量设施, 检定记录) as the request body: all or nothing.
    Read and applied in a worker thread: the API keeps answering while a large workbook is imported."""
    if request.headers.get("content-type", "").split(";")[0].strip() != XLSX:
        raise Unsupported(f"send the workbook as {XLSX}")
    body = await request.body()  # bounded by INTAKE_API_MAX_UPLOAD_MB (api/limits.py)
    if not body:
        raise BadRequest("the request body is empty: send the .xlsx workbook")
    return await run_in_threadpool(_import, db, caller, body, dry_run)


def _import(db: Db, caller: Caller, body: bytes, dry_run: bool) -> ImportResult:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "registry.xlsx"
        path.write_bytes(body)
        try:
            tables, warnings = read_xlsx(path, lambda _source, _rows: None)
            plan = registry.plan_import(db, tables, caller.division)
        except RegistryRejected as rejected:
            raise Unprocessable(
                f"import refused: {len(rejected.problems)} problem(s); nothing was written",
                errors=[
                    {"field": _where(p), "message": getattr(p, "reason", str(p))} for p in rejected.problems
                ],
            ) from None
        except DeviceError as exc:
            raise BadRequest(f"the workbook cannot be read: {exc}") from None
    if not dry_run:
        registry.apply_plan(db, plan, caller.name)
    return ImportResult(summary=plan.summary(), warnings=[*warnings, *plan.warnings])


def _where(problem: object) -> str:
    parts = [getattr(problem, a, None) for a in ("table", "row", "column")]
    return ".".join(str(p) for p in parts if p not in (None, ""))
