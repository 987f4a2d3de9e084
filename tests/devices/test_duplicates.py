"""The duplicate check's rules (重报), pure: each reason on planted pairs, and nothing else."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.duplicates import (
    DuplicatePair,
    MeterSerial,
    Reason,
    RegisteredIntake,
    distance_m,
    find_duplicates,
    names_alike,
)

BASE = RegisteredIntake("C1", "大板镇机井1号", "大板北营村民委员会", "912113XTF8H76NFHTH", "211381", "大板镇",
                        120.85571, 41.62561)  # fmt: skip


def _registry() -> list[RegisteredIntake]:
    """Six intakes that are not duplicates of each other: numbered wells of one owner 300 m apart, other
    owners, another township."""
    return [
        BASE,
        replace(BASE, code="C2", name="大板镇机井2号", longitude=BASE.longitude + 0.0036),  # ~300 m east
        replace(BASE, code="C3", name="大板镇机井3号", longitude=BASE.longitude + 0.0072),
        replace(BASE, code="C4", name="黑水镇泵站1号", owner="朝阳平制药有限公司",
                credit_code="952113NRXDCPRJEYX4", township="黑水镇", longitude=119.60057, latitude=41.53339),
        replace(BASE, code="C5", name="万元店镇机井1号", owner="梁春", credit_code=None, township="万元店镇",
                longitude=119.46649, latitude=41.43523),
        replace(BASE, code="C6", name="万元店镇机井2号", owner="梁春", credit_code=None, township="万元店镇",
                longitude=119.47649, latitude=41.43523),
    ]  # fmt: skip


def _found(pairs: list[DuplicatePair]) -> dict[tuple[str, str], set[Reason]]:
    return {(p.a, p.b): set(p.reasons) for p in pairs}


def test_a_registry_without_duplicates_has_none() -> None:
    assert find_duplicates(_registry(), [MeterSerial(f"M{n}", f"C{n}", f"SN-{n}") for n in range(1, 7)]) == []


def test_each_planted_duplicate_is_found_with_its_reason_and_nothing_else() -> None:
    registry = _registry()
    planted = [
        # the same owner (by credit code) registered the same well again, 40 m off, under another name
        replace(BASE, code="D1", name="北营村灌溉井", township="大板镇", longitude=BASE.longitude + 0.00048),
        # the same owner by name only (neither has a credit code), 20 m off
        replace(registry[4], code="D2", name="梁春家井", longitude=registry[4].longitude + 0.00024),
        # the same coordinates under another owner and name
        replace(registry[3], code="D3", name="制药厂水源井", owner="某某公司", credit_code=None),
        # the same name in the same township, written with a full-width space, another owner, 3 km away
        replace(registry[5], code="D4", name="万元店镇　机井2号", owner="别人", longitude=119.51),
        # a meter moved to another intake's registration: the same serial (case and spaces aside)
        replace(BASE, code="D5", name="别处", owner="另一单位", credit_code=None, township="黑水镇",
                longitude=121.0, latitude=42.0),
    ]  # fmt: skip
    serials = [MeterSerial(f"M{n}", f"C{n}", f"SN-{n}") for n in range(1, 7)]
    serials.append(MeterSerial("MD5", "D5", " sn-2 "))
    found = _found(find_duplicates(registry + planted, serials))
    assert found == {
        ("C1", "D1"): {Reason.SAME_OWNER_NEAR},
        ("C5", "D2"): {Reason.SAME_OWNER_NEAR},
        ("C4", "D3"): {Reason.SAME_PLACE},
        ("C6", "D4"): {Reason.SIMILAR_NAME},
        ("C2", "D5"): {Reason.SAME_SERIAL},
    }


def test_the_distance_setting_and_dismissals_decide() -> None:
    registry = _registry()
    # C1, C2, C3 are one owner's wells about 300 m apart: with 400 m they become candidates
    wide = _found(find_duplicates(registry, near_m=400))
    assert wide == {("C1", "C2"): {Reason.SAME_OWNER_NEAR}, ("C2", "C3"): {Reason.SAME_OWNER_NEAR}}
    assert 290 < distance_m(BASE.longitude, BASE.latitude, BASE.longitude + 0.0036, BASE.latitude) < 310
    kept = find_duplicates(registry, near_m=400, dismissed={("C1", "C2")})
    assert _found(kept) == {("C2", "C3"): {Reason.SAME_OWNER_NEAR}}
    with pytest.raises(ValueError, match="negative"):
        find_duplicates(registry, near_m=-1)


def test_one_pair_carries_every_reason_it_has() -> None:
    twin = replace(BASE, code="C9")
    [pair] = find_duplicates([BASE, twin], [MeterSerial("A", "C1", "X1"), MeterSerial("B", "C9", "X1")])
    assert (pair.a, pair.b) == ("C1", "C9")
    assert pair.reasons == tuple(Reason)  # same owner and near, same serial, same place, similar name
    assert all(e.detail for e in pair.evidence)


@pytest.mark.parametrize(
    ("one", "other", "alike"),
    [
        ("张家村1号机井", "张家村1号机井", True),
        ("张家村1号机井", "张家村 1号 机井", True),
        ("张家村1号机井", "张家村１号机井", True),  # a full-width digit
        ("张家村1号机井", "张家村2号机井", False),  # numbered wells are different wells
        ("张家村10号机井", "张家村11号机井", False),
        ("朝阳化工厂取水口", "朝阳化工厂取水泵站", False),
        ("朝阳市第一水厂取水口", "朝阳市第一水厂取水囗", True),  # one character mistyped
        ("", "", False),
    ],
)
def test_which_names_are_near_identical(one: str, other: str, alike: bool) -> None:
    assert names_alike(one, other) is alike


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.sampled_from(["甲", "乙"])), max_size=12))
def test_pairs_are_ordered_never_an_intake_with_itself_and_stable(cells: list[tuple[int, int, str]]) -> None:
    registry = [
        replace(BASE, code=f"K{n:02d}", name=f"井{n}", owner=owner, credit_code=None,
                longitude=BASE.longitude + x * 0.0005, latitude=BASE.latitude + y * 0.0005)
        for n, (x, y, owner) in enumerate(cells)
    ]  # fmt: skip
    pairs = find_duplicates(registry)
    assert all(p.a < p.b for p in pairs)
    assert [(p.a, p.b) for p in pairs] == sorted({(p.a, p.b) for p in pairs})
    assert pairs == find_duplicates(list(reversed(registry)))
    for p in pairs:  # every pair here is one owner within 100 m, or the same place
        x, y = (next(i for i in registry if i.code == c) for c in (p.a, p.b))
        near = distance_m(x.longitude, x.latitude, y.longitude, y.latitude)
        assert (x.owner == y.owner and near <= 100) or near < 1
