"""MQTT topics of the service: one module, used by the collector and the simulators alike."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from devices.errors import InvalidValue
from devices.model import check_meter_id

ROOT = "meters"


class Channel(StrEnum):
    READINGS = "readings"
    STATUS = "status"


def readings_topic(meter_id: str) -> str:
    return f"{ROOT}/{check_meter_id(meter_id)}/{Channel.READINGS}"


def status_topic(meter_id: str) -> str:
    return f"{ROOT}/{check_meter_id(meter_id)}/{Channel.STATUS}"


def direct_subscriptions() -> list[str]:
    """Every meter's readings and status: what a single collector subscribes to."""
    return [f"{ROOT}/+/{channel}" for channel in Channel]


def shared_subscriptions(group: str) -> list[str]:
    """The same, shared within ``group``: the broker gives each message to one collector of the group."""
    return [f"$share/{group}/{topic}" for topic in direct_subscriptions()]


@dataclass(frozen=True, slots=True)
class MeterTopic:
    meter_id: str
    channel: Channel


def parse_topic(topic: str) -> MeterTopic:
    """``meters/{meter_id}/{readings|status}``; raises :class:`InvalidValue` for anything else."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != ROOT:
        raise InvalidValue(f"topic {topic!r} is not meters/<meter id>/readings or .../status")
    try:
        channel = Channel(parts[2])
    except ValueError:
        raise InvalidValue(f"topic {topic!r}: unknown channel {parts[2]!r} (readings or status)") from None
    return MeterTopic(check_meter_id(parts[1]), channel)
