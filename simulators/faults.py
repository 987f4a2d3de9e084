"""Field faults, injected into one meter's reading stream. Pure and seeded.

Each fault leaves a trace the service must show:

- offline: silent, then what it stored as one array, with a last will and a new birth (status events);
- duplicate: some messages twice (counted as duplicates, stored once);
- conflict: a reading resent with another total (reading_conflicts);
- out_of_order: neighbouring messages swapped (late readings take their place);
- rollover: the register passes its capacity and goes on from zero, as a register does: every
  reading is the true total (plus an offset) modulo the capacity (meter_events rollover; the volume
  counted is the water drawn);
- reset: the register restarts near zero (meter_events reset, a totalizer_reset finding; the day of
  the reset is flagged and its volume unknown);
- stuck: the totalizer frozen for 5 whole local days while flow is reported (days flagged stuck, a
  totalizer_stuck finding);
- spike: one interval far beyond what the meter could pass (the day flagged implausible, an
  over_design_capacity finding);
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

from devices.codec import encode_readings
from devices.readings import Reading
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
    stuck_from = _midnight_from(out, int(n * STUCK_FROM))
    if Fault.ROLLOVER in faults and capacity is not None:
        # The register shows the true total plus an offset, modulo its capacity: chosen so that it
        # passes the capacity in the first interval from ROLLOVER_AT that draws water (a register
        # that counts nothing cannot pass it: a meter idle until the later faults has no rollover);
        # every later reading has wrapped too.
        window = range(int(n * ROLLOVER_AT), stuck_from - 1)  # apart from the later faults
        at = next((i for i in window if out[i + 1].total_m3 - out[i].total_m3 > Decimal("0.5")), None)
        if at is not None:
            lift = capacity - out[at].total_m3 - Decimal("0.5")
            out = [replace(r, total_m3=(r.total_m3 + lift) % capacity) for r in out]
    if Fault.STUCK in faults:
        # frozen from a local midnight to the midnight STUCK_FOR later, both readings included: whole
        # days without a counted litre
        start = stuck_from
        stop = next((i for i in range(start, n) if out[i].ts >= out[start].ts + STUCK_FOR), n - 1)
        lost = out[stop].total_m3 - out[start].total_m3
        for i in range(start, n):
            frozen = i <= stop
            total = out[start].total_m3 if frozen else out[i].total_m3 - lost
            out[i] = replace(
                out[i],
                total_m3=total,
                flow_m3h=max(out[i].flow_m3h or 0.0, 5.0) if frozen else out[i].flow_m3h,
            )
    if Fault.SPIKE in faults:
        for i in range(int(n * SPIKE_AT), n):
            total = out[i].total_m3 + spike_m3
            out[i] = replace(out[i], total_m3=total % capacity if capacity else total)  # a register wraps
    if Fault.RESET in faults:
        at = int(n * RESET_AT)
        drop = out[at].total_m3 - min(Decimal(5), out[at].total_m3 / 10)  # to near zero: a real drop
        for i in range(at, n):
            out[i] = replace(out[i], total_m3=out[i].total_m3 - drop)
    return out


def _midnight_from(readings: Sequence[Reading], at: int) -> int:
    """The last reading at or before ``at`` taken at a local midnight (the readings' own time zone)."""
    for i in range(at, -1, -1):
        local = readings[i].ts
        if (local.hour, local.minute, local.second) == (0, 0, 0):
            return i
    return at


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
