"""Checking the registry against a reference list (漏报 and 信息不实), pure.

For every entry of a list: is there a registered intake for it (by unified social credit code, by
owner or name, or within a distance of its coordinates)? None is a likely omission (应登未登). For a
permit ledger (取水许可台账) also: does any intake reference the permit? None is a permit no intake
references. Where an entry is matched, the fields both sides hold are compared: the owner and credit
code of the intakes, and the permit's volume and validity. Each becomes a finding a person closes
(销号) once the registry is put right; the same subject found again updates the open finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from anomaly.findings import CampaignFinding, ProblemType, Severity
from devices.duplicates import distance_m, normal_name
from devices.references import KIND_LABELS, ListKind, ReferenceEntry

DEFAULT_NEAR_M = 200.0  # an entry with coordinates is registered if an intake lies this close


@dataclass(frozen=True, slots=True)
class IntakeOnFile:
    code: str
    name: str
    owner: str
    credit_code: str | None
    permit_no: str | None
    division_code: str | None
    longitude: float
    latitude: float


@dataclass(frozen=True, slots=True)
class PermitOnFile:
    permit_no: str
    valid_from: date
    valid_to: date
    annual_volume_m3: Decimal


@dataclass(frozen=True, slots=True)
class Omission:
    """An entry no registered intake answers to."""

    entry: ReferenceEntry


@dataclass(frozen=True, slots=True)
class UnreferencedPermit:
    """A permit of the ledger that no intake names; ``holders``: intakes of its holder, if any."""

    entry: ReferenceEntry
    holders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A field the registry and the list hold differently: of an intake, or of a permit."""

    entry: ReferenceEntry
    field: str  # owner, credit_code, annual_volume, valid_from, valid_to
    ours: str
    theirs: str
    intake_code: str | None = None
    permit_no: str | None = None


@dataclass
class Reconciliation:
    kind: ListKind
    entries: int = 0
    matched: int = 0
    omissions: list[Omission] = field(default_factory=list)
    unreferenced: list[UnreferencedPermit] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)


FIELD_LABELS = {
    "owner": "取水单位名称",
    "credit_code": "统一社会信用代码",
    "annual_volume": "许可水量",
    "valid_from": "有效期起",
    "valid_to": "有效期止",
}


_CELL_DEGREES = 0.01  # the place index's cell: about 1.1 km north-south, 0.8 km east-west here


