"""From SZY 206 frames (and the link's own events) to what the store writes. Pure, given the directory.

- A flow report (AFN C0H, or B0H answering a query) gives one message per channel of the RTU: the
  reading of the meter registered at that address and channel and in service at the frame's time,
  or a refusal for that channel alone (element = the channel). The raw frame is kept with each.
- A frame that cannot be read (CRC, end byte, BCD, length, ...) is one refusal of the whole frame.
- A frame on a connection bound to another intake's RTU (the first address it spoke for) is refused
  (rtu_mismatch): SZY 206 has no uplink password, so an address alone proves nothing.
- Link checks store nothing: the gateway turns the link's life into status deliveries
  (:func:`link_status`), one per meter of the RTU.
- A report that arrives after the delay its time label allows is stored (it is real data) with the
  alarm ``frame_late``; the gateway counts it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from devices.readings import Reading, Reason, Refusal, Refused, Status, check_total
from devices.szy206 import Cut, FlowReport, FlowValue, LinkCheck, decode_uplink, parse_frame
from ingest.message import Limits, Lookup, Message, MeterInfo, Source

LATE_ALARM = "frame_late"
CUT_REASONS = {
    Cut.GARBAGE: (Reason.GARBAGE, "bytes between frames that start no frame"),
    Cut.BAD_END: (Reason.BAD_END_BYTE, "the bytes L announced do not end with 16H"),
    Cut.TOO_LONG: (Reason.FRAME_TOO_LONG, "L announces a frame longer than the gateway takes"),
    Cut.TRUNCATED: (Reason.TRUNCATED_FRAME, "the connection ended inside a frame"),
}


def decode_piece(
    cut: Cut,
    raw: bytes,
    received_at: datetime,
    peer: str | None,
    bound: str | None,
    lookup: Lookup,
    limits: Limits,
) -> list[Message]:
    """A piece the framer cut from a connection's stream."""
    if cut is Cut.FRAME:
        return decode_frame(raw, received_at, peer, bound, lookup, limits)
    reason, text = CUT_REASONS[cut]
    return [_refused(raw, received_at, peer, None, Refusal(reason, f"{text} ({len(raw)} bytes)"))]


def decode_frame(
    raw: bytes, received_at: datetime, peer: str | None, bound: str | None, lookup: Lookup, limits: Limits
) -> list[Message]:
    """One whole frame. ``bound``: the address the connection first spoke for (None: a replay)."""
    try:
        frame = parse_frame(raw)
        address = str(frame.address)
        said = decode_uplink(frame)
    except Refused as refused:
        return [_refused(raw, received_at, peer, None, refused.refusal())]
    channels = lookup.rtu(address)
    first = _current(channels.get(1, ()), received_at)
    if bound is not None and bound != address and _intake(lookup, bound) != _intake(lookup, address):
        why = f"RTU {address} on a connection that spoke for RTU {bound}, of another intake"
        return [_refused(raw, received_at, peer, None, Refusal(Reason.RTU_MISMATCH, why))]
    if not channels:
        why = f"no meter is registered with RTU address {address}"
        return [_refused(raw, received_at, peer, None, Refusal(Reason.UNKNOWN_RTU, why))]
    if isinstance(said, LinkCheck):
        return []
    return _report(said, address, channels, raw, received_at, peer, limits, first)


def link_status(
    address: str, status: Status, received_at: datetime, peer: str | None, lookup: Lookup
) -> list[Message]:
    """The link of an RTU went up (login, first frame) or down (logout, close, idle timeout): a status
    for each of its meters in service."""
    meters = [_current(found, received_at) for found in lookup.rtu(address).values()]
    return [
        Message(Source.SZY206, m.meter_id, b"", received_at, status=status, peer=peer)
        for m in meters
        if m is not None
    ]


def _report(
    said: FlowReport,
    address: str,
    channels: Mapping[int, Sequence[MeterInfo]],
    raw: bytes,
    received_at: datetime,
    peer: str | None,
    limits: Limits,
    first: MeterInfo | None,
) -> list[Message]:
    try:
        ts = (
            said.label.moment(received_at, limits.zone, limits.max_future_skew) if said.label else received_at
        )
    except Refused as refused:
        return [_refused(raw, received_at, peer, first.meter_id if first else None, refused.refusal())]
    late = said.label.late_by(ts, received_at) if said.label else None
    alarms = (*said.alarms, LATE_ALARM) if late is not None else said.alarms
    return [
        _channel(address, channel, value, channels.get(channel, ()), ts, alarms, raw, received_at, peer)
        for channel, value in enumerate(said.values, start=1)
    ]


def _channel(
    address: str,
    channel: int,
    value: FlowValue,
    meters: Sequence[MeterInfo],
    ts: datetime,
    alarms: tuple[str, ...],
    raw: bytes,
    received_at: datetime,
    peer: str | None,
) -> Message:
    def refused(meter_id: str | None, why: Refusal) -> Message:
        return _refused(raw, received_at, peer, meter_id, why)

    if not meters:
        why = f"RTU {address} channel {channel} has no meter registered"
        return refused(None, Refusal(Reason.UNKNOWN_METER, why, channel))
    meter = _current(meters, ts)
    if meter is None:
        names = ", ".join(m.meter_id for m in meters)
        why = f"RTU {address} channel {channel} had no meter in service at {ts.isoformat()} ({names})"
        return refused(meters[-1].meter_id, Refusal(Reason.INACTIVE_METER, why, channel))
    if value.total_m3 is None:
        why = f"RTU {address} channel {channel}: the totalizer is not measured (AAH)"
        return refused(meter.meter_id, Refusal(Reason.NOT_MEASURED, why, channel))
    try:
        total = check_total(value.total_m3, meter.capacity)
    except Refused as exc:
        return refused(meter.meter_id, exc.refusal(channel))
    reading = Reading(meter.meter_id, ts, total, value.flow_m3h, alarms=alarms)
    return Message(Source.SZY206, meter.meter_id, raw, received_at, readings=[reading], peer=peer)


def _current(meters: Sequence[MeterInfo], at: datetime) -> MeterInfo | None:
    """The channel's meter in service at ``at``: the latest installed of those whose service covers it."""
    found = [m for m in meters if m.in_service_at(at)]
    return found[-1] if found else None


def _intake(lookup: Lookup, address: str) -> str | None:
    return next((m.intake_code for ms in lookup.rtu(address).values() for m in ms), None)


def _refused(
    raw: bytes, received_at: datetime, peer: str | None, meter_id: str | None, why: Refusal
) -> Message:
    return Message(Source.SZY206, meter_id, raw, received_at, refusals=[why], peer=peer)


def rtu_address(raw: bytes) -> str | None:
    """The address a frame speaks for, if it is a readable uplink frame (what binds a connection)."""
    try:
        frame = parse_frame(raw)
    except Refused:
        return None
    return str(frame.address) if frame.control.uplink else None
