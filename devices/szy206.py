"""SZY 206-2016 / SL/T 427-2021 frames (水资源监测数据传输规约): framing, CRC, BCD, decode and encode.

A frame::

    68H | L | 68H | C | A (5) | AFN | user data | [PW (2), downlink only] | [Tp] | CS | 16H

- L (one byte) counts C through the end of the user data and auxiliary fields; a frame is L + 5 bytes.
- CS: CRC-8 over those L bytes, polynomial x^8+x^7+x^6+x^5+x^2+1 (0xE5), initial 0, MSB first, not
  reflected, no final XOR ("123456789" gives 0xF7).
- C: D7 direction (1 = uplink, from the RTU), D6 DIV (a DIVS byte follows C), D5-D4 FCB (3, counting
  down on retries), D3-D0 the data type of an uplink (3 = flow / water volume).
- A: A1 the region code, 3 bytes BCD in reading order (21 13 21 = 211321); A2 the station address,
  2 bytes binary little-endian, 1-60000. Written ``211321-00012``.
- AFN 02H link check (F0 login, F1 logout, F2 keep-alive), C0H self-report of real-time data, B0H
  the answer to a real-time query; 81H (alarm), 84H and the settings answers 10H-34H are valid but
  kept undecoded.
- Flow data, per meter of the RTU: instantaneous flow (5 bytes packed BCD, little-endian, 3 decimals;
  in the top byte D7-D6 the sign, D5-D4 the unit: 00 m³/s, 01 m³/h) then the totalizer (5 bytes
  packed BCD, little-endian, whole m³); all AAH: not measured. Then the alarm word and the terminal
  status word (2 bytes each, little-endian bits).
- Tp: 5 bytes (second, minute, hour, day in BCD, then the allowed delay in minutes, binary) in
  SZY 206-2016: the year and month are those of the most recent such moment not after the receive
  time; 7 bytes in SL/T 427-2021 (month and year added before the delay). L tells them apart.

Pure functions over bytes: the gateway (``ingest/sources/szy206.py``) and the simulator share them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import IntEnum, StrEnum
from zoneinfo import ZoneInfo

from devices.readings import Reason, Refused

START = 0x68
END = 0x16
HEADER = 3  # 68 L 68
MIN_L = 7  # C, A (5), AFN
MAX_FRAME = 255 + 5
NOT_MEASURED = 0xAA
FLOW_TYPE = 3
MAX_STATION = 60000
CRC_POLY = 0xE5


def crc8(data: bytes) -> int:
    """The frame check: CRC-8, polynomial 0xE5, initial 0, MSB first, no reflection, no final XOR."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ CRC_POLY) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


class Afn(IntEnum):
    LINK_CHECK = 0x02
    QUERY_ANSWER = 0xB0
    SELF_REPORT = 0xC0


# Valid AFNs we keep without decoding: random alarm report, terminal voltage, settings and their answers.
KEPT_AFNS = frozenset({0x81, 0x84, *range(0x10, 0x35), 0x50, 0x51, 0x52, 0x53, 0x5D, 0x5E, 0x5F})


class Link(IntEnum):
    LOGIN = 0xF0
    LOGOUT = 0xF1
    KEEP_ALIVE = 0xF2


# The alarm word, bit by bit (报警状态): the names a reading's alarms carry.
ALARM_BITS = {
    0: "ac_power_off",  # 交流电充电状态: 停电
    1: "battery_low",  # 蓄电池电压低
    2: "level_limit",  # 水位超限
    3: "flow_limit",  # 流量超限
    4: "quality_limit",  # 水质超限
    5: "flow_meter_fault",  # 流量仪表故障
    6: "level_meter_fault",  # 水位仪表故障
    7: "box_door_open",  # 终端箱门开启
    8: "memory_fault",  # 存储器异常
    11: "remaining_volume_low",  # 剩余水量报警
}


def alarm_names(word: int) -> tuple[str, ...]:
    return tuple(ALARM_BITS.get(bit, f"alarm_bit_{bit}") for bit in range(16) if word >> bit & 1)


def alarm_word(names: Sequence[str]) -> int:
    bits = {name: bit for bit, name in ALARM_BITS.items()}
    return sum(1 << bits[n] for n in names if n in bits)