class _Index:
    """The registry indexed by credit code, owner, name and place, so a list of thousands of entries
    is not compared with every intake."""

    def __init__(self, intakes: Sequence[IntakeOnFile]) -> None:
        self.keys: dict[str, list[IntakeOnFile]] = {}
        self.cells: dict[tuple[int, int], list[IntakeOnFile]] = {}
        for i in intakes:
            keys = {f"owner:{normal_name(i.owner)}", f"name:{normal_name(i.name)}"}
            if i.credit_code:
                keys.add(f"code:{normal_name(i.credit_code)}")
            for key in keys:
                self.keys.setdefault(key, []).append(i)
            self.cells.setdefault(self._cell(i.longitude, i.latitude), []).append(i)

    @staticmethod
    def _cell(lon: float, lat: float) -> tuple[int, int]:
        return (int(lon // _CELL_DEGREES), int(lat // _CELL_DEGREES))

    def matches(self, entry: ReferenceEntry, near_m: float) -> list[IntakeOnFile]:
        """Intakes with the entry's credit code, owner or name, or within ``near_m`` of its place."""
        keys = []
        if entry.credit_code:
            keys.append(f"code:{entry.credit_code}")
        if entry.owner:
            keys.append(f"owner:{normal_name(entry.owner)}")
        if entry.name:
            keys.append(f"name:{normal_name(entry.name)}")
        found = {i.code: i for key in keys if key.split(":", 1)[1] for i in self.keys.get(key, [])}
        if entry.longitude is not None and entry.latitude is not None and near_m >= 0:
            reach = int(near_m / 700) + 1  # cells to look at around the entry's own
            x, y = self._cell(entry.longitude, entry.latitude)
            for dx in range(-reach, reach + 1):
                for dy in range(-reach, reach + 1):
                    for i in self.cells.get((x + dx, y + dy), []):
                        if distance_m(entry.longitude, entry.latitude, i.longitude, i.latitude) <= near_m:
                            found[i.code] = i
        return [found[c] for c in sorted(found)]


def _intake_fields(entry: ReferenceEntry, intake: IntakeOnFile) -> Iterable[Mismatch]:
    same_code = bool(
        entry.credit_code and intake.credit_code and normal_name(intake.credit_code) == entry.credit_code
    )
    same_owner = bool(entry.owner and normal_name(entry.owner) == normal_name(intake.owner))
    # the owner differs under the same credit code (or the permit's holder); the code differs under
    # the same owner (or the permit's holder)
    if entry.owner and not same_owner and (same_code or entry.permit_no):
        yield Mismatch(entry, "owner", intake.owner, entry.owner, intake_code=intake.code)
    if entry.credit_code and intake.credit_code and not same_code and (same_owner or entry.permit_no):
        yield Mismatch(entry, "credit_code", intake.credit_code, entry.credit_code, intake_code=intake.code)


def _permit_fields(entry: ReferenceEntry, permit: PermitOnFile) -> Iterable[Mismatch]:
    if entry.permitted_m3 is not None and entry.permitted_m3 != permit.annual_volume_m3:
        yield Mismatch(
            entry,
            "annual_volume",
            f"{permit.annual_volume_m3} m³",
            f"{entry.permitted_m3} m³",
            permit_no=permit.permit_no,
        )
    for name, ours, theirs in (
        ("valid_from", permit.valid_from, entry.valid_from),
        ("valid_to", permit.valid_to, entry.valid_to),
    ):
        if theirs is not None and theirs != ours:
            yield Mismatch(entry, name, ours.isoformat(), theirs.isoformat(), permit_no=permit.permit_no)


def reconcile(
    kind: ListKind,
    entries: Sequence[ReferenceEntry],
    intakes: Sequence[IntakeOnFile],
    permits: Mapping[str, PermitOnFile],
    near_m: float = DEFAULT_NEAR_M,
) -> Reconciliation:
    """What the list says the registry lacks or holds differently; entries in list order."""
    result = Reconciliation(kind, entries=len(entries))
    index = _Index(intakes)
    by_permit: dict[str, list[IntakeOnFile]] = {}
    for i in intakes:
        if i.permit_no:
            by_permit.setdefault(i.permit_no, []).append(i)
    for entry in entries:
        if kind is ListKind.PERMIT_LEDGER:
            assert entry.permit_no is not None  # required for the kind
            citing = by_permit.get(entry.permit_no, [])
            if not citing:
                holders = tuple(i.code for i in index.matches(entry, near_m=-1))
                result.unreferenced.append(UnreferencedPermit(entry, holders))
                continue
            result.matched += 1
            for intake in citing:
                result.mismatches.extend(_intake_fields(entry, intake))
            if entry.permit_no in permits:
                result.mismatches.extend(_permit_fields(entry, permits[entry.permit_no]))
            continue
        found = index.matches(entry, near_m)
        if not found:
            result.omissions.append(Omission(entry))
            continue
        result.matched += 1
        for intake in found:
            result.mismatches.extend(_intake_fields(entry, intake))
    return result


def entry_subject(kind: ListKind, entry: ReferenceEntry) -> str:
    """A list entry's identity across imports of its list: the credit code, else owner and name."""
    if entry.credit_code:
        return f"{kind}:credit:{entry.credit_code}"
    return f"{kind}:name:{normal_name(entry.owner or '')}|{normal_name(entry.name or '')}"


def _evidence(entry: ReferenceEntry, label: str) -> dict[str, str | int | float]:
    found: dict[str, str | int | float] = {
        "list": label,
        "row": entry.row,
        "name": entry.name or entry.owner or "",
    }
    found["owner"] = entry.owner or ""
    for key in ("credit_code", "permit_no", "township"):
        value = getattr(entry, key)
        if value:
            found[key] = value
    if entry.longitude is not None and entry.latitude is not None:
        found["longitude"], found["latitude"] = entry.longitude, entry.latitude
    return found


def findings_of(result: Reconciliation, list_label: str) -> list[CampaignFinding]:
    """The ledger's findings for a reconciliation, one per subject (an intake's mismatched fields
    together, a permit's together)."""
    label = list_label or KIND_LABELS[result.kind]
    made: dict[tuple[str, str, str], CampaignFinding] = {}
    for o in result.omissions:
        e = o.entry
        subject = entry_subject(result.kind, e)
        made.setdefault(
            (e.division_code, "reference_unregistered", subject),
            CampaignFinding(
                "reference_unregistered",
                ProblemType.UNREGISTERED,
                Severity.ALERT,
                e.division_code,
                subject,
                f"疑似应登未登: {label}第{e.row}行「{e.label}」无对应的已登记取水口",
                _evidence(e, label),
            ),
        )
    for u in result.unreferenced:
        e = u.entry
        holders = f"; 取水权人已登记取水口 {', '.join(u.holders)} 未关联该许可证" if u.holders else ""
        made.setdefault(
            (e.division_code, "permit_unreferenced", f"permit:{e.permit_no}"),
            CampaignFinding(
                "permit_unreferenced",
                ProblemType.UNREGISTERED,
                Severity.ALERT,
                e.division_code,
                f"permit:{e.permit_no}",
                f"取水许可证 {e.permit_no}（{e.owner}）在{label}中, 但没有取水口关联该许可证{holders}",
                {**_evidence(e, label), "holders": ", ".join(u.holders)},
                permit_no=e.permit_no,
            ),
        )
    grouped: dict[tuple[str | None, str | None], list[Mismatch]] = {}
    for m in result.mismatches:
        grouped.setdefault((m.intake_code, m.permit_no), []).append(m)
    for (intake, permit), found in grouped.items():
        e = found[0].entry
        said = "; ".join(f"{FIELD_LABELS[m.field]}: 登记 {m.ours}, {label} {m.theirs}" for m in found)
        evidence = {**_evidence(e, label), **{f"{m.field}.ours": m.ours for m in found}}
        evidence.update({f"{m.field}.theirs": m.theirs for m in found})
        rule = "reference_mismatch" if intake else "permit_mismatch"
        subject = f"intake:{intake}" if intake else f"permit:{permit}"
        made.setdefault(
            (e.division_code, rule, subject),
            CampaignFinding(
                rule,
                ProblemType.REGISTRATION,
                Severity.WARNING,
                e.division_code,
                subject,
                f"登记信息与{label}不一致: {said}",
                evidence,
                intake_code=intake,
                permit_no=permit,
            ),
        )
    return list(made.values())


GAP_LABELS = {"unregistered": "应登未登", "permit_unreferenced": "许可未关联取水口", "mismatch": "信息不一致"}
REPORT_COLUMNS = [
    "gap",
    "row",
    "name",
    "owner",
    "credit_code",
    "permit_no",
    "intake_code",
    "field",
    "ours",
    "theirs",
]


def report_rows(result: Reconciliation) -> list[dict[str, object]]:
    """The check as a table a person works through: each gap with the row of the list it comes from."""

    def row(gap: str, e: ReferenceEntry, **more: str | None) -> dict[str, object]:
        base: dict[str, object] = {"gap": gap, "row": e.row, "name": e.name, "owner": e.owner}
        base.update(credit_code=e.credit_code, permit_no=e.permit_no)
        return {**base, "intake_code": None, "field": None, "ours": None, "theirs": None, **more}

    rows = [row("unregistered", o.entry) for o in result.omissions]
    rows += [
        row("permit_unreferenced", u.entry, intake_code=", ".join(u.holders) or None)
        for u in result.unreferenced
    ]
    rows += [
        row("mismatch", m.entry, intake_code=m.intake_code, field=m.field, ours=m.ours, theirs=m.theirs)
        for m in result.mismatches
    ]
    return rows


def summary(result: Reconciliation) -> str:
    return (
        f"{result.entries} entries: {result.matched} matched, {len(result.omissions)} with no intake "
        f"(应登未登), {len(result.unreferenced)} permit(s) no intake references, "
        f"{len(result.mismatches)} field(s) that disagree"
    )
