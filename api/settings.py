"""API settings (``INTAKE_API_*`` and the shared ``INTAKE_*`` variables)."""

from __future__ import annotations

from pydantic import Field

from devices.settings import RegistrySettings


class ApiSettings(RegistrySettings):
    api_host: str = "127.0.0.1"
    api_port: int = Field(8080, gt=0, lt=65536)
    api_pool_size: int = Field(8, gt=0, le=100)  # database connections the API holds at most
    # A read replica (or another read-only login) for the report routes: map, annual volumes,
    # compliance, the fleet summary, a meter's readings and days, an intake's days (docs/SCALING.md).
    # None: they read the primary, like every other route.
    api_read_database_url: str | None = None
    api_map_cache_s: int = Field(15, ge=0, le=3600)  # how long map.geojson is reused; 0: never
    api_max_body_kb: int = Field(64, gt=0)  # a JSON request body, at most (413 beyond; api/limits.py)
    api_max_upload_mb: int = Field(50, gt=0)  # an uploaded workbook, at most
    api_report_concurrency: int = Field(2, gt=0)  # expensive report routes running at once (429 beyond)
    api_import_concurrency: int = Field(1, gt=0)  # registry imports running at once