# --- values -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Address:
    """An RTU's address: the region code (A1, six digits) and the station address (A2, 1-60000)."""

    region: str
    station: int

    def __post_init__(self) -> None:
        if len(self.region) != 6 or not self.region.isdigit():
            raise Refused(Reason.BAD_ADDRESS, f"region code {self.region!r} is not six digits")
        if not 1 <= self.station <= MAX_STATION:
            raise Refused(Reason.BAD_ADDRESS, f"station address {self.station} is outside 1-{MAX_STATION}")

    def __str__(self) -> str:
        return f"{self.region}-{self.station:05d}"

    @classmethod
    def parse(cls, text: str) -> Address:
        """``211321-00012`` (or ``211321-12``)."""
        region, dash, station = text.strip().partition("-")
        if not dash or not station.isdigit():
            raise Refused(Reason.BAD_ADDRESS, f"RTU address {text!r} is not region-station (211321-00012)")
        return cls(region, int(station))

    def encode(self) -> bytes:
        return bytes.fromhex(self.region) + self.station.to_bytes(2, "little")

    @classmethod
    def decode(cls, raw: bytes) -> Address:
        region = raw[:3].hex()
        if not region.isdigit():
            raise Refused(Reason.BAD_ADDRESS, f"region code bytes {raw[:3].hex(' ')} are not BCD")
        return cls(region, int.from_bytes(raw[3:5], "little"))


@dataclass(frozen=True, slots=True)
class Control:
    uplink: bool
    div: bool
    fcb: int
    function: int

    def encode(self) -> int:
        return self.uplink << 7 | self.div << 6 | (self.fcb & 3) << 4 | (self.function & 0x0F)

    @classmethod
    def decode(cls, byte: int) -> Control:
        return cls(bool(byte & 0x80), bool(byte & 0x40), byte >> 4 & 3, byte & 0x0F)


@dataclass(frozen=True, slots=True)
class Frame:
    control: Control
    divs: int | None  # the split counter, when DIV is set
    address: Address
    afn: int
    body: bytes  # after the AFN up to CS: user data, then PW (downlink) and Tp
    raw: bytes


def bcd_digits(raw: bytes, what: str) -> str:
    """Packed BCD, little-endian: the digits, most significant first; a nibble above 9 is refused."""
    text = raw[::-1].hex()
    if not text.isdigit():
        raise Refused(Reason.BAD_BCD, f"{what} bytes {raw.hex(' ')} are not BCD digits")
    return text


def to_bcd(value: int, size: int) -> bytes:
    return bytes.fromhex(f"{value:0{2 * size}d}")[::-1]


# --- time label -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeLabel:
    second: int
    minute: int
    hour: int
    day: int
    delay_min: int  # the delay the RTU allows its frame; 0: not limited
    month: int | None = None  # SL/T 427-2021 sends month and year
    year: int | None = None

    @classmethod
    def decode(cls, raw: bytes) -> TimeLabel:
        fields = [int(bcd_digits(raw[i : i + 1], "time label")) for i in range(len(raw) - 1)]
        if len(raw) == 7:
            second, minute, hour, day, month, year = fields
            label = cls(second, minute, hour, day, raw[-1], month, 2000 + year)
        else:
            second, minute, hour, day = fields
            label = cls(second, minute, hour, day, raw[-1])
        if not (second < 60 and minute < 60 and hour < 24 and 1 <= day <= 31) or (
            label.month is not None and not 1 <= label.month <= 12
        ):
            raise Refused(Reason.BAD_TIME_LABEL, f"time label {raw.hex(' ')} is no moment")
        return label

    def encode(self) -> bytes:
        parts = [self.second, self.minute, self.hour, self.day]
        if self.month is not None and self.year is not None:
            parts += [self.month, self.year % 100]
        return bytes(int(f"{p:02d}", 16) for p in parts) + bytes([self.delay_min & 0xFF])

    def moment(self, received_at: datetime, zone: ZoneInfo, max_skew: timedelta) -> datetime:
        """The device time, in ``zone`` (the RTU's clock is local time). A short label takes the year and
        month of the most recent such moment not after the receive time (plus ``max_skew``, so a clock a
        little fast is not read as a month earlier); a full label ahead of it by more is refused."""
        now = received_at.astimezone(zone) + max_skew
        if self.year is not None and self.month is not None:
            try:
                ts = datetime(
                    self.year, self.month, self.day, self.hour, self.minute, self.second, tzinfo=zone
                )
            except ValueError:
                raise Refused(
                    Reason.BAD_TIME_LABEL, f"{self.year}-{self.month}-{self.day} is no day"
                ) from None
            if ts > now:
                ahead = round((ts - received_at).total_seconds())
                raise Refused(
                    Reason.TS_IN_FUTURE,
                    f"time label {ts.isoformat()} is {ahead} s ahead of the gateway's clock "
                    f"(limit {max_skew.total_seconds():.0f} s)",
                    ahead,
                )
            return ts
        year, month = now.year, now.month
        for _ in range(12):  # a day 31 is found within a few months back
            try:
                candidate: datetime | None = datetime(
                    year, month, self.day, self.hour, self.minute, self.second, tzinfo=zone
                )
            except ValueError:  # no day 31 (30, 29) in that month
                candidate = None
            if candidate is not None and candidate <= now:
                return candidate
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        raise Refused(Reason.BAD_TIME_LABEL, f"day {self.day} is in no recent month")  # pragma: no cover

    def late_by(self, ts: datetime, received_at: datetime) -> timedelta | None:
        """How far past its allowed delay the frame arrived; None when in time (or not limited)."""
        if self.delay_min == 0:
            return None
        late = received_at - ts - timedelta(minutes=self.delay_min)
        return late if late > timedelta(0) else None


