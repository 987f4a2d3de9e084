"""API settings (``INTAKE_API_*`` and the shared ``INTAKE_*`` variables)."""

from __future__ import annotations

from pydantic import Field

from devices.settings import RegistrySettings


class ApiSettings(RegistrySettings):
    api_host: str = "127.0.0.1"
    api_port: int = Field(8080, gt=0, lt=65536)
    api_pool_size: int = Field(8, gt=0, le=100)  # database connections the API holds at most
    # Near the limit: a permit whose year-to-date volume has reached this share is shown as near.
    api_near_limit_share: float = Field(0.8, gt=0, le=1)
