"""The registry against a reference list, pure: planted omissions and mismatches are found, and
nothing else; the findings are one per subject."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from anomaly.findings import ProblemType
from anomaly.reconcile import IntakeOnFile, PermitOnFile, _Index, findings_of, reconcile
from devices.duplicates import distance_m
from devices.references import ListKind, ReferenceEntry

INTAKES = [
    IntakeOnFile("I1", "甲厂取水口", "甲厂", "91211381MA00000011", "P-1", "211381", 120.50, 41.50),
    IntakeOnFile("I2", "甲厂二号井", "甲厂", "91211381MA00000011", "P-1", "211381", 120.51, 41.50),
    IntakeOnFile("I3", "乙村机井", "乙村民委员会", None, "P-2", "211381", 120.60, 41.60),
    IntakeOnFile("I4", "丙厂取水口", "丙厂", "91211381MA00000033", None, "211381", 120.70, 41.70),
]
PERMITS = {
    "P-1": PermitOnFile("P-1", date(2024, 1, 1), date(2028, 12, 31), Decimal(100_000)),
    "P-2": PermitOnFile("P-2", date(2023, 1, 1), date(2027, 12, 31), Decimal(20_000)),
}


def _ledger(
    row: int, permit: str, owner: str, m3: int, valid_to: date, credit_code: str | None = None
) -> ReferenceEntry:
    valid_from = date(2024, 1, 1) if permit == "P-1" else date(2023, 1, 1)
    return ReferenceEntry(row, "211381", owner=owner, credit_code=credit_code, permit_no=permit,
                          permitted_m3=Decimal(m3), valid_from=valid_from, valid_to=valid_to)  # fmt: skip


def test_a_ledger_that_agrees_raises_nothing() -> None:
    entries = [
        _ledger(2, "P-1", "甲厂", 100_000, date(2028, 12, 31), credit_code="91211381MA00000011"),
        _ledger(3, "P-2", "乙村民委员会", 20_000, date(2027, 12, 31)),
    ]
    result = reconcile(ListKind.PERMIT_LEDGER, entries, INTAKES, PERMITS)
    assert (result.matched, result.omissions, result.unreferenced, result.mismatches) == (2, [], [], [])
    assert findings_of(result, "台账") == []


def test_a_ledgers_planted_gaps_are_found_and_nothing_else() -> None:
    entries = [
        _ledger(2, "P-1", "甲厂", 120_000, date(2029, 6, 30), credit_code="91211381MA00000011"),
        _ledger(3, "P-2", "乙村委会", 20_000, date(2027, 12, 31)),  # the holder's name differs
        _ledger(
            4, "P-9", "丙厂", 5_000, date(2030, 1, 1), credit_code="91211381MA00000033"
        ),  # nobody cites it
        _ledger(5, "P-8", "丁厂", 5_000, date(2030, 1, 1)),  # nobody cites it, no intake of its holder
    ]
    result = reconcile(ListKind.PERMIT_LEDGER, entries, INTAKES, PERMITS)
    assert {(m.intake_code, m.permit_no, m.field, m.ours, m.theirs) for m in result.mismatches} == {
        (None, "P-1", "annual_volume", "100000 m³", "120000 m³"),
        (None, "P-1", "valid_to", "2028-12-31", "2029-06-30"),
        ("I3", None, "owner", "乙村民委员会", "乙村委会"),
    }
    assert [(u.entry.permit_no, u.holders) for u in result.unreferenced] == [("P-9", ("I4",)), ("P-8", ())]
    found = {(f.rule, f.subject, f.problem) for f in findings_of(result, "台账")}
    assert found == {
        ("permit_mismatch", "permit:P-1", ProblemType.REGISTRATION),  # both fields in one finding
        ("reference_mismatch", "intake:I3", ProblemType.REGISTRATION),
        ("permit_unreferenced", "permit:P-9", ProblemType.UNREGISTERED),
        ("permit_unreferenced", "permit:P-8", ProblemType.UNREGISTERED),
    }


def test_a_lists_entries_without_an_intake_are_omissions_by_code_name_and_place() -> None:
    entries = [
        ReferenceEntry(2, "211381", owner="甲 厂"),  # by owner name (spaces aside)
        ReferenceEntry(3, "211381", owner="丙厂新名", credit_code="91211381MA00000033"),  # code, renamed
        ReferenceEntry(4, "211381", name="某灌区", owner="戊", longitude=120.6005, latitude=41.6),  # ~40 m
        ReferenceEntry(5, "211381", name="新厂", owner="己厂", longitude=120.9, latitude=41.9),  # nothing
        ReferenceEntry(6, "211381", owner="庚厂", credit_code="91211381MA00000077"),  # nothing
    ]
    result = reconcile(ListKind.ENTERPRISES, entries, INTAKES, PERMITS)
    assert [o.entry.row for o in result.omissions] == [5, 6]
    assert [(m.intake_code, m.field) for m in result.mismatches] == [("I4", "owner")]
    made = findings_of(result, "企业名录")
    unregistered = sorted(f.subject for f in made if f.problem is ProblemType.UNREGISTERED)
    assert unregistered == ["enterprises:credit:91211381MA00000077", "enterprises:name:己厂|新厂"]
    assert all(
        f.intake_code is None and f.division_code == "211381" for f in made if f.rule != "reference_mismatch"
    )
    assert reconcile(ListKind.ENTERPRISES, entries[2:3], INTAKES, PERMITS, near_m=10).omissions  # closer


OFFSET = st.floats(-0.02, 0.02)


@given(
    st.lists(
        st.tuples(st.floats(-0.02, 0.02), st.floats(-0.02, 0.02), st.sampled_from(["甲厂", "乙厂"])),
        max_size=20,
    ),
    OFFSET,
    OFFSET,
    st.sampled_from([50.0, 200.0, 1500.0]),
)
def test_the_index_finds_what_comparing_every_intake_finds(
    places: list[tuple[float, float, str]], dx: float, dy: float, near_m: float
) -> None:
    intakes = [
        IntakeOnFile(f"K{n}", f"井{n}", owner, None, None, "211381", 120.5 + x, 41.5 + y)
        for n, (x, y, owner) in enumerate(places)
    ]
    entry = ReferenceEntry(2, "211381", name="某井", owner="乙厂", longitude=120.5 + dx, latitude=41.5 + dy)
    brute = sorted(
        i.code
        for i in intakes
        if i.owner == "乙厂"
        or distance_m(entry.longitude or 0, entry.latitude or 0, i.longitude, i.latitude) <= near_m
    )
    assert [i.code for i in _Index(intakes).matches(entry, near_m)] == brute