# --- frames -----------------------------------------------------------------------------------------


def parse_frame(raw: bytes) -> Frame:
    """One whole frame (as the :class:`Framer` cut it); raises :class:`Refused` with the reason."""
    if len(raw) < HEADER or raw[0] != START or raw[2] != START:
        raise Refused(Reason.GARBAGE, "not a frame: it does not start with 68H L 68H")
    length = raw[1]
    if length < MIN_L:
        raise Refused(Reason.BAD_LENGTH, f"L = {length} is shorter than C, A and AFN ({MIN_L} bytes)")
    if len(raw) < length + 5:
        raise Refused(Reason.TRUNCATED_FRAME, f"{len(raw)} of the frame's {length + 5} bytes arrived")
    if len(raw) > length + 5:
        raise Refused(Reason.BAD_LENGTH, f"{len(raw)} bytes for a frame of L = {length} ({length + 5} bytes)")
    if raw[-1] != END:
        raise Refused(Reason.BAD_END_BYTE, f"the frame ends with {raw[-1]:02X}H, not 16H")
    user = raw[HEADER : HEADER + length]
    if crc8(user) != raw[-2]:
        raise Refused(Reason.BAD_CRC, f"CS is {raw[-2]:02X}H but the frame's CRC-8 is {crc8(user):02X}H")
    control = Control.decode(user[0])
    at = 1
    divs = None
    if control.div:
        divs, at = user[1], 2
    if len(user) < at + 6:
        raise Refused(Reason.BAD_LENGTH, f"L = {length} leaves no room for A and AFN")
    address = Address.decode(user[at : at + 5])
    return Frame(control, divs, address, user[at + 5], user[at + 6 :], raw)


def encode_frame(control: Control, address: Address, afn: int, body: bytes, divs: int | None = None) -> bytes:
    user = bytes([control.encode()]) + (bytes([divs]) if divs is not None else b"") + address.encode()
    user += bytes([afn]) + body
    if len(user) > 255:
        raise ValueError(f"{len(user)} bytes of user data do not fit one frame (L is one byte)")
    return bytes([START, len(user), START]) + user + bytes([crc8(user), END])


class Cut(StrEnum):
    FRAME = "frame"  # 68 L 68 ... 16 with the length L says (its CS is checked when it is decoded)
    GARBAGE = "garbage"
    BAD_END = "bad_end"  # the length L says, without 16H at the end (L itself may be wrong)
    TOO_LONG = "too_long"  # L beyond the limit: the header only
    TRUNCATED = "truncated"  # the stream ended inside a frame


@dataclass(frozen=True, slots=True)
class Piece:
    cut: Cut
    raw: bytes


