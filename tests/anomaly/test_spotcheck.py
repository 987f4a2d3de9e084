"""Spot-check samples and inspections, pure: the same seed draws the same sample, strata get their
weighted share, and an inspection raises exactly what it contradicts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from anomaly.findings import ProblemType
from anomaly.spotcheck import Candidate, Inspection, Registered, Risk, allocate, contradictions, draw

POPULATION = [
    Candidate(f"{county}-{risk}-{n:03d}", county, risk)
    for county, sizes in (("211381", {Risk.NONE: 60, Risk.NO_METER: 10, Risk.OVER_PERMIT: 4}),
                          ("211382", {Risk.NONE: 20, Risk.CLOSED_RECENTLY: 6}))
    for risk, size in sizes.items()
    for n in range(size)
]  # fmt: skip


def test_the_same_seed_draws_the_same_sample_and_another_seed_another() -> None:
    one = draw(POPULATION, 42, count=20)
    assert one == draw(list(reversed(POPULATION)), 42, count=20)  # the order it is read in does not matter
    assert [d.code for d in one] != [d.code for d in draw(POPULATION, 43, count=20)]
    assert len({d.code for d in one}) == 20


def test_every_stratum_is_drawn_and_risk_counts_twice() -> None:
    sizes = {("211381", Risk.NONE): 60, ("211381", Risk.NO_METER): 10, ("211381", Risk.OVER_PERMIT): 4,
             ("211382", Risk.NONE): 20, ("211382", Risk.CLOSED_RECENTLY): 6}  # fmt: skip
    got = allocate(sizes, 20)
    assert sum(got.values()) == 20 and set(got) == set(sizes)
    # by weight: 60, 20, 8, 20, 12 of 120 -> 10, 3.3, 1.3, 3.3, 2
    assert got == {("211381", Risk.NONE): 10, ("211381", Risk.NO_METER): 4, ("211381", Risk.OVER_PERMIT): 1,
                   ("211382", Risk.NONE): 3, ("211382", Risk.CLOSED_RECENTLY): 2}  # fmt: skip
    drawn = draw(POPULATION, 7, share=0.1)
    assert len(drawn) == 10  # ceil(0.1 × 100)
    assert {d.risk for d in drawn} == set(Risk)


@given(st.dictionaries(st.tuples(st.sampled_from("ABC"), st.sampled_from(list(Risk))), st.integers(0, 30)),
       st.integers(1, 120))  # fmt: skip
def test_an_allocation_adds_up_and_never_exceeds_a_stratum(
    sizes: dict[tuple[str, Risk], int], total: int
) -> None:
    got = allocate(sizes, total)
    assert sum(got.values()) == min(total, sum(sizes.values()))
    assert all(0 < n <= sizes[k] for k, n in got.items())
    if total >= sum(1 for n in sizes.values() if n):
        assert set(got) == {k for k, n in sizes.items() if n}


REGISTERED = Registered("I1", "一号井", "甲村", "211381", "M1", "SN-001", ((17, "metering"),))


def test_an_inspection_raises_what_it_contradicts_and_nothing_else() -> None:
    assert contradictions(1, REGISTERED, Inspection(True, "sn 001", True), "2026-12-01") == []
    [gone] = contradictions(1, REGISTERED, Inspection(False), "2026-12-01")
    assert (gone.rule, gone.problem, gone.intake_code) == (
        "inspection_not_found",
        ProblemType.REGISTRATION,
        "I1",
    )
    other = contradictions(1, REGISTERED, Inspection(True, "SN-999", False), "2026-12-01")
    assert [(f.rule, f.problem) for f in other] == [
        ("inspection_meter_mismatch", ProblemType.REGISTRATION),
        ("inspection_rectification", ProblemType.METERING),  # the closed finding's problem
    ]
    assert "SN-999" in other[0].description and "17" in other[1].description
    unmetered = Registered("I2", "二号井", "乙村", "211381", None, None, ())
    assert contradictions(1, unmetered, Inspection(True, None), "2026-12-01") == []
    assert [f.rule for f in contradictions(1, unmetered, Inspection(True, "X1"), "2026-12-01")] == [
        "inspection_meter_mismatch"
    ]
