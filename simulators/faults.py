"""Field faults, injected into one meter's reading stream. Pure and seeded.

Each fault leaves a trace the service must show:

- offline: silent, then what it stored as one array, with a last will and a new birth (status events);
- duplicate: some messages twice (counted as duplicates, stored once);
- conflict: a reading resent with another total (reading_conflicts);
- out_of_order: neighbouring messages swapped (late readings take their place);
- rollover: the register passes its capacity (meter_events rollover);
- reset: the register restarts near zero (meter_events reset, a totalizer_reset finding);
- stuck: the totalizer frozen for 5 days while flow is reported (a totalizer_stuck finding);
- spike: one interval far beyond the intake's capacity (an over_design_capacity finding);
- malformed: payloads that are not readings (rejected_messages bad_json, missing_total);
- impostor: publishes on another meter's topic naming itself (rejected_messages meter_mismatch).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

import orjson

from devices.codec import Reading, encode_readings
from devices.topics import readings_topic, status_topic


class Fault(StrEnum):
    OFFLINE = "offline"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    OUT_OF_ORDER = "out_of_order"
    ROLLOVER = "rollover"
    RESET = "reset"
    STUCK = "stuck"
    SPIKE = "spike"
    MALFORMED = "malformed"
    IMPOSTOR = "impostor"


@dataclass(frozen=True, slots=True)
class Publication:
    topic: str
    payload: bytes
    readings: int  # readings it carries (0 for status and garbage)
    retain: bool = False


# Where in the run each value fault happens (share of the run), so a short run shows them all and the
# last week holds the ones the sweep looks for (a stuck totalizer, a spike).
ROLLOVER_AT = 0.10
STUCK_FROM = 0.35
STUCK_FOR = timedelta(days=5)
SPIKE_AT = 0.93
RESET_AT = 0.97


def _values(
    readings: list[Reading], faults: frozenset[Fault], capacity: Decimal | None, spike_m3: Decimal
) -> list[Reading]:
    """Faults in what the register says (readings in device-time order)."""
    n = len(readings)
    out = list(readings)
    if n < 8:
        return out
    if Fault.STUCK in faults:
        start = int(n * STUCK_FROM)
        stop = next((i for i in range(start, n) if out[i].ts >= out[start].ts + STUCK_FOR), n)
        lost = out[stop - 1].total_m3 - out[start].total_m3
        for i in range(start, n):
            frozen = i < stop
            total = out[start].total_m3 if frozen else out[i].total_m3 - lost
            out[i] = replace(
                out[i],
                total_m3=total,
                flow_m3h=max(out[i].flow_m3h or 0.0, 5.0) if frozen else out[i].flow_m3h,
            )
    if Fault.SPIKE in faults:
        for i in range(int(n * SPIKE_AT), n):
            out[i] = replace(out[i], total_m3=out[i].total_m3 + spike_m3)
    if Fault.RESET in faults:
        at = int(n * RESET_AT)
        drop = out[at].total_m3 - Decimal(5)
        for i in range(at, n):
            out[i] = replace(out[i], total_m3=out[i].total_m3 - drop)
    if Fault.ROLLOVER in faults and capacity is not None:
        at = int(n * ROLLOVER_AT)
        lift = capacity - out[at].total_m3 - Decimal("0.5")  # the register passes its capacity right after
        out = [
            replace(r, total_m3=(r.total_m3 + lift) % capacity) if i <= at else r for i, r in enumerate(out)
        ]
    return out


def inject(
    meter_id: str,
    readings: Sequence[Reading],
    faults: frozenset[Fault],
    rng: random.Random,
    neighbour: str,
    capacity: Decimal | None = None,
    spike_m3: Decimal = Decimal(50_000),
) -> list[Publication]:
    """The messages a faulty meter publishes for ``readings`` (in device-time order)."""
    values = _values(list(readings), faults, capacity, spike_m3)
    topic = readings_topic(meter_id)
    messages = [Publication(topic, encode_readings([r]), 1) for r in values]
    if Fault.OFFLINE in faults and len(messages) >= 6:
        lo, hi = len(values) // 3, len(values) // 3 + max(2, len(values) // 6)
        held = encode_readings(values[lo:hi])  # what it stored while silent, sent on reconnecting
        messages = [
            *messages[:lo],
            Publication(status_topic(meter_id), b"offline", 0, retain=True),
            Publication(status_topic(meter_id), b"online", 0, retain=True),
            Publication(topic, held, hi - lo),
            *messages[hi:],
        ]
    if Fault.OUT_OF_ORDER in faults and len(messages) >= 3:
        i = rng.randrange(0, len(messages) - 1)
        messages[i], messages[i + 1] = messages[i + 1], messages[i]
    if Fault.DUPLICATE in faults and values:
        for i in sorted(rng.sample(range(len(messages)), k=min(3, len(messages))), reverse=True):
            messages.insert(i, messages[i])
    if Fault.CONFLICT in faults and values:
        other = replace(values[-1], total_m3=values[-1].total_m3 + Decimal("0.5"))  # stays below capacity
        messages.append(Publication(topic, encode_readings([other]), 1))
    if Fault.MALFORMED in faults:
        ts = values[0].ts.isoformat() if values else "2026-01-01T00:00:00+08:00"
        messages += [Publication(topic, b'{"ts": ', 0), Publication(topic, orjson.dumps({"ts": ts}), 0)]
    if Fault.IMPOSTOR in faults and values:
        fake = {
            "ts": (values[-1].ts + timedelta(seconds=1)).isoformat(),
            "total_m3": 1.0,
            "meter_id": meter_id,
        }
        messages.append(Publication(readings_topic(neighbour), orjson.dumps(fake), 0))
    return [Publication(status_topic(meter_id), b"online", 0, retain=True), *messages]
