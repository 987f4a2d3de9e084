"""Usage profiles by intake use: how hard an intake pumps at a given local time. Pure and seeded.

Each profile gives a relative rate (0 when idle); a meter scales it so that its year adds up to the
annual volume it was told to draw. Chaoyang's irrigation season runs roughly April to September,
pumping in daytime, nothing in winter; industry is steady with a weekly rhythm; public supply follows
a diurnal curve with morning and evening peaks.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache

from devices.model import WaterUse


class Kind(StrEnum):
    IRRIGATION = "irrigation"
    INDUSTRY = "industry"
    PUBLIC_SUPPLY = "public_supply"


def kind_for(use: WaterUse) -> Kind:
    if use in (WaterUse.IRRIGATION, WaterUse.ECOLOGICAL):
        return Kind.IRRIGATION
    if use is WaterUse.INDUSTRY:
        return Kind.INDUSTRY
    return Kind.PUBLIC_SUPPLY


@dataclass(frozen=True, slots=True)
class Profile:
    kind: Kind
    seed: int

    def _pumps_on(self, day: date) -> bool:
        """Irrigation days are not every day: a seeded, per-day draw (about 60 % of season days)."""
        return _pumps_on(self.seed, day)

    def relative_rate(self, local: datetime) -> float:
        """Relative flow at local time ``local`` (0 = idle, about 1 = a typical working hour)."""
        hour = local.hour + local.minute / 60
        if self.kind is Kind.IRRIGATION:
            if not 4 <= local.month <= 9 or not 6 <= hour < 18 or not self._pumps_on(local.date()):
                return 0.0
            return 1.3 if local.month in (5, 6, 7) else 0.8  # dry late spring and early summer draw most
        if self.kind is Kind.INDUSTRY:
            return 1.0 if local.weekday() < 5 else 0.3
        # public supply: a base load with morning (7:00) and evening (19:00) peaks
        morning = math.exp(-((hour - 7) ** 2) / 4)
        evening = math.exp(-((hour - 19) ** 2) / 5)
        return 0.35 + 0.9 * morning + 0.7 * evening


@lru_cache(maxsize=65536)
def _pumps_on(seed: int, day: date) -> bool:
    return random.Random(f"{seed}:{day.isoformat()}").random() < 0.6  # noqa: S311 - simulation, not secrets


def annual_integral(profile: Profile, year: int, tz: object, step: timedelta = timedelta(hours=1)) -> float:
    """The profile's relative rate summed over a year in hours (to scale it to a volume)."""
    start = datetime(year, 1, 1, tzinfo=tz)  # type: ignore[arg-type]
    end = datetime(year + 1, 1, 1, tzinfo=tz)  # type: ignore[arg-type]
    total, t = 0.0, start
    hours = step.total_seconds() / 3600
    while t < end:
        total += profile.relative_rate(t + step / 2) * hours
        t += step
    return total
