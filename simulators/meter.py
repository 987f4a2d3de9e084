"""A virtual flow meter: a totalizer that advances by the profile's flow, read at its interval. Pure.

Deterministic: the same meter, profile and times give the same readings, whatever order they are
asked in, so a backfill and a live run agree and a test can compute the volumes the collector must
store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from devices.readings import Reading
from simulators.profiles import Profile

LITRE = Decimal("0.001")
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class VirtualMeter:
    meter_id: str
    profile: Profile
    m3_per_rate_hour: float  # m³ drawn per hour at relative rate 1 (scales the profile to a volume)
    interval: timedelta
    zone: ZoneInfo
    epoch: datetime  # the totalizer reads start_total here
    start_total: Decimal = Decimal(0)
    capacity: Decimal | None = None  # the register rolls over here

    def flow_m3h(self, at: datetime) -> float:
        return self.profile.relative_rate(at.astimezone(self.zone)) * self.m3_per_rate_hour

    def _volume_until(self, at: datetime) -> Decimal:
        """Volume drawn from the epoch to ``at``: whole hours of an hourly grid anchored at the epoch
        (flow at each hour's middle), plus the part-hour up to ``at``; rounded to the litre."""
        cum, hour = 0.0, self.epoch
        while hour + HOUR <= at:
            cum += self.flow_m3h(hour + HOUR / 2)
            hour += HOUR
        return self._rounded(cum, hour, at)

    def _rounded(self, cum: float, hour: datetime, at: datetime) -> Decimal:
        partial = self.flow_m3h(hour + (at - hour) / 2) * ((at - hour) / HOUR) if at > hour else 0.0
        return Decimal(repr(cum + partial)).quantize(LITRE, rounding=ROUND_HALF_EVEN)

    def _wrap(self, volume: Decimal) -> Decimal:
        total = self.start_total + volume
        return total % self.capacity if self.capacity else total

    def total_at(self, at: datetime) -> Decimal:
        return self._wrap(self._volume_until(at))

    def reading_at(self, at: datetime) -> Reading:
        return Reading(self.meter_id, at, self.total_at(at), round(self.flow_m3h(at), 3), 3.6, -71)

    def readings(self, start: datetime, end: datetime) -> Iterator[Reading]:
        """Readings at every interval tick in [start, end), aligned to the epoch; one pass over the
        same hourly grid as :meth:`total_at`, so both give the same totals."""
        ticks = max(0, -(-(start - self.epoch) // self.interval))  # ceiling division
        at = self.epoch + ticks * self.interval
        cum, hour = 0.0, self.epoch
        while at < end:
            while hour + HOUR <= at:
                cum += self.flow_m3h(hour + HOUR / 2)
                hour += HOUR
            yield Reading(
                self.meter_id,
                at,
                self._wrap(self._rounded(cum, hour, at)),
                round(self.flow_m3h(at), 3),
                3.6,
                -71,
            )
            at += self.interval
