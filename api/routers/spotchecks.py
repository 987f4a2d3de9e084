"""Spot checks (监督检查, "四不两直"): draw a reproducible stratified sample of a division's intakes,
assign it to inspectors, record what each inspection found, and read the results. A spot check is
seen by the division that drew it and those above, not by the county checked."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from fastapi import APIRouter, Depends

from anomaly.queries import spotchecks as qs
from anomaly.spotcheck import Inspection, draw, summarize
from api import queries
from api.deps import Auditor, Caller, Config, Db, Operator
from api.errors import NotFound, Unprocessable
from api.paging import Page, Paging, page_of
from api.problems import responses
from api.schemas_campaign import (
    AssignIn,
    InspectionIn,
    InspectionOut,
    SpotCheckDetail,
    SpotCheckIn,
    SpotCheckItem,
    SpotCheckOut,
)
from api.strict import strict_request

router = APIRouter(
    tags=["spot checks"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)


def _found(db: Db, caller: Caller, spot_check: int) -> dict[str, object]:
    held = qs.one(db, spot_check, caller.division) if -(2**63) <= spot_check < 2**63 else None
    if held is None:
        raise NotFound(f"no spot check {spot_check} of your division")
    return held


def _detail(db: Db, caller: Caller, spot_check: int) -> SpotCheckDetail:
    held = _found(db, caller, spot_check)
    items = qs.items(db, spot_check)
    return SpotCheckDetail(**held, summary=summarize(items), items=[SpotCheckItem(**i) for i in items])  # type: ignore[arg-type]


@router.post("/spot-checks", status_code=201, response_model=SpotCheckDetail)
def draw_sample(caller: Operator, db: Db, config: Config, body: SpotCheckIn) -> SpotCheckDetail:
    """Draw a sample of ``division_code`` (inside the caller's division): ``share`` or ``count`` of
    its intakes, stratified by county and risk, with ``seed`` (the same seed draws the same sample)."""
    if (body.share is None) == (body.count is None):
        raise Unprocessable(
            "give a share or a count", errors=[{"field": "share", "message": "share or count"}]
        )
    division = body.division_code or caller.division
    if division is not None and not queries.division_known(db, division):
        raise Unprocessable(
            f"no division {division}", errors=[{"field": "division_code", "message": "unknown"}]
        )
    if not queries.inside(db, division, caller.division):
        raise Unprocessable(
            f"{division} is not inside your division",
            errors=[{"field": "division_code", "message": "outside"}],
        )
    now = datetime.now(UTC)
    seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
    people = qs.population(db, division, now.astimezone(config.zone).date())
    if not people:
        raise Unprocessable(
            f"no placed intakes in {division}", errors=[{"field": "division_code", "message": "empty"}]
        )
    drawn = draw(people, seed, share=body.share, count=body.count)
    made = qs.create(
        db,
        owner_division=caller.division,
        division=division,
        title=body.title,
        seed=seed,
        share=body.share,
        count=body.count,
        population_size=len(people),
        drawn=drawn,
        actor=caller.name,
        now=now,
    )
    return _detail(db, caller, made)


@router.get("/spot-checks", response_model=Page[SpotCheckOut])
def list_spot_checks(caller: Auditor, db: Db, page: Paging) -> Page[SpotCheckOut]:
    """Spot checks drawn by the caller's division and those inside it, newest first."""
    rows, total = queries.paged(db, qs.LIST, caller.scoped(**page.model_dump()))
    return page_of([SpotCheckOut(**r) for r in rows], total, page)


@router.get("/spot-checks/{spot_check_id}", response_model=SpotCheckDetail, responses=responses(404))
def get_spot_check(caller: Auditor, db: Db, spot_check_id: int) -> SpotCheckDetail:
    """The sample, who inspects what, each inspection's result and the summary."""
    return _detail(db, caller, spot_check_id)


@router.post("/spot-checks/{spot_check_id}/assign", response_model=SpotCheckDetail, responses=responses(404))
def assign(caller: Operator, db: Db, spot_check_id: int, body: AssignIn) -> SpotCheckDetail:
    """Hand the sample's intakes to inspectors in turn (``intakes``, or those not yet assigned)."""
    _found(db, caller, spot_check_id)
    inspectors = [name.strip() for name in body.inspectors if name.strip()]
    if not inspectors:
        raise Unprocessable("name an inspector", errors=[{"field": "inspectors", "message": "empty"}])
    try:
        qs.assign(db, spot_check_id, inspectors, body.intakes)
    except qs.NotInSample as exc:
        raise Unprocessable(str(exc), errors=[{"field": "intakes", "message": str(exc)}]) from None
    return _detail(db, caller, spot_check_id)


@router.post(
    "/spot-checks/{spot_check_id}/inspections",
    status_code=201,
    response_model=InspectionOut,
    responses=responses(404),
)
def record_inspection(
    caller: Operator, db: Db, config: Config, spot_check_id: int, body: InspectionIn
) -> InspectionOut:
    """What an inspection found at one sampled intake; what it contradicts becomes findings (登记的
    取水口不存在, 计量设施与登记不符, 整改不到位). A later inspection of the same intake corrects it."""
    _found(db, caller, spot_check_id)
    now = datetime.now(UTC)
    if body.inspected_on > now.astimezone(config.zone).date():
        raise Unprocessable(
            "an inspection is not in the future", errors=[{"field": "inspected_on", "message": "future"}]
        )
    found = Inspection(body.found, body.meter_serial, body.rectification_real, tuple(body.photos), body.notes)
    try:
        ids = qs.record(
            db, spot_check_id, body.intake_code, found, body.inspected_on, body.inspected_by, caller.name, now
        )
    except qs.NotInSample as exc:
        raise Unprocessable(
            str(exc), errors=[{"field": "intake_code", "message": "not in the sample"}]
        ) from None
    latest = next(i for i in qs.items(db, spot_check_id) if i["intake_code"] == body.intake_code)
    return InspectionOut(
        intake_code=body.intake_code, meter_as_registered=latest["meter_as_registered"], findings=ids
    )
