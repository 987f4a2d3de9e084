"""Likely duplicate intakes (重报), pure: which pairs of registered intakes may be one intake, and why.

The campaign wants a registry "不重不漏": the same intake registered twice (by two people, from two
source lists, once as a well and once as its pump) is counted twice in every total. A person decides;
this module only finds candidates, each with the evidence a person needs:

- ``same_owner_near``: the same owner (unified social credit code, or the same name when either has
  no code) with intakes closer than a distance (default 100 m; irrigation wells of one village are
  usually further apart).
- ``same_serial``: the same meter serial on meters of two intakes.
- ``same_place``: the same coordinates (to about a metre) under different codes.
- ``similar_name``: near-identical names in one township of one division. Names whose numbers differ
  (张家村1号井, 张家村2号井) are different intakes, never near-identical.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import StrEnum
from itertools import combinations

DEFAULT_NEAR_M = 100.0
NAME_SIMILARITY = 0.85  # difflib ratio from which two names (with the same numbers) are near-identical
_EARTH_RADIUS_M = 6_371_008.8
_PLACE_DECIMALS = 5  # 1e-5 degrees: about 1 m
_NOT_NAME = re.compile(r"[\s\W_]+", re.UNICODE)
_DIGITS = re.compile(r"\d+")


class Reason(StrEnum):
    SAME_OWNER_NEAR = "same_owner_near"
    SAME_SERIAL = "same_serial"
    SAME_PLACE = "same_place"
    SIMILAR_NAME = "similar_name"


REASON_LABELS: dict[Reason, str] = {
    Reason.SAME_OWNER_NEAR: "同一取水单位且相距很近",
    Reason.SAME_SERIAL: "计量设施编号相同",
    Reason.SAME_PLACE: "坐标相同",
    Reason.SIMILAR_NAME: "同一乡镇内名称几乎相同",
}


@dataclass(frozen=True, slots=True)
class RegisteredIntake:
    """What the check compares of one intake."""

    code: str
    name: str
    owner: str
    credit_code: str | None
    division_code: str | None
    township: str | None
    longitude: float
    latitude: float


@dataclass(frozen=True, slots=True)
class MeterSerial:
    meter_id: str
    intake_code: str
    serial: str


@dataclass(frozen=True, slots=True)
class Evidence:
    reason: Reason
    detail: str  # what a person checks: the distance, the serial, the two names

    def as_dict(self) -> dict[str, str]:
        return {"reason": str(self.reason), "label": REASON_LABELS[self.reason], "detail": self.detail}


@dataclass(frozen=True, slots=True)
class DuplicatePair:
    """Two intakes that may be one; ``a`` < ``b`` by code, so a pair has one spelling."""

    a: str
    b: str
    evidence: tuple[Evidence, ...]

    def __post_init__(self) -> None:
        if not self.a < self.b:
            raise ValueError(f"a pair is spelled with the smaller code first: {self.a!r}, {self.b!r}")
        if not self.evidence:
            raise ValueError("a duplicate pair needs evidence")

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return tuple(e.reason for e in self.evidence)


def pair_key(one: str, other: str) -> tuple[str, str]:
    if one == other:
        raise ValueError(f"an intake is not a duplicate of itself: {one!r}")
    return (one, other) if one < other else (other, one)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine), good to well under a metre at these distances."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def normal_name(text: str) -> str:
    """A name as compared: full-width folded to half-width, no spaces or punctuation, upper case."""
    return _NOT_NAME.sub("", unicodedata.normalize("NFKC", text)).upper()


def names_alike(one: str, other: str, threshold: float = NAME_SIMILARITY) -> bool:
    a, b = normal_name(one), normal_name(other)
    return _DIGITS.findall(a) == _DIGITS.findall(b) and _similar(a, b, threshold)


def _similar(a: str, b: str, threshold: float = NAME_SIMILARITY) -> bool:
    """Two normal names (with the same numbers) near-identical."""
    if not a or not b:
        return False
    if a == b:
        return True
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return (
        matcher.real_quick_ratio() >= threshold
        and matcher.quick_ratio() >= threshold
        and matcher.ratio() >= threshold
    )


def _owner_keys(intake: RegisteredIntake) -> Iterator[str]:
    if intake.credit_code and intake.credit_code.strip():
        yield "code:" + normal_name(intake.credit_code)
    if intake.owner.strip():
        yield "name:" + normal_name(intake.owner)


def _keyed_groups(keyed: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    groups: defaultdict[str, set[str]] = defaultdict(set)
    for key, code in keyed:
        groups[key].add(code)
    return {k: sorted(g) for k, g in groups.items() if len(g) > 1}


def _groups(keyed: Iterable[tuple[str, str]]) -> Iterator[list[str]]:
    return iter(_keyed_groups(keyed).values())


def find_duplicates(
    intakes: Collection[RegisteredIntake],
    serials: Iterable[MeterSerial] = (),
    *,
    near_m: float = DEFAULT_NEAR_M,
    dismissed: Collection[tuple[str, str]] = frozenset(),
) -> list[DuplicatePair]:
    """Every pair with at least one reason, reasons in a fixed order, pairs ordered by code.

    ``dismissed`` pairs (a person decided they are two intakes) are left out. Work is grouped by owner,
    place, serial and township, so a county of tens of thousands of intakes is not compared pairwise.
    """
    if near_m < 0:
        raise ValueError(f"the distance must not be negative: {near_m}")
    by_code = {i.code: i for i in intakes}
    found: defaultdict[tuple[str, str], dict[Reason, str]] = defaultdict(dict)

    def note(one: str, other: str, reason: Reason, detail: str) -> None:
        key = pair_key(one, other)
        if key not in dismissed:
            found[key].setdefault(reason, detail)

    for group in _groups((key, i.code) for i in by_code.values() for key in _owner_keys(i)):
        for one, other in combinations(group, 2):
            x, y = by_code[one], by_code[other]
            apart = distance_m(x.longitude, x.latitude, y.longitude, y.latitude)
            if apart <= near_m:
                note(one, other, Reason.SAME_OWNER_NEAR, f"{x.owner} / {y.owner}, {apart:.0f} m apart")
    places = (
        (f"{round(i.longitude, _PLACE_DECIMALS)},{round(i.latitude, _PLACE_DECIMALS)}", i.code)
        for i in by_code.values()
    )
    for group in _groups(places):
        for one, other in combinations(group, 2):
            x = by_code[one]
            note(one, other, Reason.SAME_PLACE, f"{x.longitude:.5f}, {x.latitude:.5f}")
    serial_of: dict[str, str] = {}
    keyed_serials = []
    for m in serials:
        if m.intake_code in by_code and m.serial.strip():
            key = normal_name(m.serial)
            serial_of.setdefault(key, m.serial.strip())
            keyed_serials.append((key, m.intake_code))
    for key, codes in _keyed_groups(keyed_serials).items():
        for one, other in combinations(codes, 2):
            note(one, other, Reason.SAME_SERIAL, f"serial {serial_of[key]}")
    # Names are compared within a township and among those with the same numbers (numbered wells
    # are different wells), so a township of thousands of numbered wells compares few pairs.
    names = {code: normal_name(i.name) for code, i in by_code.items()}
    townships = (
        (f"{i.division_code}|{normal_name(i.township)}|{','.join(_DIGITS.findall(names[i.code]))}", i.code)
        for i in by_code.values()
        if i.township and normal_name(i.township)
    )
    for group in _groups(townships):
        for one, other in combinations(group, 2):
            if _similar(names[one], names[other]):
                x, y = by_code[one], by_code[other]
                note(one, other, Reason.SIMILAR_NAME, f"{x.name} / {y.name} ({x.township})")
    order = list(Reason)
    return [
        DuplicatePair(a, b, tuple(Evidence(r, reasons[r]) for r in sorted(reasons, key=order.index)))
        for (a, b), reasons in sorted(found.items())
    ]
