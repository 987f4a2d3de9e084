"""The monthly progress report (进展情况): a month's figures for the caller's division, a city's
counties side by side with their total, as JSON, XLSX or one page of HTML; and a county's report
with its own words, submitted to the city and reviewed like the year's reports (/submissions)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from anomaly.progress import Progress, month_end, parse_month, render, to_tables
from anomaly.queries import exports as eq
from anomaly.queries import progress as qp
from anomaly.queries import submissions as sq
from anomaly.submissions import SubmissionError, freeze, may_submit
from api.deps import Auditor, Config, Db, Operator
from api.errors import Conflict, Unprocessable
from api.limits import limited
from api.problems import responses
from api.routers.submissions import submission_detail
from api.schemas import SubmissionDetail
from api.schemas_campaign import MONTH_PATTERN, ProgressOut, ProgressReportIn, ProgressRow
from api.strict import strict_request

router = APIRouter(
    tags=["progress"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
Month = Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM")]


def _month(text: str) -> date:
    try:
        return parse_month(text)
    except ValueError as exc:
        raise Unprocessable(str(exc), errors=[{"field": "month", "message": "YYYY-MM"}]) from None


def _row(p: Progress) -> ProgressRow:
    values: dict[str, Any] = asdict(p)
    values.update(on_time_share=p.on_time_share, arrival_rate=p.arrival_rate, estimated_days=p.estimated_days)
    return ProgressRow(**values)


@router.get(
    "/progress",
    response_model=ProgressOut,
    dependencies=[Depends(limited("report"))],
    responses={**responses(429), 200: {"content": {m.split(";")[0]: {} for m in MEDIA.values()}}},
)
def progress(
    caller: Auditor,
    db: Db,
    config: Config,
    month: Month,
    fmt: Annotated[Literal["json", "xlsx", "csv", "html"], Query(alias="format")] = "json",
) -> Any:
    """The month's figures per county-level division inside the caller's (a city: its counties side
    by side, then their total). XLSX, CSV and HTML are recorded by their SHA-256 like the exports."""
    first = _month(month)
    now = datetime.now(UTC)
    if first > now.astimezone(config.zone).date():
        raise Unprocessable(f"{month} has not begun", errors=[{"field": "month", "message": "in the future"}])
    title, rows = qp.report(db, caller.division, first, config.timezone)
    if fmt == "json":
        divisions = rows[:-1] if len(rows) > 1 else rows
        return ProgressOut(
            month=month,
            divisions=[_row(r) for r in divisions],
            total=_row(rows[-1]) if len(rows) > 1 else None,
        )
    issued = eq.provenance(db, "progress", first.year, month_end(first), caller.division, caller.name, now)
    body = render(fmt, title, first, rows, issued)
    eq.record(db, issued, fmt, body)
    name = f"progress-{month}.{fmt}"
    return Response(
        body, media_type=MEDIA[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.post(
    "/progress-reports",
    status_code=201,
    response_model=SubmissionDetail,
    dependencies=[Depends(limited("report"))],
    responses=responses(409, 429),
)
def submit_progress(caller: Operator, db: Db, config: Config, body: ProgressReportIn) -> SubmissionDetail:
    """Submit the caller's division's report for a month that is over: its figures, frozen as they
    are now, with its words (工作开展情况、取得的主要成果、存在的困难和问题、有关意见和建议). The
    division above accepts or returns it at /submissions/{id}."""
    first = _month(body.month)
    now = datetime.now(UTC)
    if month_end(first) >= now.astimezone(config.zone).date():
        raise Unprocessable(
            f"{body.month} is not over yet", errors=[{"field": "month", "message": "not over"}]
        )
    try:
        live = sq.live_state(db, caller.division, first.year, "progress", first) if caller.division else None
        may_submit(caller.division, live)
    except SubmissionError as exc:
        raise Conflict(str(exc).replace("year's", "month's")) from None
    assert caller.division is not None
    words = {"work": body.work, "achievements": body.achievements, "difficulties": body.difficulties}
    words["proposals"] = body.proposals
    contents, digest = freeze(
        to_tables(first, qp.report(db, caller.division, first, config.timezone)[1], words)
    )
    try:
        made = sq.submit(
            db, caller.division, first.year, contents, digest, caller.name, None, "progress", first
        )
    except psycopg.errors.UniqueViolation:
        raise Conflict("the division's report for that month was submitted meanwhile") from None
    return submission_detail(db, caller, made)
