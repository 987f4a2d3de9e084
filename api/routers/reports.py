"""Compliance by permit and year, the forms' reports as files (XLSX or CSV), refused messages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from anomaly import tables
from anomaly.provenance import sha256
from anomaly.queries import exports as eq
from anomaly.reports import COMPLIANCE_STATUS
from api import queries
from api.deps import Auditor, Caller, Config, Db, ReadDb
from api.errors import BadRequest, NotFound, Unprocessable
from api.limits import limited
from api.paging import Page, Paging, slice_page
from api.params import EARLIEST, IsoDate
from api.problems import responses
from api.schemas import ComplianceOut, IssuedExportOut
from api.strict import strict_request

router = APIRouter(
    tags=["reports"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)
STATUS_CODES = {label: code for code, label in COMPLIANCE_STATUS.items()}
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
Year = Annotated[int | None, Query(ge=2000, le=2100, description="default: this year")]
AsOf = Annotated[IsoDate | None, Query(description="as of this local day (default: today)")]


@router.get(
    "/compliance",
    response_model=Page[ComplianceOut],
    dependencies=[Depends(limited("report"))],
    responses=responses(429),
)
def compliance(
    caller: Auditor,
    db: ReadDb,
    config: Config,
    page: Paging,
    year: Year = None,
    as_of: AsOf = None,
    status: Literal["over_permit", "expired", "projected_over", "warning", "normal"] | None = None,
) -> Page[ComplianceOut]:
    """Per permit: permitted and metered volume (万m³), share used, the projection and a status."""
    table = _table(db, caller, config, "compliance", year, as_of)
    items = []
    for row in table.rows:
        number, authority, valid_to, intakes, permitted, metered, used, projected, share, method, label = row
        item = ComplianceOut(
            permit_no=number,
            authority=authority,
            valid_to=valid_to,
            intakes=intakes.split("、") if intakes else [],
            permitted_wan_m3=permitted,
            metered_wan_m3=metered,
            used=used,
            projected_wan_m3=projected,
            projected_share=share,
            projection_method=str(method),
            status=STATUS_CODES[label],  # type: ignore[arg-type]
            status_label=label,
        )
        if status is None or item.status == status:
            items.append(item)
    return slice_page(items, page)


@router.get(
    "/exports/{report}",
    dependencies=[Depends(limited("report"))],
    response_class=Response,
    responses={
        200: {"content": {m.split(";")[0]: {} for m in MEDIA.values()}, "description": "the file"},
        **responses(429),
    },
)
def export(
    caller: Auditor,
    db: Db,
    config: Config,
    report: Literal["registration", "summary", "ledger", "compliance"],
    fmt: Annotated[Literal["xlsx", "csv"], Query(alias="format")] = "xlsx",
    year: Year = None,
    as_of: AsOf = None,
) -> Response:
    """A form's report with its Chinese headers: registration (Annex 1 annual volumes), summary
    (Annex 2), ledger (Annex 3), compliance."""
    table = _table(db, caller, config, report, year, as_of)
    at = datetime.now(UTC)
    provenance = eq.provenance(
        db, report, year or table.as_of.year, table.as_of, caller.division, caller.name, at
    )
    body = tables.to_xlsx(table, provenance) if fmt == "xlsx" else tables.to_csv(table)
    digest = eq.record(db, provenance, fmt, body)
    name = f"{report}-{table.as_of.isoformat()}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "X-Content-SHA256": digest}
    return Response(body, media_type=MEDIA[fmt], headers=headers)


FileBody = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post("/verify", response_model=IssuedExportOut, openapi_extra=FileBody, responses=responses(413))
async def verify_export(caller: Auditor, request: Request, db: Db) -> IssuedExportOut:
    """Send a file (the body, any media type): whether it is exactly a report the service issued,
    and its provenance. A file changed in any byte is not."""
    body = await request.body()  # bounded by INTAKE_API_MAX_UPLOAD_MB (api/limits.py)
    if not body and "content-type" not in request.headers:
        raise BadRequest("no file: send the exported file as the request body")
    return _issued(db, caller, sha256(body))  # an empty file too: no report is empty


@router.get("/verify/{digest}", response_model=IssuedExportOut, responses=responses(404))
def issued_export(caller: Auditor, db: Db, digest: str) -> IssuedExportOut:
    """The provenance of an issued file by its SHA-256 (the sidecar of a CSV, which has no room for it)."""
    found = _issued(db, caller, digest.lower())
    if not found.issued:
        raise NotFound(f"no export with SHA-256 {digest} was issued inside your division")
    return found


def _issued(db: Db, caller: Caller, digest: str) -> IssuedExportOut:
    found = eq.find(db, digest, caller.division)
    return IssuedExportOut(**found, issued=True) if found else IssuedExportOut(sha256=digest, issued=False)


def _table(
    db: Db, caller: Caller, config: Config, kind: str, year: int | None, as_of: date | None
) -> tables.Table:
    now = datetime.now(UTC)
    real_today = now.astimezone(config.zone).date()
    if as_of is not None and not EARLIEST <= as_of <= real_today:
        raise Unprocessable(
            f"as_of {as_of} is outside {EARLIEST} to today ({real_today})",
            errors=[{"field": "as_of", "message": f"from {EARLIEST} to today"}],
        )
    today = as_of or real_today
    wanted = year or today.year
    if wanted > today.year:
        raise Unprocessable(
            f"year {wanted} is after {today}", errors=[{"field": "year", "message": "in the future"}]
        )
    inside = queries.intakes_in_scope(db, caller.division)
    return tables.build(db, kind, wanted, today, now, config.timezone, inside, caller.division)
