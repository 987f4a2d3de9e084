"""API settings (``INTAKE_API_*`` and the shared ``INTAKE_*`` variables)."""

from __future__ import annotations

from pydantic import Field

from devices.settings import RegistrySettings


class ApiSettings(RegistrySettings):
    api_host: str = "127.0.0.1"
    api_port: int = Field(8080, gt=0, lt=65536)
    api_pool_size: int = Field(8, gt=0, le=100)  # database connections the API holds at most
    api_map_cache_s: int = Field(15, ge=0, le=3600)  # how long map.geojson is reused; 0: never
