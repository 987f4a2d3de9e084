"""The fleet as a whole: the summary by county, each intake's annual volume and the map of intakes
(一张图)."""

from __future__ import annotations

import gc
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from anomaly import queries as aq
from anomaly.queries import exports as eq
from api import queries
from api.deps import Auditor, Caller, Config, Db, ReadDb
from api.limits import limited
from api.paging import Page, Paging, slice_page
from api.params import Filter, year_begun
from api.problems import responses
from api.schemas import (
    AnnualVolumeOut,
    CountyStatus,
)
from api.strict import strict_request

router = APIRouter(
    tags=["fleet"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)


@router.get("/fleet/summary", response_model=list[CountyStatus])
def fleet_summary(caller: Auditor, db: ReadDb) -> list[CountyStatus]:
    """Per county of the caller's division: active meters online, offline and never reported (as the
    status sweep judged)."""
    return [CountyStatus(**row) for row in aq.fleet_summary(db, caller.division)]


@router.get(
    "/annual-volumes",
    response_model=Page[AnnualVolumeOut],
    dependencies=[Depends(limited("report"))],
    responses=responses(429),
)
def annual_volumes(
    caller: Auditor,
    db: ReadDb,
    config: Config,
    page: Paging,
    year: Annotated[
        int | None, Query(ge=2000, le=2100, description="default: this year, up to today")
    ] = None,
    intake_code: Filter = None,
) -> Page[AnnualVolumeOut]:
    """Each intake's metered annual volume and 数据获取方式, as the registration form asks."""
    today = datetime.now(config.zone).date()
    wanted = year or today.year
    year_begun(wanted, today)
    annual = aq.annual_by_intake(db, [wanted], today)
    inside = queries.intakes_in_scope(db, caller.division)
    items = [
        AnnualVolumeOut(
            intake_code=code,
            year=v.year,
            volume_m3=v.volume_m3,
            volume_wan_m3=v.volume_wan,
            method=str(v.method),
            measured_days=v.measured_days,
            estimated_days=v.estimated_days,
            unmetered_days=v.unmetered_days,
            basis=v.basis,
            signed_by=v.signed_by,
            computed_m3=v.computed_m3,
            pending_revision=v.pending_revision,
            manual_readings=v.manual_readings,
            method_label=v.method_label,
        )
        for code, volumes in sorted(annual.items())
        if (intake_code is None or code == intake_code) and (inside is None or code in inside)
        for v in volumes
    ]
    return slice_page(items, page)


@router.get(
    "/map.geojson",
    dependencies=[Depends(limited("report"))],
    response_class=Response,
    responses={
        200: {"content": {"application/geo+json": {}}, "description": "a FeatureCollection"},
        **responses(429),
    },
)
def map_geojson(
    caller: Auditor,
    request: Request,
    db: Db,
    read: ReadDb,
    config: Config,
    county: Filter = None,
    download: Annotated[
        bool, Query(description="a file to keep: with its provenance, recorded by SHA-256 (never reused)")
    ] = False,
) -> Response:
    """Every intake as a point (WGS 84) with its meter's status and the share of its permit used
    this year (the permit's, over all its intakes). Kept for INTAKE_API_MAP_CACHE_S seconds (the
    `Age` header says how old it is): status changes at most once a minute anyway."""
    today = datetime.now(config.zone).date()
    if download:  # recorded as issued: the primary's
        return _map_file(db, caller, today, county)
    cache: dict[tuple[str | None, str | None], tuple[float, bytes]] = request.app.state.map_cache
    key = (caller.division, county)
    now = time.monotonic()
    cached = cache.get(key)
    if cached is None or cached[0] <= now:
        with _gc_paused():
            body = orjson.dumps(
                {"type": "FeatureCollection", "features": _features(read, caller, today, county)}
            )
        cached = (now + config.api_map_cache_s, body)
        if config.api_map_cache_s > 0:
            cache[key] = cached
    age = max(0, int(config.api_map_cache_s - (cached[0] - now)))
    return Response(cached[1], media_type="application/geo+json", headers={"Age": str(age)})


def _features(db: Db, caller: Caller, today: date, county: str | None) -> list[dict[str, Any]]:
    rows = sorted(queries.map_rows(db, today, county, caller.division), key=itemgetter(0))
    drawn = permit_volumes(rows)
    if caller.division is not None or county is not None:  # a permit's other intakes count too
        drawn = queries.permits_ytd(db, today.year, sorted({row[6] for row in rows if row[6]}))
    return [_feature(row, drawn) for row in rows]


def _map_file(db: Db, caller: Caller, today: date, county: str | None) -> Response:
    """The map as a file to keep: a FeatureCollection with a ``provenance`` member, recorded."""
    provenance = eq.provenance(db, "map", today.year, today, caller.division, caller.name, datetime.now(UTC))
    source = {english: value for _label, english, value in provenance.rows()}
    with _gc_paused():
        features = _features(db, caller, today, county)
        body = orjson.dumps({"type": "FeatureCollection", "provenance": source, "features": features})
    digest = eq.record(db, provenance, "geojson", body)
    headers = {
        "Content-Disposition": f'attachment; filename="map-{today.isoformat()}.geojson"',
        "X-Content-SHA256": digest,
    }
    return Response(body, media_type="application/geo+json", headers=headers)


def permit_volumes(rows: list[tuple[Any, ...]]) -> dict[str, float]:
    """This year's volume per permit, over all its intakes (rows of queries.MAP)."""
    drawn: dict[str, float] = defaultdict(float)
    for row in rows:
        if row[6] is not None and row[13] is not None:
            drawn[row[6]] += row[13]
    return drawn


def _feature(row: tuple[Any, ...], drawn: dict[str, float]) -> dict[str, Any]:
    allowed = row[14]
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": (row[3], row[4])},
        "properties": {
            "code": row[0],
            "name": row[1],
            "county": row[2],
            "intake_status": row[5],
            "permit_no": row[6],
            "meter_id": row[7],
            "status": row[8],
            "status_since": row[9],
            "last_reading_ts": row[10],
            "last_total_m3": row[11],
            "ytd_m3": row[12],
            "permit_used_share": round(drawn.get(row[6], 0.0) / allowed, 4) if allowed else None,
            "meters": row[15],  # its active meters; meter_id and status are the one most in need
        },
    }


@contextmanager
def _gc_paused() -> Iterator[None]:
    # 20,000 features are ~80,000 new dicts and lists; the cyclic collector would scan them again and
    # again while they are built (measured: 50 ms of 65). Nothing here forms a cycle.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
