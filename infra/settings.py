"""Settings shared by every process, read from ``INTAKE_*`` environment variables.

Build them in ``main()`` (``Settings()``) and pass them down; nothing reads the environment at
import time. Each process kind (collector, API, ...) extends :class:`Settings` with its own fields.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.errors import SettingsError

if TYPE_CHECKING:
    from infra.database import Bounds

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/intake"
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
DEFAULT_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the MQTT broker is and how to log in, parsed from ``INTAKE_MQTT_URL``."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None  # the CA that signs the broker's certificate (None: the system's)

    def __post_init__(self) -> None:
        if not self.host:
            raise SettingsError("MQTT URL has no host")
        if not 0 < self.port < 65536:
            raise SettingsError(f"MQTT port {self.port} is outside 1-65535")

    def tls_context(self) -> ssl.SSLContext | None:
        """For mqtts://: the broker's certificate and host name verified (never switched off)."""
        return ssl.create_default_context(cafile=self.ca_file) if self.tls else None

    @classmethod
    def from_url(cls, url: str, ca_file: str | None = None) -> BrokerAddress:
        """Parse ``mqtt://[user[:password]@]host[:port]`` (``mqtts://`` for TLS, default port 8883)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise SettingsError(
                f"MQTT URL {redact_url(url)!r}: scheme must be mqtt:// or mqtts://, not {parts.scheme!r}"
            )
        tls = parts.scheme in ("mqtts", "ssl")
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError as exc:
            raise SettingsError(f"MQTT URL {redact_url(url)!r}: {exc}") from exc
        return cls(
            host=parts.hostname or "",
            port=port,
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            ca_file=ca_file,
        )

    def __repr__(self) -> str:  # never show the password
        user = f"{self.username}@" if self.username else ""
        return f"BrokerAddress({'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port})"


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe to print and log."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


class Settings(BaseSettings):
    """Settings every process needs. Environment variables: ``INTAKE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    mqtt_url: str = DEFAULT_MQTT_URL
    timezone: str = DEFAULT_TIMEZONE
    # How long a long-running process waits on one database statement or one use of a connection
    # before it gives up on that connection and retries on a fresh one (infra/database.py).
    database_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    # MQTT keepalive: a broker that stops answering is noticed within two of these (no PINGRESP).
    mqtt_keepalive_s: int = Field(default=30, ge=5, le=3600)
    # The CA certificate(s) that sign the broker's certificate, for mqtts:// (default: the system's).
    mqtt_ca_file: str | None = None

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql://")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        try:
            BrokerAddress.from_url(value)
        except SettingsError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from exc
        return value

    @property
    def broker(self) -> BrokerAddress:
        return BrokerAddress.from_url(self.mqtt_url, self.mqtt_ca_file)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def database_bounds(self) -> Bounds:
        from infra.database import Bounds  # database imports settings (redact_url)

        return Bounds(statement_s=self.database_timeout_s)
