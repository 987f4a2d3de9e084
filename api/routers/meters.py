"""Every meter route (/meters...): the registry's meters and their calibrations, status and its
history, readings (raw or bucketed), daily volumes and corrections of days."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Depends, Query

from anomaly import queries as aq
from anomaly.queries import corrections as cq
from api import queries
from api.deps import Auditor, Config, Db, Operator, ReadDb
from api.errors import BadRequest, Conflict, Unprocessable
from api.found import intake_or_404, meter_or_404
from api.limits import limited
from api.paging import Page, Paging, page_of
from api.params import EARLIEST, LATEST, Filter, IsoDate, IsoDateTime
from api.problems import responses
from api.schemas import (
    BucketOut,
    CalibrationIn,
    CalibrationOut,
    CorrectionIn,
    CorrectionOut,
    DailyVolumeOut,
    MeterDayOut,
    MeterIn,
    MeterOut,
    MeterPatch,
    MeterStatusName,
    MeterStatusOut,
    ReadingOut,
    RegistryChangeOut,
    StatusChangeOut,
)
from api.strict import strict_request
from devices import queries as dq
from devices.errors import DeviceError
from devices.model import Meter
from ingest import reports as ir

router = APIRouter(
    tags=["meters"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)
BUCKETS = {"15m": "15 minutes", "1h": "1 hour", "1d": "1 day", "7d": "7 days", "1mo": "1 month"}
BUCKET_SPAN = {"15m": 900, "1h": 3600, "1d": 86400, "7d": 7 * 86400, "1mo": 28 * 86400}
MAX_BUCKETS = 20_000


@router.get("/meters", response_model=Page[MeterOut])
def list_meters(
    caller: Auditor,
    db: Db,
    page: Paging,
    county: Filter = None,
    intake_code: Filter = None,
    active: Annotated[bool, Query(description="only meters still installed")] = True,
) -> Page[MeterOut]:
    found, total = queries.paged(
        db,
        queries.METERS,
        caller.scoped(county=county, intake=intake_code, active=active, **page.model_dump()),
    )
    return page_of([MeterOut(**r) for r in found], total, page)


@router.get("/meters/status", response_model=Page[MeterStatusOut])
def meter_status(
    caller: Auditor,
    db: Db,
    page: Paging,
    status: MeterStatusName | None = None,
    county: Filter = None,
    meter_id: Filter = None,
) -> Page[MeterStatusOut]:
    """Active meters with their status; the longest in their status first (offline longest on top)."""
    found, total = queries.paged(
        db, queries.STATUS, caller.scoped(status=status, county=county, meter=meter_id, **page.model_dump())
    )
    return page_of([MeterStatusOut(**r) for r in found], total, page)


@router.get("/meters/{meter_id}", response_model=MeterOut, responses=responses(404))
def get_meter(caller: Auditor, db: Db, meter_id: str) -> MeterOut:
    return MeterOut(**meter_or_404(db, caller, meter_id))


@router.post("/meters", response_model=MeterOut, status_code=201, responses=responses(404, 409))
def create_meter(caller: Operator, db: Db, body: MeterIn) -> MeterOut:
    fields = body.model_dump()
    capacity = fields.pop("totalizer_capacity_m3")
    meter = _checked(
        lambda: Meter(**fields, totalizer_capacity_m3=None if capacity is None else Decimal(capacity))
    )
    intake_or_404(db, caller, meter.intake_code)
    try:
        with db.transaction():
            db.execute(dq.SET_ACTOR, (caller.name,))
            db.execute(queries.INSERT_METER, dq.row_from_record(meter))
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(_unique_message(exc, meter)) from None
    return MeterOut(**meter_or_404(db, caller, meter.meter_id))


@router.patch("/meters/{meter_id}", response_model=MeterOut, responses=responses(404, 409))
def update_meter(caller: Operator, db: Db, meter_id: str, body: MeterPatch) -> MeterOut:
    current = dq.record_from_row(Meter, [meter_or_404(db, caller, meter_id)[c] for c in dq.METER_COLUMNS])
    changes = body.model_dump(exclude_unset=True)
    if changes.get("totalizer_capacity_m3") is not None:
        changes["totalizer_capacity_m3"] = Decimal(changes["totalizer_capacity_m3"])
    if "rtu_address" in changes and changes["rtu_address"] is None:
        changes.setdefault("rtu_channel", None)  # no longer reached through an RTU
    if not changes:
        raise BadRequest("nothing to change: send at least one field")
    meter = _checked(lambda: replace(current, **changes))  # a meter never moves to another intake
    try:
        with db.transaction():
            db.execute(dq.SET_ACTOR, (caller.name,))
            db.execute(queries.UPDATE_METER, (*dq.row_from_record(meter)[1:], meter.meter_id))
    except psycopg.errors.UniqueViolation as exc:  # put back on an RTU channel another active meter holds
        raise Conflict(_unique_message(exc, meter)) from None
    return MeterOut(**meter_or_404(db, caller, meter_id))


@router.get(
    "/meters/{meter_id}/status/history", response_model=Page[StatusChangeOut], responses=responses(404)
)
def status_history(caller: Auditor, db: Db, page: Paging, meter_id: str) -> Page[StatusChangeOut]:
    meter_or_404(db, caller, meter_id)
    found, total = queries.paged(db, queries.STATUS_HISTORY, {"meter": meter_id, **page.model_dump()})
    return page_of([StatusChangeOut(**r) for r in found], total, page)


@router.get("/meters/{meter_id}/days", response_model=list[MeterDayOut], responses=responses(404))
def meter_days(
    caller: Auditor,
    db: Db,
    config: Config,
    meter_id: str,
    days: Annotated[
        int, Query(ge=1, le=366, description="the last this many local days, today included")
    ] = 7,
) -> list[MeterDayOut]:
    """Per local day: the share of it the meter was online (null for time the status sweep did not
    watch: before the meter's first recorded status), the share watched, and 到报率 (readings
    received ÷ expected; today against the part of it that has passed)."""
    meter_or_404(db, caller, meter_id)
    today = datetime.now(config.zone).date()
    rows = aq.meter_days(db, meter_id, today - timedelta(days=days - 1), today, config.timezone)
    return [MeterDayOut(**r) for r in rows]


@router.get(
    "/meters/{meter_id}/readings",
    dependencies=[Depends(limited("report"))],
    response_model=Page[ReadingOut] | list[BucketOut],
    responses=responses(404, 429),
)
def readings(
    caller: Auditor,
    db: ReadDb,
    config: Config,
    page: Paging,
    meter_id: str,
    start: Annotated[IsoDateTime, Query(alias="from", description="device time, inclusive (ISO 8601)")],
    end: Annotated[IsoDateTime, Query(alias="to", description="device time, exclusive")],
    bucket: Annotated[
        Literal["15m", "1h", "1d", "7d", "1mo"] | None,
        Query(description="aggregate with time_bucket, aligned to local midnight; omit for raw readings"),
    ] = None,
) -> Page[ReadingOut] | list[BucketOut]:
    """Raw readings (paged), or per bucket: count, first and last totalizer, mean and max flow."""
    if end <= start:
        raise Unprocessable(
            "'to' must be after 'from'", errors=[{"field": "to", "message": "not after from"}]
        )
    meter_or_404(db, caller, meter_id)
    if bucket is not None and (end - start).total_seconds() / BUCKET_SPAN[bucket] > MAX_BUCKETS:
        raise Unprocessable(
            f"{bucket} buckets over that range would be more than {MAX_BUCKETS}; use a larger bucket",
            errors=[{"field": "bucket", "message": "too many buckets for the range"}],
        )
    found, total = queries.readings(
        db,
        meter_id,
        start,
        end,
        BUCKETS[bucket] if bucket else None,
        config.timezone,
        page.limit,
        page.offset,
    )
    if bucket is not None:
        return [BucketOut(**r) for r in found]
    return page_of([ReadingOut(**r) for r in found], total, page)


@router.get("/meters/{meter_id}/daily-volumes", response_model=list[DailyVolumeOut], responses=responses(404))
def daily_volumes(
    caller: Auditor,
    db: ReadDb,
    config: Config,
    meter_id: str,
    start: Annotated[
        date | None, Query(alias="from", description="first local day (default: 30 days ago)")
    ] = None,
    end: Annotated[IsoDate | None, Query(alias="to", description="last local day (default: today)")] = None,
) -> list[DailyVolumeOut]:
    """Per local day: volume (m³, exact), 计量 method, readings, coverage, flags, integrated flow."""
    meter_or_404(db, caller, meter_id)
    for name, given in (("from", start), ("to", end)):
        if given is not None and not EARLIEST <= given <= LATEST:
            raise Unprocessable(
                f"'{name}' {given} is outside {EARLIEST} to {LATEST}",
                errors=[{"field": name, "message": f"from {EARLIEST} to {LATEST}"}],
            )
    last = end or datetime.now(config.zone).date()
    first = start or last - timedelta(days=30)
    if last < first:
        raise Unprocessable("'to' is before 'from'", errors=[{"field": "to", "message": "before from"}])
    if (last - first).days > 3660:
        raise Unprocessable(
            "at most 10 years at once", errors=[{"field": "from", "message": "range too long"}]
        )
    return [
        DailyVolumeOut(**{k: v for k, v in r.items() if k != "reason"}, correction_reason=r["reason"])
        for r in ir.daily_rows(db, meter_id, first, last)
    ]


@router.get("/meters/{meter_id}/calibrations", response_model=Page[CalibrationOut], responses=responses(404))
def list_calibrations(caller: Auditor, db: Db, page: Paging, meter_id: str) -> Page[CalibrationOut]:
    meter_or_404(db, caller, meter_id)
    found, total = queries.paged(db, queries.METER_CALIBRATIONS, {"meter": meter_id, **page.model_dump()})
    return page_of([CalibrationOut(**r) for r in found], total, page)


@router.post(
    "/meters/{meter_id}/calibrations",
    response_model=CalibrationOut,
    status_code=201,
    responses=responses(404, 409),
)
def add_calibration(
    caller: Operator, db: Db, config: Config, meter_id: str, body: CalibrationIn
) -> CalibrationOut:
    meter = meter_or_404(db, caller, meter_id)
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


@router.get("/meters/{meter_id}/corrections", response_model=Page[CorrectionOut], responses=responses(404))
def list_corrections(caller: Auditor, db: Db, page: Paging, meter_id: str) -> Page[CorrectionOut]:
    """Every correction of the meter's days, newest day first, revoked ones included."""
    meter_or_404(db, caller, meter_id)
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
    meter_or_404(db, caller, meter_id)
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


@router.get("/meters/{meter_id}/changes", response_model=Page[RegistryChangeOut], responses=responses(404))
def meter_changes(caller: Auditor, db: Db, page: Paging, meter_id: str) -> Page[RegistryChangeOut]:
    """Who changed which of the meter's fields, from what to what, newest first (the audit trail)."""
    meter_or_404(db, caller, meter_id)
    found, total = queries.paged(
        db, queries.CHANGES, {"record": "meter", "key": meter_id, **page.model_dump()}
    )
    return page_of([RegistryChangeOut(**r) for r in found], total, page)


def _checked(make: Any) -> Meter:
    try:
        meter: Meter = make()
    except DeviceError as exc:
        raise Unprocessable(str(exc)) from None
    return meter


def _unique_message(exc: psycopg.errors.UniqueViolation, meter: Meter) -> str:
    if exc.diag.constraint_name == "meters_rtu_in_service":
        return (
            f"channel {meter.rtu_channel} of RTU {meter.rtu_address} is already another active meter's; "
            "give this one another channel, or set the other's removed_on first"
        )
    return f"meter {meter.meter_id} exists"


def _today(config: Config) -> date:
    return datetime.now(config.zone).date()
