"""Manual readings (人工抄表): one reading from the dashboard's form, or a batch as a CSV/XLSX file; each
judged and stored as a meter's own reading would be (ingest/manual.py), marked manual."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api import queries
from api.deps import Auditor, Caller, Config, Db, Operator
from api.errors import BadRequest, Conflict, Unprocessable
from api.found import meter_or_404
from api.limits import limited
from api.paging import Page, Paging, page_of
from api.problems import responses
from api.schemas_campaign import ManualBatchOut, ManualReadingIn, ManualReadingOut, ManualRowOut
from api.strict import strict_request
from api.uploads import UploadBody, table_upload
from devices.errors import DeviceError
from devices.manual import TEMPLATE_HEADERS, BatchRefused, Channel, ManualEntry, read_rows, read_time
from devices.workbook import read_list
from ingest.manual import ManualResult, store_manual
from ingest.message import Limits

router = APIRouter(
    tags=["manual readings"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)
LIST = """
SELECT meter_id, ts, (ts AT TIME ZONE %(tz)s)::date AS day, total_m3, read_by, photo_ref, entered_by,
       entered_at, channel, count(*) OVER () AS total
FROM manual_readings WHERE meter_id = %(meter)s
ORDER BY ts DESC LIMIT %(limit)s OFFSET %(offset)s"""
ONE = """
SELECT meter_id, ts, (ts AT TIME ZONE %(tz)s)::date AS day, total_m3, read_by, photo_ref, entered_by,
       entered_at, channel
FROM manual_readings WHERE meter_id = %(meter)s AND ts = %(ts)s"""
ReadBy = Annotated[
    str | None, Query(max_length=200, description="who read the meters, for rows that do not say")
]


def _store(
    db: Db, config: Config, caller: Caller, entries: list[ManualEntry], channel: Channel
) -> ManualResult:
    return store_manual(
        db,
        entries,
        config.zone,
        Limits(zone=config.zone),
        caller.name,
        channel,
        datetime.now(UTC),
        caller.division,
    )


@router.get(
    "/manual-readings/template",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the headers, and one example row"}},
)
def manual_template(caller: Auditor) -> Response:
    """A CSV to fill in with readings copied from meters' displays and upload (POST /manual-readings)."""
    example = ["WM-000001", "2026-12-01 09:30", "12345.678", "张三", "IMG_0001.jpg"]
    body = "\ufeff" + ",".join(TEMPLATE_HEADERS) + "\r\n" + ",".join(example) + "\r\n"
    disposition = 'attachment; filename="manual-readings-template.csv"'
    return Response(
        body.encode(), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition}
    )


@router.get(
    "/meters/{meter_id}/manual-readings", response_model=Page[ManualReadingOut], responses=responses(404)
)
def list_manual(
    caller: Auditor, db: Db, config: Config, page: Paging, meter_id: str
) -> Page[ManualReadingOut]:
    """The meter's readings entered by hand, newest first, with who read and who entered each."""
    meter_or_404(db, caller, meter_id)
    found, total = queries.paged(db, LIST, {"meter": meter_id, "tz": config.timezone, **page.model_dump()})
    return page_of([ManualReadingOut(**r) for r in found], total, page)


@router.post(
    "/meters/{meter_id}/manual-readings",
    response_model=ManualReadingOut,
    status_code=201,
    responses=responses(404, 409),
)
def add_manual(
    caller: Operator, db: Db, config: Config, meter_id: str, body: ManualReadingIn
) -> ManualReadingOut | JSONResponse:
    """Store one reading read from the meter's display: 201 when stored, 200 when that very reading was
    stored before (nothing twice), 409 when another is stored at that time, 422 when it is refused."""
    meter_or_404(db, caller, meter_id)
    entry = ManualEntry(
        1,
        meter_id,
        read_time(body.read_at, config.zone),
        body.totalizer_m3,
        body.read_by or caller.name,
        body.photo_ref,
    )
    done = _store(db, config, caller, [entry], Channel.FORM)
    for problem in done.problems:
        if problem.reason == "conflict":
            raise Conflict(problem.message)
        raise Unprocessable(
            f"reading refused: {problem.message}",
            errors=[{"field": problem.reason, "message": problem.message}],
        )
    row = queries.rows(db, ONE, {"meter": meter_id, "ts": entry.ts, "tz": config.timezone})
    if done.stored:
        return ManualReadingOut(**row[0])
    if row:  # entered by hand before
        return JSONResponse(ManualReadingOut(**row[0]).model_dump(mode="json"), status_code=200)
    raise Conflict(f"the meter itself reported this reading at {entry.ts.isoformat()}; nothing was entered")


@router.post(
    "/manual-readings",
    response_model=ManualBatchOut,
    openapi_extra=UploadBody,
    dependencies=[Depends(limited("import"))],
    responses=responses(415, 429),
)
async def upload_manual(
    caller: Operator, request: Request, db: Db, config: Config, read_by: ReadBy = None
) -> ManualBatchOut:
    """A batch of manual readings as the request body (.xlsx or CSV; headers 计量设施编号, 抄表时间,
    表底数(m³), and 抄表人, 照片编号 if given; GET /manual-readings/template). Every good row is stored,
    every bad one comes back with its row number and why."""
    body, suffix = await table_upload(request, "readings")
    return await run_in_threadpool(_upload, db, config, caller, body, suffix, read_by)


def _upload(
    db: Db, config: Config, caller: Caller, body: bytes, suffix: str, read_by: str | None
) -> ManualBatchOut:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"readings{suffix}"
        path.write_bytes(body)
        try:
            headers, rows = read_list(path)
            entries, problems = read_rows(headers, rows, config.zone, (read_by or "").strip() or None)
        except BatchRefused as exc:
            raise Unprocessable(
                f"not a manual-readings table: {exc}", errors=[{"field": "headers", "message": str(exc)}]
            ) from None
        except DeviceError as exc:
            raise BadRequest(f"the file cannot be read: {exc}") from None
    done = _store(db, config, caller, entries, Channel.UPLOAD)
    refused = sorted([*problems, *done.problems], key=lambda p: p.row)
    return ManualBatchOut(
        rows=len(rows),
        stored=len(done.stored),
        already_stored=len(done.already),
        days_written=done.days,
        refused=[
            ManualRowOut(row=p.row, meter_id=p.meter_id, reason=p.reason, message=p.message) for p in refused
        ],
    )
