"""Collector settings (``INTAKE_*`` environment variables)."""

from __future__ import annotations

import ipaddress
import socket

from pydantic import Field, field_validator

from infra.settings import Settings


def _default_client_id() -> str:
    return f"intake-collector-{socket.gethostname()}"


class CollectorSettings(Settings):
    collector_client_id: str = Field(
        default_factory=_default_client_id
    )  # fixed: the session survives restarts
    # direct: one collector takes every meter; survives broker restarts on Mosquitto 2.0 (docs/PROTOCOL.md).
    # shared: several collectors share the load through $share/<group>/...; needs a broker that keeps
    # shared subscriptions of persistent sessions across its restarts (Mosquitto 2.0.11 does not).
    collector_subscription: str = Field("direct", pattern="^(direct|shared)$")
    collector_group: str = "collectors"  # shared subscription group
    collector_batch_size: int = Field(5000, gt=0)  # flush after this many readings ...
    collector_batch_age_ms: int = Field(200, gt=0)  # ... or when the oldest unflushed message is this old
    collector_receive_maximum: int = Field(10000, gt=0, le=65535)  # unacknowledged messages at most
    collector_session_expiry_s: int = Field(7 * 86400, ge=0)  # how long the broker keeps our queue
    collector_max_future_skew_s: int = Field(300, ge=0)
    collector_max_readings_per_message: int = Field(10000, gt=0)
    collector_metrics_port: int = Field(9108, ge=0, le=65535)  # 0: no metrics endpoint
    collector_log_format: str = Field("json", pattern="^(json|text)$")
    collector_shutdown_timeout_s: int = Field(30, gt=0)
    # The meter directory (capacities, intervals, removal dates) is reloaded this often, and when an
    # unknown meter id shows up (at most once a second).
    collector_directory_refresh_s: float = Field(60.0, gt=0)
    # Bytes of payload held unacknowledged at most (received, not yet committed): beyond it the
    # collector stops reading from the broker until a commit frees some (docs/PROTOCOL.md).
    collector_max_held_mb: float = Field(256.0, gt=0)
    # Refusals by the database beyond this share of a batch, from more than one meter, are systemic
    # (retried, nothing acknowledged), not bad data (ingest/isolation.py).
    collector_max_refused_share: float = Field(0.1, ge=0, le=1)


class GatewaySettings(CollectorSettings):
    """`intake gateway szy206`: the collector's pipeline settings (batching, held bytes, skew, the
    directory) and the TCP server's own. It logs in to the database as the collector does."""

    gateway_host: str = "0.0.0.0"  # noqa: S104 - RTUs connect from the field
    gateway_port: int = Field(6206, ge=0, le=65535)  # 0: any free port (tests)
    gateway_max_connections: int = Field(5000, gt=0)  # beyond it a new connection is closed at once
    # No frame, link check or byte for this long: the RTU is offline and its connection is closed.
    gateway_idle_timeout_s: float = Field(300.0, gt=0)
    gateway_max_frame_bytes: int = Field(260, ge=12, le=260)  # L + 5; L is one byte
    # Bytes outside frames one connection may send before it is closed as not an RTU (all are kept).
    gateway_max_garbage_kb: int = Field(64, gt=0)
    gateway_password: int = Field(0, ge=0, le=0xFFFF)  # PW of the centre's downlink frames
    gateway_metrics_port: int = Field(9110, ge=0, le=65535)  # 0: no metrics endpoint
    # Commit as soon as no frame waits (group commit): an RTU sends its next frame only after the
    # confirmation, so the batch age would otherwise be every frame's latency. The batch size and
    # age stay the bounds.
    gateway_commit_when_idle: bool = True
    # The networks RTUs connect from (comma-separated CIDRs, e.g. the carrier's private APN range);
    # empty: any. SZY 206 has no uplink password, so this is the gateway's only gate (docs/SZY206.md).
    gateway_allowed_networks: str = ""

    @field_validator("gateway_allowed_networks")
    @classmethod
    def _check_networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                try:
                    ipaddress.ip_network(part.strip(), strict=False)
                except ValueError as exc:
                    raise ValueError(f"{part.strip()!r} is not a network (e.g. 10.64.0.0/10)") from exc
        return value

    @property
    def allowed_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(
            ipaddress.ip_network(p.strip(), strict=False)
            for p in self.gateway_allowed_networks.split(",")
            if p.strip()
        )