class Framer:
    """Cuts a byte stream into frames and what lies between them, never holding more than one frame
    and ``max_garbage`` bytes. Every byte received comes out in some piece (garbage inside a piece
    already cut as a bad-end frame is not repeated), so the gateway can keep all of it."""

    def __init__(self, max_frame: int = MAX_FRAME, max_garbage: int = 256) -> None:
        self.max_frame = max_frame
        self.max_garbage = max_garbage
        self._buf = bytearray()
        self._garbage = bytearray()
        self._covered = 0  # bytes at the front of the buffer already kept in a bad-end piece

    def feed(self, data: bytes) -> list[Piece]:
        self._buf += data
        out: list[Piece] = []
        while self._buf:
            start = self._buf.find(START)
            if start < 0:
                self._skip(len(self._buf), out)
                break
            self._skip(start, out)
            if len(self._buf) < HEADER:
                break
            length = self._buf[1]
            if self._buf[2] != START or length < MIN_L:
                self._skip(1, out)
                continue
            size = length + 5
            if size > self.max_frame:
                self._flush_garbage(out)
                out.append(Piece(Cut.TOO_LONG, bytes(self._buf[:HEADER])))
                self._covered = max(self._covered, HEADER)
                self._skip(1, out)
                continue
            if len(self._buf) < size:
                break
            self._flush_garbage(out)
            if self._buf[size - 1] != END:
                out.append(Piece(Cut.BAD_END, bytes(self._buf[:size])))
                self._covered = max(self._covered, size)
                self._skip(1, out)  # L may be wrong: look for a frame inside it
                continue
            out.append(Piece(Cut.FRAME, bytes(self._buf[:size])))
            del self._buf[:size]
            self._covered = max(0, self._covered - size)
        self._bound_garbage(out)
        return out

    def close(self) -> list[Piece]:
        """The end of the stream: what is held is a truncated frame, or garbage."""
        out: list[Piece] = []
        rest = bytes(self._buf[self._covered :]) if self._covered < len(self._buf) else b""
        self._buf.clear()
        self._covered = 0
        if rest.startswith(bytes([START])):
            self._flush_garbage(out)
            out.append(Piece(Cut.TRUNCATED, rest))
        else:
            self._garbage += rest
        self._flush_garbage(out)
        return out

    @property
    def held(self) -> int:
        return len(self._buf) + len(self._garbage)

    def _skip(self, count: int, out: list[Piece]) -> None:
        fresh = max(0, count - self._covered)
        self._garbage += self._buf[self._covered : self._covered + fresh] if fresh else b""
        self._covered = max(0, self._covered - count)
        del self._buf[:count]
        self._bound_garbage(out)

    def _bound_garbage(self, out: list[Piece]) -> None:
        if len(self._garbage) >= self.max_garbage:
            self._flush_garbage(out)

    def _flush_garbage(self, out: list[Piece]) -> None:
        if self._garbage:
            out.append(Piece(Cut.GARBAGE, bytes(self._garbage)))
            self._garbage.clear()


# --- uplink data ------------------------------------------------------------------------------------


class FlowUnit(IntEnum):
    M3_PER_S = 0
    M3_PER_H = 1


@dataclass(frozen=True, slots=True)
class FlowValue:
    """One meter's values in a flow frame; None where the RTU says not measured (AAH)."""

    flow_m3h: float | None
    total_m3: Decimal | None


@dataclass(frozen=True, slots=True)
class FlowReport:
    afn: int
    values: tuple[FlowValue, ...]  # channel 1, 2, ...
    alarms: tuple[str, ...]
    status_word: int
    label: TimeLabel | None


@dataclass(frozen=True, slots=True)
class LinkCheck:
    link: Link
    label: TimeLabel | None


def _label_size(rest: int) -> int | None:
    """The Tp a remainder of the body ends with, from its length (L): 0, 5 or 7 bytes."""
    return {0: 0, 5: 5, 7: 7}.get(rest)


def decode_flow_value(raw: bytes, channel: int) -> FlowValue:
    flow_raw, total_raw = raw[:5], raw[5:10]
    flow = None
    if flow_raw != bytes([NOT_MEASURED]) * 5:
        top = flow_raw[4]
        sign = -1 if top & 0xC0 else 1
        unit_bits = top >> 4 & 3
        if unit_bits not in (FlowUnit.M3_PER_S, FlowUnit.M3_PER_H):
            raise Refused(Reason.BAD_UNIT, f"meter {channel}: flow unit bits {unit_bits:02b} name no unit")
        digits = bcd_digits(flow_raw[:4] + bytes([top & 0x0F]), f"meter {channel}'s flow")
        value = sign * Decimal(digits) / 1000
        flow = float(value * 3600 if unit_bits == FlowUnit.M3_PER_S else value)
    total = None
    if total_raw != bytes([NOT_MEASURED]) * 5:
        total = Decimal(bcd_digits(total_raw, f"meter {channel}'s totalizer"))
    return FlowValue(flow, total)


def encode_flow_value(
    flow_m3h: float | None, total_m3: int | None, unit: FlowUnit = FlowUnit.M3_PER_H
) -> bytes:
    if flow_m3h is None:
        flow = bytes([NOT_MEASURED]) * 5
    else:
        value = Decimal(str(flow_m3h)) / (3600 if unit is FlowUnit.M3_PER_S else 1)
        thousandths = int((abs(value) * 1000).to_integral_value())
        if thousandths >= 10**9:
            raise ValueError(f"flow {flow_m3h} m³/h does not fit nine digits")
        digits = to_bcd(thousandths, 5)
        top = digits[4] | unit << 4 | (0x80 if value < 0 else 0)
        flow = digits[:4] + bytes([top])
    total = bytes([NOT_MEASURED]) * 5 if total_m3 is None else to_bcd(total_m3, 5)
    return flow + total


