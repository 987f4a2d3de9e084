"""The simulated clock of a live fleet: ``speed`` times real time from a start in the past until it
reaches the real time, then real time (device clocks must never run ahead of the collector's). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class SimClock:
    start: datetime  # simulated time when the run began
    real_start: datetime  # real time when the run began
    speed: float  # simulated seconds per real second until the clock catches up with real time

    def __post_init__(self) -> None:
        if self.speed < 1:
            raise ValueError(f"speed must be at least 1, not {self.speed}")
        if self.start > self.real_start:
            raise ValueError(f"the simulated start {self.start.isoformat()} is in the future")

    def at(self, elapsed: float) -> datetime:
        """Simulated time ``elapsed`` real seconds into the run."""
        return min(
            self.start + timedelta(seconds=elapsed * self.speed),
            self.real_start + timedelta(seconds=elapsed),
        )

    def elapsed_at(self, simulated: datetime) -> float:
        """Real seconds into the run at which the clock shows ``simulated``."""
        return max(
            (simulated - self.start).total_seconds() / self.speed,
            (simulated - self.real_start).total_seconds(),
        )

    def caught_up(self, elapsed: float) -> bool:
        return self.at(elapsed) == self.real_start + timedelta(seconds=elapsed)
