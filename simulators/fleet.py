"""Virtual meters for the registry's active meters, each told how much to draw in a year. Pure, seeded.

Annual targets relative to the permit: most intakes stay well within it, some approach it, some
exceed it (so the compliance rules have something to find); intakes without a permit draw about
120 days of their design capacity.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from devices.model import Intake, Meter, Permit
from simulators.meter import VirtualMeter
from simulators.profiles import Kind, Profile, annual_integral, kind_for


@dataclass(frozen=True, slots=True)
class Planned:
    meter: VirtualMeter
    annual_target_m3: Decimal
    share_of_permit: float | None  # what the meter was told to draw, as a share of its permit


@lru_cache(maxsize=16)
def _integral(kind: Kind, year: int, zone: str) -> float:
    return annual_integral(Profile(kind, 0), year, ZoneInfo(zone))


def _share(rng: random.Random) -> float:
    roll = rng.random()
    if roll < 0.7:
        return rng.uniform(0.4, 0.85)  # well within the permit
    if roll < 0.9:
        return rng.uniform(0.9, 1.0)  # approaching it
    return rng.uniform(1.05, 1.3)  # exceeding it


def plan_fleet(
    meters: Sequence[Meter],
    intakes: dict[str, Intake],
    permits: dict[str, Permit],
    seed: int,
    zone: ZoneInfo,
    epoch: datetime,
) -> list[Planned]:
    """A virtual meter for every active meter, scaled to a seeded share of its permit."""
    rng = random.Random(seed)  # noqa: S311 - simulation, not secrets
    planned = []
    for meter in sorted((m for m in meters if m.is_active), key=lambda m: m.meter_id):
        intake = intakes[meter.intake_code]
        kind = kind_for(intake.water_use)
        permit = permits.get(intake.permit_no) if intake.permit_no else None
        if permit is not None and permit.annual_volume_m3 > 0:
            share: float | None = _share(rng)
            target = permit.annual_volume_m3 * Decimal(repr(share))
        else:
            share = None
            target = (intake.design_daily_capacity_m3 or Decimal(100)) * 120
        scale = float(target) / _integral(kind, epoch.year, str(zone))
        start_total = Decimal(rng.randint(0, 50_000))
        profile = Profile(kind, zlib.crc32(meter.meter_id.encode()) ^ seed)
        interval = timedelta(seconds=meter.report_interval_s)
        planned.append(
            Planned(
                VirtualMeter(
                    meter.meter_id,
                    profile,
                    scale,
                    interval,
                    zone,
                    epoch,
                    start_total,
                    meter.totalizer_capacity_m3,
                ),
                target,
                share,
            )
        )
    return planned
