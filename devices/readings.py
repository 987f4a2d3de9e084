"""What a meter says, whatever the wire: a reading, a status, or why a message was refused.

The wire codecs (:mod:`devices.codec` for JSON over MQTT, :mod:`devices.szy206` for SZY 206 frames)
turn bytes into these; the collector stores them; a refusal's reason is a code stored with the raw
input in ``rejected_messages``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

MAX_TOTAL_M3 = Decimal(10) ** 12  # no totalizer counts a trillion m³: a corrupt value


@dataclass(frozen=True, slots=True)
class Reading:
    meter_id: str
    ts: datetime  # device time, timezone-aware
    total_m3: Decimal
    flow_m3h: float | None = None
    battery_v: float | None = None
    rssi: int | None = None
    alarms: tuple[str, ...] = ()


class Status(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class Reason(StrEnum):
    """Why a message (or one reading in it) was refused; stored with it in rejected_messages."""

    # any transport
    UNKNOWN_METER = "unknown_meter"
    INACTIVE_METER = "inactive_meter"
    TS_TOO_EARLY = "ts_too_early"
    TS_IN_FUTURE = "ts_in_future"
    TOTAL_TOO_LARGE = "total_too_large"
    DB_REFUSED = "db_refused"
    # JSON over MQTT (devices/codec.py, devices/topics.py)
    BAD_TOPIC = "bad_topic"
    EMPTY_PAYLOAD = "empty_payload"
    BAD_JSON = "bad_json"
    NOT_OBJECT = "not_object"
    EMPTY_BATCH = "empty_batch"
    BATCH_TOO_LARGE = "batch_too_large"
    ELEMENT_NOT_OBJECT = "element_not_object"
    METER_MISMATCH = "meter_mismatch"
    MISSING_TS = "missing_ts"
    TS_WRONG_TYPE = "ts_wrong_type"
    TS_UNPARSABLE = "ts_unparsable"
    TS_NO_OFFSET = "ts_no_offset"
    MISSING_TOTAL = "missing_total"
    TOTAL_NOT_NUMBER = "total_not_number"
    TOTAL_NEGATIVE = "total_negative"
    FLOW_INVALID = "flow_invalid"
    BATTERY_INVALID = "battery_invalid"
    RSSI_INVALID = "rssi_invalid"
    ALARMS_INVALID = "alarms_invalid"
    STATUS_INVALID = "status_invalid"
    # SZY 206 frames over TCP (devices/szy206.py)
    GARBAGE = "garbage"  # bytes between frames that start no frame
    TRUNCATED_FRAME = "truncated_frame"  # the connection ended (or idled out) inside a frame
    FRAME_TOO_LONG = "frame_too_long"  # L beyond the gateway's frame limit
    BAD_LENGTH = "bad_length"  # L too short for a frame, or not what the AFN's layout needs
    BAD_END_BYTE = "bad_end_byte"
    BAD_CRC = "bad_crc"
    DOWNLINK_FRAME = "downlink_frame"  # DIR = 0: a centre's frame, not an RTU's
    SPLIT_FRAME = "split_frame"  # DIV set: a message split over frames, not reassembled
    BAD_ADDRESS = "bad_address"  # A1 not BCD, A2 outside 1-60000
    UNKNOWN_RTU = "unknown_rtu"  # no meter registered with the frame's address
    RTU_MISMATCH = "rtu_mismatch"  # another intake's address on a connection bound to this one
    UNKNOWN_AFN = "unknown_afn"
    NOT_DECODED = "not_decoded"  # a valid frame of a kind kept raw (alarm, settings), not decoded
    UNSUPPORTED_TYPE = "unsupported_type"  # data of another kind than flow (rain, level, ...)
    BAD_BCD = "bad_bcd"  # a nibble above 9 in a BCD field
    BAD_UNIT = "bad_unit"  # flow unit bits that name no unit
    BAD_TIME_LABEL = "bad_time_label"  # a Tp that is no moment (hour 24, day 32, ...)
    NOT_MEASURED = "not_measured"  # the totalizer field says AA...: no reading to store


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: Reason
    message: str
    element: int | None = None  # index in an array payload, or an RTU's meter channel; None: the whole
    clock_ahead_s: int | None = None  # for ts_in_future: how far the device clock is ahead


class Refused(Exception):
    def __init__(self, reason: Reason, message: str, clock_ahead_s: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.clock_ahead_s = clock_ahead_s

    def refusal(self, element: int | None = None) -> Refusal:
        return Refusal(self.reason, self.message, element, self.clock_ahead_s)


def check_total(total: Decimal, capacity: Decimal | None) -> Decimal:
    """A totalizer value below what the register can hold (its capacity, else a trillion m³)."""
    limit = capacity if capacity is not None else MAX_TOTAL_M3
    if total >= limit:
        raise Refused(
            Reason.TOTAL_TOO_LARGE, f"total_m3 {total} is not below the totalizer's capacity {limit}"
        )
    return total