def decode_uplink(frame: Frame) -> FlowReport | LinkCheck:
    """What an RTU's frame says; raises :class:`Refused` for what we refuse or keep undecoded."""
    if not frame.control.uplink:
        raise Refused(Reason.DOWNLINK_FRAME, "DIR = 0: a centre's frame, not an RTU's")
    if frame.control.div:
        raise Refused(Reason.SPLIT_FRAME, f"DIV set (DIVS {frame.divs}): split messages are not reassembled")
    body = frame.body
    if frame.afn == Afn.LINK_CHECK:
        size = _label_size(len(body) - 1)
        if not body or size is None:
            raise Refused(Reason.BAD_LENGTH, f"a link check has {len(body)} data bytes, not 1 (+ Tp)")
        try:
            link = Link(body[0])
        except ValueError:
            raise Refused(Reason.BAD_LENGTH, f"link check data {body[0]:02X}H is not F0, F1 or F2") from None
        return LinkCheck(link, TimeLabel.decode(body[1:]) if size else None)
    if frame.afn in (Afn.SELF_REPORT, Afn.QUERY_ANSWER):
        if frame.control.function != FLOW_TYPE:
            raise Refused(
                Reason.UNSUPPORTED_TYPE,
                f"data type {frame.control.function:X}H: only flow / water volume (3) is decoded",
            )
        rest = (len(body) - 4) % 10
        size = _label_size(rest)
        meters = (len(body) - 4 - (size or 0)) // 10
        if size is None or meters < 1:
            raise Refused(
                Reason.BAD_LENGTH,
                f"{len(body)} data bytes are not n × 10 (flow, total) + 4 (alarm, status) + Tp (0, 5, 7)",
            )
        values = tuple(decode_flow_value(body[10 * i : 10 * i + 10], i + 1) for i in range(meters))
        words = body[10 * meters : 10 * meters + 4]
        label = TimeLabel.decode(body[10 * meters + 4 :]) if size else None
        return FlowReport(
            frame.afn,
            values,
            alarm_names(int.from_bytes(words[:2], "little")),
            int.from_bytes(words[2:], "little"),
            label,
        )
    if frame.afn in KEPT_AFNS:
        raise Refused(Reason.NOT_DECODED, f"AFN {frame.afn:02X}H is kept as received, not decoded")
    raise Refused(Reason.UNKNOWN_AFN, f"AFN {frame.afn:02X}H is not one of SZY 206's")


# --- what the simulator and the tests send, and the gateway answers -----------------------------------


def flow_report(
    address: Address,
    values: Sequence[tuple[float | None, int | None]],
    label: TimeLabel | None,
    alarms: Sequence[str] = (),
    fcb: int = 3,
    unit: FlowUnit = FlowUnit.M3_PER_H,
    afn: int = Afn.SELF_REPORT,
) -> bytes:
    body = b"".join(encode_flow_value(f, t, unit) for f, t in values)
    body += alarm_word(alarms).to_bytes(2, "little") + bytes(2)
    body += label.encode() if label is not None else b""
    return encode_frame(Control(True, False, fcb, FLOW_TYPE), address, afn, body)


def link_check(address: Address, link: Link, label: TimeLabel | None = None, fcb: int = 3) -> bytes:
    body = bytes([link]) + (label.encode() if label is not None else b"")
    return encode_frame(Control(True, False, fcb, 0), address, Afn.LINK_CHECK, body)


def answer(frame: Frame, password: int = 0) -> bytes:
    """The centre's reply: for a link check the same check back, for a report its confirmation (the
    same AFN, downlink, function 0 = confirm, with the password field)."""
    control = Control(False, False, frame.control.fcb, 0)
    body = frame.body[:1] if frame.afn == Afn.LINK_CHECK else b""
    return encode_frame(control, frame.address, frame.afn, body + password.to_bytes(2, "little"))


def label_at(ts: datetime, delay_min: int = 0, full: bool = False) -> TimeLabel:
    """The time label an RTU would send for local time ``ts`` (``full``: SL/T 427-2021's 7 bytes)."""
    if full:
        return TimeLabel(ts.second, ts.minute, ts.hour, ts.day, delay_min, ts.month, ts.year)
    return TimeLabel(ts.second, ts.minute, ts.hour, ts.day, delay_min)
