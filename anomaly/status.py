"""A meter's status (never reported / online / offline) and how much of a day it was online. Pure.

Offline means no reading for more than ``silence_factor`` × the meter's reporting interval, or an
``offline`` last will newer than the last reading. "Offline since" is the last contact: the last
reading received (silence), or the last will's time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class MeterStatus(StrEnum):
    NEVER_REPORTED = "never_reported"
    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class Observed:
    status: MeterStatus
    since: datetime
    reason: str  # reading, silence, last_will, registered


def judge(
    now: datetime,
    installed_at: datetime,
    report_interval: timedelta,
    last_received: datetime | None,
    last_will_at: datetime | None,
    silence_factor: int = 2,
) -> Observed:
    """The status a meter is in at ``now`` from what the collector stored."""
    if last_received is None:
        if last_will_at is not None:
            return Observed(MeterStatus.OFFLINE, last_will_at, "last_will")
        return Observed(MeterStatus.NEVER_REPORTED, installed_at, "registered")
    if last_will_at is not None and last_will_at > last_received:
        return Observed(MeterStatus.OFFLINE, last_will_at, "last_will")
    if now - last_received > silence_factor * report_interval:
        return Observed(MeterStatus.OFFLINE, last_received, "silence")
    return Observed(MeterStatus.ONLINE, last_received, "reading")


@dataclass(frozen=True, slots=True)
class Change:
    meter_id: str
    observed: Observed


def changes(current: Mapping[str, MeterStatus | None], observed: Mapping[str, Observed]) -> list[Change]:
    """Transitions to record: only where the status differs from what is stored (a re-run records none)."""
    return [Change(m, o) for m, o in sorted(observed.items()) if current.get(m) != o.status]


def online_share(
    transitions: Sequence[tuple[datetime, MeterStatus]], start: datetime, end: datetime
) -> float | None:
    """The share of [start, end) a meter was online, of the part of it the status machine watched
    (from its first recorded transition on); None when it watched none of it (sorted transitions).
    The status before the first transition in the window is the last one before ``start``."""
    if not transitions:
        return None
    watched_from = max(start, transitions[0][0])
    span = (end - watched_from).total_seconds()
    if span <= 0:
        return None
    online = 0.0
    state = MeterStatus.NEVER_REPORTED
    at = watched_from
    for ts, status in transitions:
        if ts <= watched_from:
            state = status
            continue
        if ts >= end:
            break
        if state is MeterStatus.ONLINE:
            online += (ts - at).total_seconds()
        state, at = status, ts
    if state is MeterStatus.ONLINE:
        online += (end - at).total_seconds()
    return round(online / span, 6)


def observed_share(
    transitions: Sequence[tuple[datetime, MeterStatus]], start: datetime, end: datetime
) -> float:
    """How much of [start, end) the status machine watched (from the meter's first transition)."""
    span = (end - start).total_seconds()
    if not transitions or span <= 0:
        return 0.0
    watched = (end - max(start, min(end, transitions[0][0]))).total_seconds()
    return round(max(0.0, watched) / span, 6)


def completeness(
    readings: int, report_interval: timedelta, elapsed: timedelta = timedelta(days=1)
) -> float | None:
    """到报率: readings received ÷ readings expected in the (elapsed part of the) day, capped at 1;
    None for a day that has not begun."""
    expected = elapsed / report_interval
    return round(min(1.0, readings / expected), 6) if expected > 0 else None
