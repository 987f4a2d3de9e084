"""Spot checks (监督检查, "四不两直"), pure: a reproducible stratified sample of a division's intakes, and
what an inspection on the ground says against the registry.

The sample is stratified by county and by risk. An intake's risk is the first of: over its permit
(an open over-permit finding), no active meter, a finding closed (销号) in the last 90 days (was the
rectification real?), else none. Each stratum gets its share of the sample in proportion to its size,
intakes at risk counting twice (RISK_WEIGHT), at least one from every stratum when the sample is at
least as large as the number of strata, and never more than the stratum holds. Within a stratum the
intakes are drawn by a seeded generator from the codes in order, so the same seed on the same
registry draws the same sample.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from anomaly.findings import CampaignFinding, ProblemType, Severity
from devices.duplicates import normal_name

RISK_WEIGHT = 2
RECENTLY_CLOSED_DAYS = 90


class Risk(StrEnum):
    OVER_PERMIT = "over_permit"
    NO_METER = "no_meter"
    CLOSED_RECENTLY = "closed_recently"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Candidate:
    code: str
    division_code: str
    risk: Risk


@dataclass(frozen=True, slots=True)
class Drawn:
    code: str
    division_code: str
    risk: Risk


def allocate(sizes: Mapping[tuple[str, Risk], int], total: int) -> dict[tuple[str, Risk], int]:
    """How many to draw from each stratum: ``total`` split by weighted size (largest remainders,
    capped at what a stratum holds), then one from every stratum left empty, taken from the largest."""
    strata = sorted(k for k, n in sizes.items() if n > 0)
    total = min(total, sum(sizes[k] for k in strata))
    if total <= 0:
        return {}
    weight = {k: sizes[k] * (1 if k[1] is Risk.NONE else RISK_WEIGHT) for k in strata}
    taken = dict.fromkeys(strata, 0)
    left = total
    while left > 0:  # a round hands out what is left by weight; capped strata drop out of the next
        room = [k for k in strata if taken[k] < sizes[k]]
        whole = sum(weight[k] for k in room)
        quota = {k: left * weight[k] / whole for k in room}
        given = {k: min(sizes[k] - taken[k], math.floor(quota[k])) for k in room}
        rest = left - sum(given.values())
        for k in sorted(room, key=lambda k: (-(quota[k] - math.floor(quota[k])), k)):  # largest remainders
            if rest and given[k] < sizes[k] - taken[k]:
                given[k] += 1
                rest -= 1
        for k, n in given.items():
            taken[k] += n
            left -= n
    if total >= len(strata):
        for empty in [k for k in strata if taken[k] == 0]:
            donor = max(strata, key=lambda k: (taken[k], weight[k]))
            taken[donor] -= 1
            taken[empty] = 1
    return {k: n for k, n in taken.items() if n}


def draw(
    population: Sequence[Candidate], seed: int, *, share: float | None = None, count: int | None = None
) -> list[Drawn]:
    """The sample: ``share`` (0-1] of the population or ``count`` intakes, ordered by code."""
    if (share is None) == (count is None):
        raise ValueError("give a share or a count, not both")
    if share is not None and not 0 < share <= 1:
        raise ValueError(f"a share is more than 0 and at most 1, not {share}")
    if count is not None and count <= 0:
        raise ValueError(f"a count is a positive number, not {count}")
    total = count if count is not None else math.ceil((share or 0) * len(population))
    strata: dict[tuple[str, Risk], list[Candidate]] = {}
    for c in sorted(population, key=lambda c: c.code):
        strata.setdefault((c.division_code, c.risk), []).append(c)
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    drawn = []
    for key, n in sorted(allocate({k: len(v) for k, v in strata.items()}, total).items()):
        drawn += [Drawn(c.code, c.division_code, c.risk) for c in rng.sample(strata[key], n)]
    return sorted(drawn, key=lambda d: d.code)


@dataclass(frozen=True, slots=True)
class Registered:
    """What the registry said of a sampled intake when it was drawn."""

    code: str
    name: str
    owner: str
    division_code: str
    meter_id: str | None
    meter_serial: str | None
    closed_findings: tuple[tuple[int, str], ...]  # (id, problem) closed in the last 90 days


@dataclass(frozen=True, slots=True)
class Inspection:
    """What the inspector found. ``meter_serial``: the serial on the meter found, None for no meter."""

    exists: bool
    meter_serial: str | None = None
    rectification_real: bool | None = None  # asked where a finding was closed recently
    photos: tuple[str, ...] = ()
    notes: str = ""

    def __post_init__(self) -> None:
        if not self.exists and (self.meter_serial is not None or self.rectification_real is not None):
            raise ValueError("an intake that does not exist has no meter and no rectification to judge")


def meter_as_registered(registered: Registered, found: Inspection) -> bool | None:
    """Whether the meter on the ground is the registered one (None: nothing to compare)."""
    if not found.exists:
        return None
    if registered.meter_id is None and found.meter_serial is None:
        return True
    if registered.meter_serial is None or found.meter_serial is None:
        return False
    return normal_name(registered.meter_serial) == normal_name(found.meter_serial)


def contradictions(
    spot_check: int, registered: Registered, found: Inspection, day: str
) -> list[CampaignFinding]:
    """The findings an inspection raises: what it saw that the registry or the ledger contradicts."""
    made = []

    def finding(rule: str, problem: ProblemType, description: str, **evidence: str | int) -> None:
        made.append(
            CampaignFinding(
                rule,
                problem,
                Severity.ALERT,
                registered.division_code,
                f"intake:{registered.code}",
                f"监督检查（第{spot_check}号, {day}）: {description}",
                {"spot_check": spot_check, "inspected_on": day, "name": registered.name, **evidence},
                intake_code=registered.code,
            )
        )

    if not found.exists:
        finding("inspection_not_found", ProblemType.REGISTRATION, "登记的取水口现场不存在")
        return made
    if meter_as_registered(registered, found) is False:
        finding(
            "inspection_meter_mismatch",
            ProblemType.REGISTRATION,
            f"现场计量设施（编号 {found.meter_serial or '无'}）"
            f"与登记（{registered.meter_serial or '无'}）不符",
            registered_serial=registered.meter_serial or "",
            found_serial=found.meter_serial or "",
        )
    if found.rectification_real is False and registered.closed_findings:
        ids = ", ".join(str(i) for i, _ in registered.closed_findings)
        finding(
            "inspection_rectification",
            ProblemType(registered.closed_findings[0][1]),
            f"已销号问题（{ids}）现场核查整改不到位",
            closed_findings=ids,
        )
    return made


def _ids(value: object) -> Sequence[object]:
    return value if isinstance(value, list | tuple) else ()


def summarize(items: Sequence[Mapping[str, object]]) -> dict[str, int]:
    """The sample's results: drawn, assigned, inspected, and what the inspections contradicted."""
    inspected = [i for i in items if i.get("found") is not None]
    return {
        "drawn": len(items),
        "assigned": sum(1 for i in items if i.get("inspector")),
        "inspected": len(inspected),
        "not_found": sum(1 for i in inspected if i["found"] is False),
        "meter_not_as_registered": sum(1 for i in inspected if i.get("meter_as_registered") is False),
        "rectification_not_real": sum(1 for i in inspected if i.get("rectification_real") is False),
        "findings_raised": sum(len(_ids(i.get("findings"))) for i in inspected),
    }
