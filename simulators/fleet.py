"""Virtual meters for the registry's active meters, each told how much to draw in a year. Pure, seeded.

Annual targets relative to the permit: most permits are used well within, some approach it, some
are exceeded (so the compliance rules have something to find). A permit covering several intakes is
shared among them by their design capacities, and no intake is told to draw more in a year than
YEAR_CAP of what its design daily capacity allows (a permit larger than the works is not a licence to
invent water). Intakes without a permit draw about 120 days of their design capacity.
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


YEAR_CAP = Decimal("0.9")  # of design daily capacity x 365: the most an intake is told to draw in a year
DEFAULT_CAPACITY = Decimal(100)  # m³/day, for an intake without a registered design capacity


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
    active = sorted((m for m in meters if m.is_active), key=lambda m: m.meter_id)
    capacity_of = {
        m.meter_id: intakes[m.intake_code].design_daily_capacity_m3 or DEFAULT_CAPACITY for m in active
    }
    permit_capacity: dict[str, Decimal] = {}  # permit -> the design capacity of its metered intakes
    for m in active:
        number = intakes[m.intake_code].permit_no
        if number:
            permit_capacity[number] = permit_capacity.get(number, Decimal(0)) + capacity_of[m.meter_id]
    planned = []
    for meter in active:
        intake = intakes[meter.intake_code]
        kind = kind_for(intake.water_use)
        permit = permits.get(intake.permit_no) if intake.permit_no else None
        capacity = capacity_of[meter.meter_id]
        if permit is not None and permit.annual_volume_m3 > 0:
            share: float | None = _share(rng)
            part = capacity / permit_capacity[permit.permit_no]  # its part of a shared permit
            target = permit.annual_volume_m3 * Decimal(repr(share)) * part
        else:
            share = None
            target = capacity * 120
        target = min(target, capacity * 365 * YEAR_CAP)
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
