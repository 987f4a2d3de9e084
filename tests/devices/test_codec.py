"""The wire codec: round trips and refusals, property-tested."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.codec import decode_readings, decode_status, encode_readings
from devices.readings import Reading, Reason

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
SKEW = timedelta(minutes=5)

offsets = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
readings = st.builds(
    Reading,
    meter_id=st.just("M1"),
    ts=st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2026, 11, 28), timezones=offsets),
    total_m3=st.decimals(min_value=0, max_value=10**8 - 1, places=3, allow_nan=False, allow_infinity=False),
    flow_m3h=st.none() | st.floats(-1e6, 1e6, allow_nan=False),
    battery_v=st.none() | st.floats(0, 100, allow_nan=False),
    rssi=st.none() | st.integers(-200, 200),
    alarms=st.lists(st.text(min_size=1, max_size=10), max_size=3).map(tuple),
)


@settings(max_examples=300)
@given(st.lists(readings, min_size=1, max_size=20))
def test_encode_then_decode_gives_the_same_readings(batch: list[Reading]) -> None:
    decoded = decode_readings("M1", encode_readings(batch), NOW, SKEW)
    assert decoded.refusals == []
    assert [(r.ts, r.total_m3, r.flow_m3h, r.battery_v, r.rssi, r.alarms) for r in decoded.readings] == [
        (r.ts, r.total_m3, r.flow_m3h, r.battery_v, r.rssi, r.alarms) for r in batch
    ]


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_any_bytes_are_decoded_or_refused_never_raise(payload: bytes) -> None:
    decoded = decode_readings("M1", payload, NOW, SKEW)
    assert decoded.readings or decoded.refusals
    assert all(r.message for r in decoded.refusals)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=500)
@given(
    st.dictionaries(
        st.sampled_from(["ts", "total_m3", "flow_m3h", "battery_v", "rssi", "alarms", "x"]),
        json_values,
        max_size=7,
    )
)
def test_any_object_yields_a_valid_reading_or_a_reason(item: dict[str, object]) -> None:
    decoded = decode_readings("M1", orjson.dumps(item), NOW, SKEW)
    assert len(decoded.readings) + len(decoded.refusals) == 1
    for reading in decoded.readings:
        assert reading.total_m3 >= 0 and reading.ts <= NOW + SKEW and reading.ts.tzinfo is not None


def test_decimal_digits_are_kept_exactly() -> None:
    (reading,) = decode_readings(
        "M1", b'{"ts": "2026-05-01T08:00:00+08:00", "total_m3": 12345.678}', NOW, SKEW
    ).readings
    assert reading.total_m3 == Decimal("12345.678")


def test_each_bad_element_is_refused_on_its_own() -> None:
    payload = b'[{"ts": 1777000000, "total_m3": 1}, {"ts": 1777000000}, 7, {"ts": 1777000060, "total_m3": 2}]'
    decoded = decode_readings("M1", payload, NOW, SKEW)
    assert [r.total_m3 for r in decoded.readings] == [1, 2]
    assert [(r.element, r.reason) for r in decoded.refusals] == [
        (1, Reason.MISSING_TOTAL),
        (2, Reason.ELEMENT_NOT_OBJECT),
    ]


def test_total_must_be_below_the_meters_capacity() -> None:
    decoded = decode_readings("M1", b'{"ts": 1777000000, "total_m3": 1000000}', NOW, SKEW, Decimal(10) ** 6)
    assert decoded.refusals[0].reason is Reason.TOTAL_TOO_LARGE


def test_batch_limit_and_status() -> None:
    too_many = orjson.dumps([{"ts": 1777000000 + i, "total_m3": i} for i in range(11)])
    assert (
        decode_readings("M1", too_many, NOW, SKEW, max_batch=10).refusals[0].reason is Reason.BATCH_TOO_LARGE
    )
    assert decode_status(b"online") == "online"
    assert decode_status(b'{"status": "offline"}') == "offline"
