"""SZY 206 frames into messages against the meter directory: the right meter, time, totalizer, flow."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from devices.readings import Reason, Status
from devices.szy206 import Address, Cut, FlowUnit, Link, TimeLabel, flow_report, label_at, link_check
from ingest.directory import Registered
from ingest.frames import LATE_ALARM, decode_frame, decode_piece, link_status
from ingest.message import Limits, MeterInfo

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 9, 0, 10, tzinfo=ZONE)
RTU = Address("211321", 12)
LIMITS = Limits(timedelta(minutes=5), 10_000, ZONE)
OLD_END = datetime(2026, 6, 2, tzinfo=ZONE)  # the old meter served until 1 June ended


def directory() -> Registered:
    def meter(
        meter_id: str, intake: str, starts: datetime | None = None, ends: datetime | None = None
    ) -> MeterInfo:
        return MeterInfo(meter_id, Decimal(10) ** 8, 900, ends, None, intake, starts)

    found = Registered()
    old, new = meter("P-OLD", "I-P", None, OLD_END), meter("P-NEW", "I-P", OLD_END)
    found.meters.update({m.meter_id: m for m in (old, new, meter("Q-1", "I-Q"), meter("R-1", "I-R"))})
    found.rtus["211321-00012"] = {1: [old, new], 2: [found.meters["Q-1"]]}
    found.rtus["211321-00013"] = {1: [found.meters["R-1"]]}
    return found


def test_several_meters_on_one_rtu_each_get_their_reading() -> None:
    at = datetime(2026, 11, 20, 9, 0, tzinfo=ZONE)
    raw = flow_report(RTU, [(36.5, 1234), (-0.25, 99)], label_at(at, 10), ["flow_meter_fault"])
    messages = decode_frame(raw, NOW, "10.0.0.5:4000", "211321-00012", directory(), LIMITS)
    readings = [r for m in messages for r in m.readings]
    assert [(r.meter_id, r.ts, r.total_m3, r.flow_m3h) for r in readings] == [
        ("P-NEW", at, Decimal(1234), 36.5),
        ("Q-1", at, Decimal(99), -0.25),
    ]
    assert all(r.alarms == ("flow_meter_fault",) for r in readings)
    assert all(m.payload == raw and m.peer == "10.0.0.5:4000" and m.source == "szy206" for m in messages)


def test_a_swapped_meters_backlog_goes_to_the_old_meter() -> None:
    before = datetime(2026, 6, 1, 23, 45, tzinfo=ZONE)
    raw = flow_report(RTU, [(1.0, 500), (1.0, 7)], label_at(before, full=True))
    messages = decode_frame(raw, NOW, None, None, directory(), LIMITS)
    assert [m.readings[0].meter_id for m in messages] == ["P-OLD", "Q-1"]


def test_flow_in_cubic_metres_per_second_and_the_full_label() -> None:
    at = datetime(2026, 11, 19, 23, 0, tzinfo=ZONE)
    raw = flow_report(Address("211321", 13), [(7.2, 10)], label_at(at, full=True), unit=FlowUnit.M3_PER_S)
    (message,) = decode_frame(raw, NOW, None, None, directory(), LIMITS)
    assert message.readings[0].ts == at and abs((message.readings[0].flow_m3h or 0) - 7.2) < 1e-9


def test_what_cannot_be_stored_is_refused_alone() -> None:
    at = datetime(2026, 11, 20, 8, 45, tzinfo=ZONE)
    raw = flow_report(RTU, [(1.0, None), (1.0, 5), (1.0, 6)], label_at(at))
    refused = {
        m.refusals[0].element: m.refusals[0].reason
        for m in decode_frame(raw, NOW, None, None, directory(), LIMITS)
        if m.refusals
    }
    assert refused == {1: Reason.NOT_MEASURED, 3: Reason.UNKNOWN_METER}  # channel 2 stored
    unknown = flow_report(Address("211321", 99), [(1.0, 5)], label_at(at))
    assert (
        decode_frame(unknown, NOW, None, None, directory(), LIMITS)[0].refusals[0].reason
        is Reason.UNKNOWN_RTU
    )
    future = flow_report(RTU, [(1.0, 5), (1.0, 6)], label_at(NOW + timedelta(hours=1), full=True))
    (ahead,) = decode_frame(future, NOW, None, None, directory(), LIMITS)
    assert ahead.refusals[0].reason is Reason.TS_IN_FUTURE and ahead.refusals[0].clock_ahead_s == 3600
    assert ahead.meter_id == "P-NEW"  # the RTU's first meter: its clock is the one ahead


def test_another_intakes_address_on_a_bound_connection_is_refused() -> None:
    at = datetime(2026, 11, 20, 8, 45, tzinfo=ZONE)
    other = flow_report(Address("211321", 13), [(1.0, 5)], label_at(at))
    (message,) = decode_frame(other, NOW, None, "211321-00012", directory(), LIMITS)
    assert message.refusals[0].reason is Reason.RTU_MISMATCH and not message.readings
    # the same frame on its own connection, or on a replay, is stored
    assert decode_frame(other, NOW, None, "211321-00013", directory(), LIMITS)[0].readings
    assert decode_frame(other, NOW, None, None, directory(), LIMITS)[0].readings


def test_a_late_report_is_stored_and_flagged() -> None:
    at = NOW - timedelta(hours=1)
    raw = flow_report(Address("211321", 13), [(1.0, 5)], TimeLabel(at.second, at.minute, at.hour, at.day, 30))
    (message,) = decode_frame(raw, NOW, None, None, directory(), LIMITS)
    assert message.readings[0].alarms == (LATE_ALARM,)
    timely = flow_report(
        Address("211321", 13), [(1.0, 5)], TimeLabel(at.second, at.minute, at.hour, at.day, 90)
    )
    assert decode_frame(timely, NOW, None, None, directory(), LIMITS)[0].readings[0].alarms == ()


def test_link_checks_store_nothing_and_the_link_gives_status() -> None:
    assert decode_frame(link_check(RTU, Link.LOGIN), NOW, None, None, directory(), LIMITS) == []
    online = link_status("211321-00012", Status.ONLINE, NOW, "10.0.0.5:4000", directory())
    assert [(m.meter_id, m.status) for m in online] == [("P-NEW", Status.ONLINE), ("Q-1", Status.ONLINE)]
    assert link_status("211321-09999", Status.OFFLINE, NOW, None, directory()) == []


def test_pieces_that_are_not_frames_are_kept_with_their_reason() -> None:
    for cut, reason in [
        (Cut.GARBAGE, Reason.GARBAGE),
        (Cut.BAD_END, Reason.BAD_END_BYTE),
        (Cut.TOO_LONG, Reason.FRAME_TOO_LONG),
        (Cut.TRUNCATED, Reason.TRUNCATED_FRAME),
    ]:
        (message,) = decode_piece(cut, b"\x68\x01", NOW, "p", None, directory(), LIMITS)
        assert message.refusals[0].reason is reason and message.payload == b"\x68\x01"
