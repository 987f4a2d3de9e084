"""The reading payload: decoding with a reason for every refusal, and encoding for the simulators.

A payload is one JSON object or an array of them (a meter's store-and-forward batch)::

    {"ts": "2026-05-01T08:00:00+08:00", "total_m3": 12345.678, "flow_m3h": 35.2,
     "battery_v": 3.6, "rssi": -71, "alarms": ["low_battery"]}

Pure functions: the collector passes the receive time and its limits in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from devices.readings import Reading, Reason, Refusal, Refused, Status, check_total

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
KNOWN_FIELDS = frozenset({"ts", "total_m3", "flow_m3h", "battery_v", "rssi", "alarms", "meter_id"})


@dataclass(frozen=True, slots=True)
class Decoded:
    readings: list[Reading]
    refusals: list[Refusal]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _timestamp(value: Any, now: datetime, max_skew: timedelta) -> datetime:
    if value is None:
        raise Refused(Reason.MISSING_TS, "ts is missing")
    if _number(value):
        if not math.isfinite(value):
            raise Refused(Reason.TS_UNPARSABLE, f"ts {value!r} is not a finite number of epoch seconds")
        try:
            ts = datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise Refused(
                Reason.TS_TOO_EARLY if value < 0 else Reason.TS_IN_FUTURE,
                f"ts {value!r} epoch seconds is out of range",
            ) from None
    elif isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            raise Refused(
                Reason.TS_UNPARSABLE, f"ts {value!r} is not ISO 8601 (2026-05-01T08:00:00+08:00)"
            ) from None
        if ts.tzinfo is None:
            raise Refused(Reason.TS_NO_OFFSET, f"ts {value!r} has no UTC offset: add +08:00 or Z")
    else:
        raise Refused(
            Reason.TS_WRONG_TYPE,
            f"ts must be an ISO 8601 string or epoch seconds, not {type(value).__name__}",
        )
    return check_time(ts, now, max_skew)


def check_time(ts: datetime, now: datetime, max_skew: timedelta) -> datetime:
    """A reading's device time (aware) as the collector accepts it: not before 2000, not ahead of its
    clock by more than ``max_skew``."""
    if ts < EARLIEST:
        raise Refused(Reason.TS_TOO_EARLY, f"ts {ts.isoformat()} is before {EARLIEST.date()}")
    if ts > now + max_skew:
        ahead = round((ts - now).total_seconds())
        raise Refused(
            Reason.TS_IN_FUTURE,
            f"ts {ts.isoformat()} is {ahead} s ahead of the collector's clock "
            f"(limit {max_skew.total_seconds():.0f} s)",
            ahead,
        )
    return ts


def _total(value: Any, capacity: Decimal | None) -> Decimal:
    if value is None:
        raise Refused(Reason.MISSING_TOTAL, "total_m3 is missing")
    if not _number(value):
        raise Refused(Reason.TOTAL_NOT_NUMBER, f"total_m3 must be a JSON number, not {type(value).__name__}")
    total = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)  # the digits the meter sent
    return check_reading_total(total, capacity)


def check_reading_total(total: Decimal, capacity: Decimal | None) -> Decimal:
    """A totalizer value as the collector accepts it: not negative, within the meter's register."""
    if total < 0:
        raise Refused(Reason.TOTAL_NEGATIVE, f"total_m3 {total} is negative: a totalizer only counts up")
    return check_total(total, capacity)


def check_in_service(ts: datetime, service_ends: datetime | None) -> datetime:
    """A reading taken after the meter's removal day ended is refused (``service_ends``: that moment)."""
    if service_ends is not None and ts >= service_ends:
        raise Refused(
            Reason.INACTIVE_METER,
            f"reading at {ts.isoformat()} was taken after the meter's removal day ended "
            f"({service_ends.isoformat()})",
        )
    return ts


def _optional_number(item: dict[str, Any], key: str, reason: Reason, low: float, high: float) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if not _number(value) or not low <= value <= high:
        raise Refused(reason, f"{key} {value!r} must be a number from {low:g} to {high:g}")
    return float(value)


