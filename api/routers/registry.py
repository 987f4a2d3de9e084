"""Intakes, permits, meters and calibrations: read by every role, changed by operators; the
registry import (the forms' workbook) by admins."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from api import queries
from api.deps import Admin, Auditor, Config, Db, Operator
from api.errors import BadRequest, Conflict, NotFound, Unprocessable
from api.limits import limited
from api.paging import Page, Paging, page_of, slice_page
from api.params import Filter
from api.problems import responses
from api.schemas import (
    CalibrationDueOut,
    CalibrationIn,
    CalibrationOut,
    ImportResult,
    IntakeOut,
    MeterIn,
    MeterOut,
    MeterPatch,
    PermitOut,
)
from api.strict import strict_request
from devices import queries as dq
from devices import registry
from devices.errors import DeviceError, RegistryRejected
from devices.model import ConstructionStatus, Meter
from devices.workbook import read_xlsx

router = APIRouter(
    tags=["registry"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ImportBody = {
    "requestBody": {"required": True, "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}
}


@router.get("/intakes", response_model=Page[IntakeOut])
def list_intakes(
    _: Auditor,
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
        {"county": county, "status": status, "permit": permit_no, "q": q, **page.model_dump()},
    )
    return page_of([IntakeOut(**r) for r in found], total, page)


@router.get("/intakes/{code}", response_model=IntakeOut, responses=responses(404))
def get_intake(_: Auditor, db: Db, code: str) -> IntakeOut:
    row = queries.rows(db, queries.ONE_INTAKE_FULL, (code,))
    if not row:
        raise NotFound(f"no intake {code}")
    return IntakeOut(**row[0])


@router.get("/permits", response_model=Page[PermitOut])
def list_permits(
    _: Auditor,
    db: Db,
    config: Config,
    page: Paging,
    expired: Annotated[bool | None, Query(description="only expired (true) or only valid (false)")] = None,
) -> Page[PermitOut]:
    today = _today(config)
    found, total = queries.paged(
        db, queries.PERMITS, {"expired": expired, "today": today, **page.model_dump()}
    )
    return page_of([PermitOut(**r) for r in found], total, page)


@router.get("/meters", response_model=Page[MeterOut])
def list_meters(
    _: Auditor,
    db: Db,
    page: Paging,
    county: Filter = None,
    intake_code: Filter = None,
    active: Annotated[bool, Query(description="only meters still installed")] = True,
) -> Page[MeterOut]:
    found, total = queries.paged(
        db,
        queries.METERS,
        {"county": county, "intake": intake_code, "active": active, **page.model_dump()},
    )
    return page_of([MeterOut(**r) for r in found], total, page)


@router.get("/meters/{meter_id}", response_model=MeterOut, responses=responses(404))
def get_meter(_: Auditor, db: Db, meter_id: str) -> MeterOut:
    return MeterOut(**meter_or_404(db, meter_id))


@router.post("/meters", response_model=MeterOut, status_code=201, responses=responses(404, 409))
def create_meter(_: Operator, db: Db, body: MeterIn) -> MeterOut:
    fields = body.model_dump()
    capacity = fields.pop("totalizer_capacity_m3")
    meter = _checked(
        lambda: Meter(**fields, totalizer_capacity_m3=None if capacity is None else Decimal(capacity))
    )
    if not queries.rows(db, queries.ONE_INTAKE, (meter.intake_code,)):
        raise NotFound(f"no intake {meter.intake_code}; import it with the registry first")
    try:
        with db.transaction():
            db.execute(queries.INSERT_METER, dq.row_from_record(meter))
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(_unique_message(exc, meter)) from None
    return MeterOut(**meter_or_404(db, meter.meter_id))


@router.patch("/meters/{meter_id}", response_model=MeterOut, responses=responses(404, 409))
def update_meter(_: Operator, db: Db, meter_id: str, body: MeterPatch) -> MeterOut:
    current = dq.record_from_row(Meter, [meter_or_404(db, meter_id)[c] for c in dq.METER_COLUMNS])
    changes = body.model_dump(exclude_unset=True)
    if changes.get("totalizer_capacity_m3") is not None:
        changes["totalizer_capacity_m3"] = Decimal(changes["totalizer_capacity_m3"])
    if not changes:
        raise BadRequest("nothing to change: send at least one field")
    meter = _checked(lambda: replace(current, **changes))
    try:
        with db.transaction():
            db.execute(queries.UPDATE_METER, (*dq.row_from_record(meter)[1:], meter.meter_id))
    except psycopg.errors.UniqueViolation as exc:  # put back in service beside another active meter
        raise Conflict(_unique_message(exc, meter)) from None
    return MeterOut(**meter_or_404(db, meter_id))


@router.get("/meters/{meter_id}/calibrations", response_model=Page[CalibrationOut], responses=responses(404))
def list_calibrations(_: Auditor, db: Db, page: Paging, meter_id: str) -> Page[CalibrationOut]:
    meter_or_404(db, meter_id)
    found, total = queries.paged(db, queries.METER_CALIBRATIONS, {"meter": meter_id, **page.model_dump()})
    return page_of([CalibrationOut(**r) for r in found], total, page)


@router.post(
    "/meters/{meter_id}/calibrations",
    response_model=CalibrationOut,
    status_code=201,
    responses=responses(404, 409),
)
def add_calibration(
    _: Operator, db: Db, config: Config, meter_id: str, body: CalibrationIn
) -> CalibrationOut:
    meter = meter_or_404(db, meter_id)
    if body.calibrated_on > _today(config):
        raise Unprocessable(
            f"calibrated_on {body.calibrated_on} is in the future",
            errors=[{"field": "calibrated_on", "message": "must not be in the future"}],
        )
    if body.calibrated_on < meter["installed_on"]:
        raise Unprocessable(
            f"calibrated_on {body.calibrated_on} is before the meter was installed ({meter['installed_on']})",
            errors=[{"field": "calibrated_on", "message": "before the meter was installed"}],
        )
    with db.transaction():
        row = db.execute(
            queries.INSERT_CALIBRATION,
            (meter_id, body.calibrated_on, str(body.result), body.certificate_no),
        ).fetchone()
    if row is None:
        raise Conflict(f"meter {meter_id} already has a calibration on {body.calibrated_on}")
    return CalibrationOut(meter_id=meter_id, **body.model_dump(mode="json"))


@router.get("/calibrations/due", response_model=Page[CalibrationDueOut])
def calibrations_due(
    _: Auditor,
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
    due = dq.calibrations_due(db, _today(config), days, config.calibration_periods())
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
        if (overdue is None or d.overdue == overdue) and (county is None or d.county == county)
    ]
    return slice_page(items, page)


@router.post(
    "/registry/import",
    response_model=ImportResult,
    openapi_extra=ImportBody,
    dependencies=[Depends(limited("import"))],
    responses=responses(400, 413, 415, 429),
)
async def import_registry(_: Admin, request: Request, db: Db, dry_run: bool = False) -> ImportResult:
    """The forms' workbook (取水口, 取水许可, 监测计量设施, 检定记录) as the request body: all or nothing.
    Read and applied in a worker thread: the API keeps answering while a large workbook is imported."""
    if request.headers.get("content-type", "").split(";")[0].strip() != XLSX:
        raise Unsupported(f"send the workbook as {XLSX}")
    body = await request.body()  # bounded by INTAKE_API_MAX_UPLOAD_MB (api/limits.py)
    if not body:
        raise BadRequest("the request body is empty: send the .xlsx workbook")
    return await run_in_threadpool(_import, db, body, dry_run)


def _import(db: Db, body: bytes, dry_run: bool) -> ImportResult:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "registry.xlsx"
        path.write_bytes(body)
        try:
            tables, warnings = read_xlsx(path, lambda _source, _rows: None)
            plan = registry.plan_import(db, tables)
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
        registry.apply_plan(db, plan)
    return ImportResult(summary=plan.summary(), warnings=[*warnings, *plan.warnings])


class Unsupported(BadRequest):
    status = 415
    title = "Unsupported media type"


def _where(problem: object) -> str:
    parts = [getattr(problem, a, None) for a in ("table", "row", "column")]
    return ".".join(str(p) for p in parts if p not in (None, ""))


def meter_or_404(db: Db, meter_id: str) -> dict[str, Any]:
    """The meter's row (with its county), or 404."""
    found = queries.rows(db, queries.ONE_METER, (meter_id,))
    if not found:
        raise NotFound(f"no meter {meter_id}")
    return found[0]


def _checked(make: Any) -> Meter:
    try:
        meter: Meter = make()
    except DeviceError as exc:
        raise Unprocessable(str(exc)) from None
    return meter


def _unique_message(exc: psycopg.errors.UniqueViolation, meter: Meter) -> str:
    if exc.diag.constraint_name == "meters_one_active_per_intake":
        return (
            f"intake {meter.intake_code} already has an active meter; set its removed_on first "
            "(a replacement keeps the old meter's history)"
        )
    return f"meter {meter.meter_id} exists"


def _today(config: Config) -> date:
    return datetime.now(config.zone).date()
