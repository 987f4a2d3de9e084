"""SZY 206 frames: the CRC the standard names, frames built from its layout, the framer, the time label."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.readings import Reason, Refused
from devices.szy206 import (
    Address,
    Afn,
    Control,
    Cut,
    FlowReport,
    FlowUnit,
    Framer,
    Link,
    LinkCheck,
    TimeLabel,
    answer,
    crc8,
    decode_uplink,
    encode_frame,
    flow_report,
    label_at,
    link_check,
    parse_frame,
)

ZONE = ZoneInfo("Asia/Shanghai")
RTU = Address("211321", 12)


def test_the_crc_is_the_standards() -> None:
    # CRC-8, x^8+x^7+x^6+x^5+x^2+1 (0xE5), initial 0, MSB first, not reflected, no final XOR: its check
    # value. (A popular implementation's 7-bit variant gives something else and fails real frames.)
    assert crc8(b"123456789") == 0xF7
    assert crc8(b"") == 0


def by_hand(
    afn: int, body: bytes, control: int = 0xB3, address: bytes = bytes.fromhex("2113210C00")
) -> bytes:
    """A frame laid out byte by byte from the standard, independent of the encoder."""
    user = bytes([control]) + address + bytes([afn]) + body
    return bytes([0x68, len(user), 0x68]) + user + bytes([crc8(user), 0x16])


def test_a_frame_laid_out_by_hand_decodes() -> None:
    # Two meters: 12.345 m³/h and 9,876,543,210 m³; a negative 0.5 m³/s and 100 m³. Alarm word: AC power
    # off (D0) and flow-meter fault (D5). SZY 206-2016 Tp: 08:30:05 on day 20, 10 minutes allowed.
    meter_1 = bytes.fromhex("4523010010") + bytes.fromhex("1032547698")
    meter_2 = bytes.fromhex("0005000080") + bytes.fromhex("0001000000")
    body = meter_1 + meter_2 + bytes.fromhex("2100") + bytes.fromhex("0000") + bytes.fromhex("053008200A")
    raw = by_hand(0xC0, body)
    frame = parse_frame(raw)
    assert str(frame.address) == "211321-00012"
    assert frame.control == Control(uplink=True, div=False, fcb=3, function=3)
    said = decode_uplink(frame)
    assert isinstance(said, FlowReport)
    assert said.values[0].flow_m3h == pytest.approx(12.345)
    assert said.values[0].total_m3 == Decimal(9876543210)
    assert said.values[1].flow_m3h == pytest.approx(-1800.0)  # -0.5 m³/s
    assert said.values[1].total_m3 == Decimal(100)
    assert said.alarms == ("ac_power_off", "flow_meter_fault")
    assert said.label == TimeLabel(5, 30, 8, 20, 10)


def test_the_long_time_label_and_not_measured_fields() -> None:
    # SL/T 427-2021: second, minute, hour, day, month, year, delay; flow not measured (AA...).
    body = bytes([0xAA] * 5) + bytes.fromhex("0000010000") + bytes(4) + bytes.fromhex("00001520112600")
    said = decode_uplink(parse_frame(by_hand(0xC0, body)))
    assert isinstance(said, FlowReport)
    assert said.values[0].flow_m3h is None and said.values[0].total_m3 == Decimal(10000)
    assert said.label == TimeLabel(0, 0, 15, 20, 0, 11, 2026)
    empty = decode_uplink(parse_frame(by_hand(0xC0, bytes([0xAA] * 10) + bytes(4))))
    assert isinstance(empty, FlowReport) and empty.values[0].total_m3 is None and empty.label is None


flows = st.one_of(st.none(), st.integers(-999_999_999, 999_999_999).map(lambda t: t / 1000))
totals = st.one_of(st.none(), st.integers(0, 9_999_999_999))
moments = st.datetimes(datetime(2001, 1, 1), datetime(2098, 12, 31)).map(lambda d: d.replace(tzinfo=ZONE))


@given(
    values=st.lists(st.tuples(flows, totals), min_size=1, max_size=8),
    at=moments,
    full=st.booleans(),
    delay=st.integers(0, 255),
    alarms=st.sets(st.sampled_from(["ac_power_off", "battery_low", "flow_meter_fault", "box_door_open"])),
    station=st.integers(1, 60000),
)
def test_what_is_encoded_decodes_the_same(
    values: list[tuple[float | None, int | None]],
    at: datetime,
    full: bool,
    delay: int,
    alarms: set[str],
    station: int,
) -> None:
    address = Address("211381", station)
    label = label_at(at, delay, full)
    said = decode_uplink(parse_frame(flow_report(address, values, label, sorted(alarms))))
    assert isinstance(said, FlowReport)
    assert [(v.flow_m3h, v.total_m3) for v in said.values] == [
        (None if f is None else pytest.approx(f, abs=1e-9), None if t is None else Decimal(t))
        for f, t in values
    ]
    assert set(said.alarms) == alarms and said.label == label


@given(flow=st.integers(-999_999_999, 999_999_999))
def test_flow_in_cubic_metres_per_second_is_converted(flow: int) -> None:
    per_second = flow / 1000
    raw = flow_report(RTU, [(per_second * 3600, 1)], None, unit=FlowUnit.M3_PER_S)
    said = decode_uplink(parse_frame(raw))
    assert isinstance(said, FlowReport)
    assert said.values[0].flow_m3h == pytest.approx(per_second * 3600, abs=1e-6)


def test_link_checks() -> None:
    for link in Link:
        said = decode_uplink(parse_frame(link_check(RTU, link)))
        assert said == LinkCheck(link, None)
    frame = parse_frame(link_check(RTU, Link.LOGIN))
    reply = parse_frame(answer(frame, password=0x1234))
    assert not reply.control.uplink and reply.address == RTU and reply.afn == Afn.LINK_CHECK
    assert reply.body == bytes([0xF0, 0x34, 0x12])  # the same check back, then PW
    confirm = parse_frame(answer(parse_frame(flow_report(RTU, [(1.0, 5)], None))))
    assert confirm.afn == Afn.SELF_REPORT and confirm.control.function == 0 and confirm.body == bytes(2)


def refused(raw: bytes) -> Reason:
    with pytest.raises(Refused) as caught:
        decode_uplink(parse_frame(raw))
    return caught.value.reason


GOOD = flow_report(RTU, [(1.5, 1000)], TimeLabel(0, 0, 8, 1, 0))


def test_every_bad_frame_has_its_reason() -> None:
    flipped = bytearray(GOOD)
    flipped[10] ^= 0x01
    assert refused(bytes(flipped)) is Reason.BAD_CRC
    assert refused(GOOD[:-1] + b"\x17") is Reason.BAD_END_BYTE
    assert refused(GOOD[:-3]) is Reason.TRUNCATED_FRAME
    assert refused(by_hand(0xC0, bytes.fromhex("4A23010000") + bytes(5) + bytes(4))) is Reason.BAD_BCD
    assert refused(by_hand(0xC0, bytes.fromhex("0000000020") + bytes(5) + bytes(4))) is Reason.BAD_UNIT
    assert refused(by_hand(0xC0, bytes(10) + bytes(4) + bytes.fromhex("0000250100"))) is Reason.BAD_TIME_LABEL
    assert refused(by_hand(0xC0, bytes(10) + bytes(3))) is Reason.BAD_LENGTH
    assert refused(by_hand(0xEE, b"")) is Reason.UNKNOWN_AFN
    assert refused(by_hand(0x81, bytes(4))) is Reason.NOT_DECODED
    assert refused(by_hand(0xC0, bytes(14), control=0xB1)) is Reason.UNSUPPORTED_TYPE  # rain data
    assert refused(by_hand(0xC0, bytes(14), control=0x33)) is Reason.DOWNLINK_FRAME
    split = by_hand(0xC0, bytes(14), control=0xF3, address=b"\x01" + RTU.encode())  # DIVS 1
    assert refused(split) is Reason.SPLIT_FRAME
    assert refused(by_hand(0xC0, bytes(14), address=bytes.fromhex("2113210000"))) is Reason.BAD_ADDRESS
    assert refused(by_hand(0xC0, bytes(14), address=bytes.fromhex("21132A0100"))) is Reason.BAD_ADDRESS
    assert refused(by_hand(0xC0, bytes(14), address=bytes.fromhex("21132161EA"))) is Reason.BAD_ADDRESS
    assert refused(bytes([0x68, 0x03, 0x68, 1, 2, 3, 0, 0x16])) is Reason.BAD_LENGTH


garbage = st.binary(max_size=40).map(lambda b: b.replace(b"\x68", b""))


@given(
    parts=st.lists(st.tuples(garbage, st.integers(0, 9_999_999)), min_size=1, max_size=6),
    tail=garbage,
    cuts=st.lists(st.integers(1, 50), min_size=1, max_size=40),
)
def test_the_framer_finds_every_frame_however_the_stream_is_cut(
    parts: list[tuple[bytes, int]], tail: bytes, cuts: list[int]
) -> None:
    frames = [flow_report(RTU, [(None, total)], None) for _g, total in parts]
    stream = b"".join(g + f for (g, _t), f in zip(parts, frames, strict=True)) + tail
    framer = Framer()
    pieces = []
    at = 0
    for size in cuts * (len(stream) // max(1, sum(cuts)) + 1):
        pieces += framer.feed(stream[at : at + size])
        at += size
        if at >= len(stream):
            break
    pieces += framer.close()
    assert [p.raw for p in pieces if p.cut is Cut.FRAME] == frames
    assert b"".join(p.raw for p in pieces if p.cut is Cut.GARBAGE) == b"".join(g for g, _t in parts) + tail
    assert framer.held == 0


def test_the_framer_resynchronises_and_keeps_what_it_cannot_use() -> None:
    framer = Framer(max_frame=40)
    # a false start (68 L without the second 68), a frame whose end byte is wrong, a header announcing
    # more than the limit, then a good frame and half of another
    bad_end = GOOD[:-1] + b"\x00"
    stream = b"\x68\x20\x00" + bad_end + b"\x68\xff\x68" + GOOD + GOOD[:9]
    pieces = framer.feed(stream) + framer.close()
    cuts = [p.cut for p in pieces]
    assert cuts == [Cut.GARBAGE, Cut.BAD_END, Cut.TOO_LONG, Cut.FRAME, Cut.TRUNCATED], cuts
    assert pieces[0].raw == b"\x68\x20\x00" and pieces[1].raw == bad_end
    assert pieces[3].raw == GOOD and pieces[4].raw == GOOD[:9]


def test_the_framer_holds_at_most_a_frame() -> None:
    framer = Framer(max_frame=260, max_garbage=256)
    framer.feed(b"\x68\xfe\x68" + bytes(200))  # waiting for the rest of a 259-byte frame
    assert framer.held <= 260
    out = framer.feed(bytes(10_000))  # the frame never ends: 16H missing, resynchronised
    assert framer.held <= 260 + 256 and out


@given(
    ts=st.datetimes(datetime(2020, 1, 1), datetime(2030, 12, 31)).map(lambda d: d.replace(microsecond=0)),
    back=st.integers(0, 26 * 86400),
)
def test_a_short_time_label_is_the_most_recent_such_moment(ts: datetime, back: int) -> None:
    at = ts.replace(tzinfo=ZONE)
    received = at + timedelta(seconds=back)
    assert label_at(at).moment(received, ZONE, timedelta(0)) == at


def test_the_time_label_and_the_clock() -> None:
    received = datetime(2026, 12, 1, 0, 10, tzinfo=ZONE)
    # day 30 at 23:50: the most recent one is 30 November, not a day 30 after today
    assert TimeLabel(0, 50, 23, 30, 0).moment(received, ZONE, timedelta(0)) == datetime(
        2026, 11, 30, 23, 50, tzinfo=ZONE
    )
    # day 31 at noon: November has none, so October's
    assert TimeLabel(0, 0, 12, 31, 0).moment(received, ZONE, timedelta(0)).month == 10
    # a clock 2 minutes fast is read as now, not as a month ago
    fast = TimeLabel(0, 12, 0, 1, 0).moment(received, ZONE, timedelta(minutes=5))
    assert fast == datetime(2026, 12, 1, 0, 12, tzinfo=ZONE)
    with pytest.raises(Refused) as caught:
        TimeLabel(0, 0, 1, 1, 0, 12, 2026).moment(received, ZONE, timedelta(minutes=5))
    assert caught.value.reason is Reason.TS_IN_FUTURE and caught.value.clock_ahead_s == 3000
    label = TimeLabel(0, 0, 0, 1, 5)
    assert label.late_by(received - timedelta(minutes=4), received) is None
    assert label.late_by(received - timedelta(minutes=15), received) == timedelta(minutes=10)
    assert TimeLabel(0, 0, 0, 1, 0).late_by(received - timedelta(days=3), received) is None


def test_addresses() -> None:
    assert str(Address.parse("211321-12")) == "211321-00012"
    assert Address.decode(Address("211321", 60000).encode()) == Address("211321", 60000)
    with pytest.raises(Refused):
        Address.parse("2113-12")
    with pytest.raises(ValueError, match="do not fit"):
        encode_frame(Control(True, False, 3, 3), RTU, 0xC0, bytes(260))