def _reading(
    item: Any,
    meter_id: str,
    now: datetime,
    max_skew: timedelta,
    capacity: Decimal | None,
    service_ends: datetime | None,
) -> Reading:
    if not isinstance(item, dict):
        raise Refused(
            Reason.ELEMENT_NOT_OBJECT, f"a reading must be a JSON object, not {type(item).__name__}"
        )
    claimed = item.get("meter_id")
    if claimed is not None and claimed != meter_id:
        raise Refused(
            Reason.METER_MISMATCH, f"payload says meter_id {claimed!r} but was published under {meter_id!r}"
        )
    ts = check_in_service(_timestamp(item.get("ts"), now, max_skew), service_ends)
    total = _total(item.get("total_m3"), capacity)
    flow = _optional_number(item, "flow_m3h", Reason.FLOW_INVALID, -1e7, 1e7)
    battery = _optional_number(item, "battery_v", Reason.BATTERY_INVALID, 0, 100)
    rssi = item.get("rssi")
    if rssi is not None and (not isinstance(rssi, int) or isinstance(rssi, bool) or not -200 <= rssi <= 200):
        raise Refused(Reason.RSSI_INVALID, f"rssi {rssi!r} must be a whole number from -200 to 200")
    alarms = item.get("alarms", ())
    if alarms is None:
        alarms = ()
    if not isinstance(alarms, list | tuple) or not all(
        isinstance(a, str) and 0 < len(a) <= 64 for a in alarms
    ):
        raise Refused(Reason.ALARMS_INVALID, "alarms must be a list of short strings")
    return Reading(meter_id, ts, total, flow, battery, rssi, tuple(alarms))


def decode_readings(
    meter_id: str,
    payload: bytes,
    now: datetime,
    max_skew: timedelta,
    capacity: Decimal | None = None,
    max_batch: int = 10_000,
    service_ends: datetime | None = None,
) -> Decoded:
    """Readings from a payload published under ``meter_id``; each bad element refused on its own.
    ``service_ends``: the moment the meter's removal day ends; readings taken later are refused."""
    if not payload.strip():
        return Decoded([], [Refusal(Reason.EMPTY_PAYLOAD, "the payload is empty")])
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return Decoded([], [Refusal(Reason.BAD_JSON, f"not JSON: {exc}")])
    if isinstance(data, dict):
        items: Sequence[Any] = [data]
    elif isinstance(data, list):
        items = data
        if not items:
            return Decoded([], [Refusal(Reason.EMPTY_BATCH, "the array holds no readings")])
        if len(items) > max_batch:
            return Decoded(
                [],
                [
                    Refusal(
                        Reason.BATCH_TOO_LARGE, f"{len(items)} readings in one message; at most {max_batch}"
                    )
                ],
            )
    else:
        return Decoded(
            [],
            [
                Refusal(
                    Reason.NOT_OBJECT,
                    f"the payload must be a JSON object or array, not {type(data).__name__}",
                )
            ],
        )
    readings, refusals = [], []
    for index, item in enumerate(items):
        try:
            readings.append(_reading(item, meter_id, now, max_skew, capacity, service_ends))
        except Refused as refused:
            refusals.append(refused.refusal(index if isinstance(data, list) else None))
    return Decoded(readings, refusals)


def encode_reading(reading: Reading) -> dict[str, Any]:
    item: dict[str, Any] = {"ts": reading.ts.isoformat(), "total_m3": float(reading.total_m3)}
    for key in ("flow_m3h", "battery_v", "rssi"):
        value = getattr(reading, key)
        if value is not None:
            item[key] = value
    if reading.alarms:
        item["alarms"] = list(reading.alarms)
    return item


def encode_readings(readings: Sequence[Reading]) -> bytes:
    """One reading as an object, several as an array (what a meter publishes)."""
    if len(readings) == 1:
        return orjson.dumps(encode_reading(readings[0]))
    return orjson.dumps([encode_reading(r) for r in readings])


def decode_status(payload: bytes) -> Status:
    """A status payload is ``online`` or ``offline`` (plain text, or JSON {"status": ...})."""
    text = payload.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            text = str(orjson.loads(payload).get("status", ""))
        except (orjson.JSONDecodeError, AttributeError):
            text = ""
    text = text.strip('"').lower()
    try:
        return Status(text)
    except ValueError:
        raise Refused(
            Reason.STATUS_INVALID, f"status must be 'online' or 'offline', not {text[:40]!r}"
        ) from None
