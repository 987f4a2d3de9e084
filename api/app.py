"""The FastAPI application: routes under ``/api/v1``, the dashboard at ``/``, probes and metrics.

``create_app(settings)`` builds it; the connection pool is created closed and opened in the
lifespan, so importing this module touches nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from psycopg_pool import ConnectionPool

from api import problems
from api.limits import BodyLimits, LimitedBodies, RouteClasses
from api.metrics import ApiMetrics
from api.middleware import Instrumented
from api.routers import (
    admin,
    alerts,
    corrections,
    duplicates,
    findings,
    fleet,
    manual,
    meters,
    ops,
    outlines,
    progress,
    references,
    registry,
    rejected,
    reports,
    spotchecks,
    submissions,
)
from api.settings import ApiSettings
from infra.database import Watchdog
from infra.settings import redact_url

DASHBOARD = Path(__file__).resolve().parent / "dashboard"
VERSION = "1"


def create_app(settings: ApiSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        current: ApiSettings = app.state.settings  # read here, so a test may set it before startup
        pool: ConnectionPool[Any] = ConnectionPool(
            current.database_url,
            min_size=1,
            max_size=current.api_pool_size,
            # keepalives, tcp_user_timeout and statement timeouts (infra/database.py); each request's
            # use of its connection is bounded by the watchdog in api/deps.py
            kwargs={"autocommit": True, "application_name": "intake-api", **current.database_bounds.libpq()},
            open=False,
            name="intake-api",
        )
        pool.open(wait=False)
        app.state.pool = pool
        app.state.read_pool = pool
        if current.api_read_database_url:  # the report routes read a replica
            app.state.read_pool = ConnectionPool(
                current.api_read_database_url,
                min_size=1,
                max_size=current.api_pool_size,
                kwargs={
                    "autocommit": True,
                    "application_name": "intake-api-read",
                    **current.database_bounds.libpq(),
                },
                open=False,
                name="intake-api-read",
            )
            app.state.read_pool.open(wait=False)
        try:
            yield
        finally:
            if app.state.read_pool is not pool:
                app.state.read_pool.close()
            pool.close()

    app = FastAPI(
        title="Water-intake metering API",
        version=VERSION,
        description=(
            "Intakes, permits, meters, readings, volumes, compliance and the rectification ledger. "
            "Every /api/v1 route needs `Authorization: Bearer <token>` (from `intake users add`). "
            "Errors are RFC 9457 problem documents."
        ),
        lifespan=lifespan,
        docs_url=None,  # Swagger UI comes from a CDN: no internet here, and the CSP forbids it
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.metrics = ApiMetrics()
    app.state.map_cache = {}
    app.state.watchdog = Watchdog()
    app.state.route_classes = RouteClasses(
        {"report": settings.api_report_concurrency, "import": settings.api_import_concurrency}
    )
    limits = BodyLimits(settings.api_max_body_kb * 1024, settings.api_max_upload_mb * 1024 * 1024)
    app.add_middleware(LimitedBodies, limits=limits)
    app.add_middleware(Instrumented, metrics=app.state.metrics)  # outermost: counts and heads 413s too
    problems.install(app)
    for module in (
        meters,
        fleet,
        outlines,
        registry,
        corrections,
        findings,
        reports,
        submissions,
        duplicates,
        references,
        rejected,
        spotchecks,
        progress,
        manual,
        alerts,
        admin,
    ):
        app.include_router(module.router, prefix=f"/api/v{VERSION}")
    app.include_router(ops.router)
    app.mount("/static", StaticFiles(directory=DASHBOARD), name="dashboard")

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(DASHBOARD / "index.html")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
                problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            )
            for name, sub in schema["components"]["schemas"]["Problem"].pop("$defs", {}).items():
                schema["components"]["schemas"][name] = sub
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def describe(settings: ApiSettings) -> str:
    return f"http://{settings.api_host}:{settings.api_port}/ (database {redact_url(settings.database_url)})"
