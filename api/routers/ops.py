"""For machines: liveness, readiness (database and broker reachable) and Prometheus metrics.

``/healthz`` and ``/readyz`` answer without a token (load balancers and orchestrators probe them and
they reveal nothing); ``/metrics`` needs one, like every other route.
"""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from api.deps import Auditor, Db
from api.metrics import fleet_metrics
from api.problems import responses
from infra.broker import BrokerUnavailable, probe

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "a dependency is unreachable"}})
async def readyz(request: Request) -> JSONResponse:
    """The database answers a query and the broker answers CONNECT (a refused login still means it is up)."""
    checks = {
        "database": await run_in_threadpool(_database, request),
        "broker": await run_in_threadpool(_broker, request),
    }
    ready = all(v == "ok" or v.startswith("ok") for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", **checks}, status_code=200 if ready else 503
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        **responses(401, 403),
    },
)
def metrics(caller: Auditor, request: Request, db: Db) -> Response:
    """Requests by route and status, and the fleet's meters and open findings by status and problem
    (read at scrape time, within the caller's division)."""
    body = generate_latest(request.app.state.metrics.registry) + fleet_metrics(db, caller.division)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _database(request: Request) -> str:
    try:
        with (
            request.app.state.pool.connection(timeout=3) as conn,
            request.app.state.watchdog.guard(conn, 3),
        ):
            conn.execute("SELECT 1")
    except (psycopg.Error, TimeoutError) as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"


def _broker(request: Request) -> str:
    try:
        probe(request.app.state.settings.broker, timeout=3)
    except BrokerUnavailable as exc:
        if "refused the connection" in str(exc):
            return "ok (answers; refused this login)"
        return "unreachable"
    return "ok"
