"""Administrative divisions (行政区划): province → city → county by GB/T 2260 code. Pure.

A county-level unit (县, 县级市, 区, and development zones under their city, kind ``zone``) is where an
intake is registered; a user's division (a county, a city, a province, or all) is what they see. The
code says the level and the parent: ``210000`` a province, ``211300`` a city, ``211321`` a county.
What lies inside a division is decided in one place, the database's ``in_scope()`` (migration 0017).

Forms name a county by its name, its short form (喀左县 for 喀喇沁左翼蒙古族自治县) or its name after its
city's (鞍山市铁西区, where two cities have a 铁西区); :meth:`Divisions.resolve` turns that into a
code or says why it cannot, with the candidates.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from devices.errors import InvalidValue


class Level(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"


def check_division_code(code: str) -> str:
    if len(code) != 6 or not code.isdigit() or code[0] == "0":
        raise InvalidValue(f"division code {code!r} is not six digits (GB/T 2260, e.g. 211321)")
    return code


def level_of(code: str) -> Level:
    """What the code's shape says: ``XX0000`` a province, ``XXXX00`` a city, else a county."""
    check_division_code(code)
    if code.endswith("0000"):
        return Level.PROVINCE
    return Level.CITY if code.endswith("00") else Level.COUNTY


def parent_of(code: str) -> str | None:
    level = level_of(code)
    if level is Level.PROVINCE:
        return None
    return code[:2] + "0000" if level is Level.CITY else code[:4] + "00"


def common_division(codes: Iterable[str | None]) -> str | None:
    """The smallest division holding every one of ``codes`` (a county, their city, their province);
    None when one is unknown or they lie in different provinces."""
    found = list(codes)
    if not found or any(c is None for c in found):
        return None
    ancestry = [_ancestry(c) for c in found if c is not None]
    shared = [c for c in ancestry[0] if all(c in line for line in ancestry[1:])]
    return shared[0] if shared else None


def _ancestry(code: str) -> list[str]:
    line: list[str] = []
    current: str | None = code
    while current is not None:
        line.append(current)
        current = parent_of(current)
    return line


@dataclass(frozen=True, slots=True)
class Division:
    code: str
    name: str
    short_name: str | None = None
    kind: str = "gb2260"  # or "zone": a development zone, a code of our scheme

    def __post_init__(self) -> None:
        check_division_code(self.code)
        if not self.name.strip():
            raise InvalidValue(f"division {self.code} has no name")
        if self.kind not in ("gb2260", "zone"):
            raise InvalidValue(f"division {self.code}: kind {self.kind!r} is not gb2260 or zone")
        if self.kind == "zone" and self.level is not Level.COUNTY:
            raise InvalidValue(f"division {self.code}: a development zone is a county-level unit")

    @property
    def level(self) -> Level:
        return level_of(self.code)

    @property
    def parent_code(self) -> str | None:
        return parent_of(self.code)


class UnknownDivision(InvalidValue):
    """A county the registry cannot place: unknown, ambiguous, or at odds with the code given."""


class Divisions:
    """The division directory: what a form's county means, and each division's name."""

    def __init__(self, divisions: Iterable[Division]) -> None:
        self.by_code = {d.code: d for d in divisions}
        self._by_name: dict[str, set[str]] = {}
        for d in self.by_code.values():
            if d.level is not Level.COUNTY:
                continue
            for name in self._names(d):
                self._by_name.setdefault(name, set()).add(d.code)

    def _names(self, d: Division) -> set[str]:
        names = {d.name, *([d.short_name] if d.short_name else [])}
        city = self.by_code.get(d.parent_code or "")
        if city is not None:
            names |= {city.name + n for n in list(names)}
            province = self.by_code.get(city.parent_code or "")
            if province is not None:
                names |= {province.name + city.name + n for n in (d.name, d.short_name) if n}
        return names

    def label(self, code: str) -> str:
        """``211324 喀喇沁左翼蒙古族自治县`` (with its city for a county)."""
        d = self.by_code.get(code)
        if d is None:
            return code
        city = self.by_code.get(d.parent_code or "") if d.level is Level.COUNTY else None
        return f"{code} {city.name if city else ''}{d.name}"

    def resolve(self, county: str, code: str | None = None) -> str:
        """The county-level unit a form's county (and, if given, its 行政区划代码) names."""
        text = county.strip().replace(" ", "")
        if code is not None:
            d = self.by_code.get(code)
            if d is None:
                raise UnknownDivision(f"division code {code} is not a known division (intake divisions list)")
            if d.level is not Level.COUNTY:
                raise UnknownDivision(f"division code {code} is a {d.level}, not a county-level unit")
            if text and code not in self._by_name.get(text, set()):
                raise UnknownDivision(f"county {county!r} is not {self.label(code)}")
            return code
        found = sorted(self._by_name.get(text, set()))
        if len(found) == 1:
            return found[0]
        if found:
            names = ", ".join(self.label(c) for c in found)
            raise UnknownDivision(
                f"county {county!r} is ambiguous: {names}; write the city before it "
                f"({self._qualified(found[0])}) or give the 行政区划代码"
            )
        near = sorted({c for name, codes in self._by_name.items() if text and text in name for c in codes})
        hint = f"; did you mean {', '.join(self.label(c) for c in near[:5])}?" if near else ""
        raise UnknownDivision(f"county {county!r} is no known county-level unit{hint}")

    def _qualified(self, code: str) -> str:
        d = self.by_code[code]
        city = self.by_code.get(d.parent_code or "")
        return (city.name if city else "") + d.name


CSV_HEADER = ["code", "name", "short_name", "kind"]


def read_csv(text: str, source: str, known: Divisions) -> list[Division]:
    """Divisions from ``code,name,short_name,kind`` rows, parents first (a parent must be in the rows
    or already ``known``); raises :class:`InvalidValue` naming every bad line."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows or [h.strip() for h in rows[0]] != CSV_HEADER:
        raise InvalidValue(f"{source}: the first line must be {','.join(CSV_HEADER)}")
    out: list[Division] = []
    problems: list[str] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = [c.strip() for c in row] + [""] * (4 - len(row))
        if len(row) > 4:
            problems.append(f"{source} line {line}: {len(row)} cells, expected {len(CSV_HEADER)}")
            continue
        code, name, short_name, kind = cells[:4]
        try:
            out.append(Division(code, name, short_name or None, kind or "gb2260"))
        except InvalidValue as exc:
            problems.append(f"{source} line {line}: {exc}")
    codes = {d.code for d in out} | set(known.by_code)
    for d in out:
        if d.parent_code is not None and d.parent_code not in codes:
            problems.append(
                f"{source}: division {d.code} {d.name} has no parent {d.parent_code} in the file or known"
            )
    if len({d.code for d in out}) != len(out):
        problems.append(f"{source}: a code is given twice")
    if problems:
        raise InvalidValue("; ".join(problems))
    return sorted(out, key=lambda d: (d.level is not Level.PROVINCE, d.level is Level.COUNTY, d.code))
