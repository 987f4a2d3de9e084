"""Reading reference lists: each kind's columns (ignoring spaces and full-width brackets), the division
of every entry, and a bad list refused whole with every row and reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from devices.divisions import Division, Divisions
from devices.references import ListKind, ReferenceRejected, map_headers, read_entries

DIVISIONS = Divisions(
    [
        Division("210000", "辽宁省", None, "gb2260"),
        Division("211300", "朝阳市", None, "gb2260"),
        Division("211381", "北票市", None, "gb2260"),
        Division("211382", "凌源市", None, "gb2260"),
    ]
)
LEDGER = [
    "取水许可证编号",
    "取水权人名称",
    "统一社会信用代码",
    "许可水量（万m3）",
    "有效期起",
    "有效期止",
    "所在县区",
]


def test_a_permit_ledger_is_read_with_volumes_in_cubic_metres_and_its_counties() -> None:
    rows: list[tuple[int, list[object]]] = [
        (2, ["P-1", "甲厂", "91211381MA0000001X", "12.5", "2024-01-01", "2028-12-31", "北票市"]),
        (3, ["P-2", "乙村", "", 3, date(2023, 5, 1), "2027/4/30", "凌源市"]),
    ]
    first, second = read_entries(ListKind.PERMIT_LEDGER, LEDGER, rows, DIVISIONS, None)
    assert (first.permit_no, first.owner, first.permitted_m3, first.division_code) == (
        "P-1", "甲厂", Decimal("125000.0"), "211381",
    )  # fmt: skip
    assert (second.credit_code, second.valid_from, second.valid_to, second.division_code) == (
        None, date(2023, 5, 1), date(2027, 4, 30), "211382",
    )  # fmt: skip
    assert first.cells["取水权人名称"] == "甲厂"


def test_without_a_county_column_the_entries_are_the_importing_countys() -> None:
    headers = ["企业名称", "统一社会信用代码"]
    [entry] = read_entries(ListKind.ENTERPRISES, headers, [(2, ["丙公司", None])], DIVISIONS, "211381")
    assert entry.division_code == "211381" and entry.owner == "丙公司"
    with pytest.raises(ReferenceRejected, match="not imported by a county"):
        read_entries(ListKind.ENTERPRISES, headers, [(2, ["丙公司", None])], DIVISIONS, "211300")


def test_a_missing_column_is_named() -> None:
    with pytest.raises(ReferenceRejected) as refused:
        map_headers(ListKind.CENSUS, ["取水口名称", "取水单位名称", "经度"])
    assert refused.value.problems == ["no column '纬度': a 水利普查取水口 needs it"]
    with pytest.raises(ReferenceRejected, match="already given"):
        map_headers(ListKind.ENTERPRISES, ["企业名称", "企业 名称"])


def test_every_bad_row_is_refused_with_its_number_and_reason() -> None:
    rows = [
        (2, ["P-1", "甲厂", "", "12", "2024-01-01", "2028-12-31", "北票市"]),  # good
        (3, ["P-2", "", "", "12", "2024-01-01", "2028-12-31", "北票市"]),
        (4, ["P-3", "丙", "not-a-code", "12", "2024-01-01", "2028-12-31", "北票市"]),
        (5, ["P-4", "丁", "", "lots", "2024-01-01", "2028-12-31", "北票市"]),
        (6, ["P-5", "戊", "", "1", "2024-13-01", "2028-12-31", "北票市"]),
        (7, ["P-6", "己", "", "1", "2029-01-01", "2028-12-31", "北票市"]),
        (8, ["P-7", "庚", "", "1", "2024-01-01", "2028-12-31", "北京市"]),
        (9, ["P-8", "辛", "", "-1", "2024-01-01", "2028-12-31", "北票市"]),
    ]
    with pytest.raises(ReferenceRejected) as refused:
        read_entries(ListKind.PERMIT_LEDGER, LEDGER, rows, DIVISIONS, None)
    problems = refused.value.problems
    assert [p.split(":")[0] for p in problems] == [f"row {n}" for n in range(3, 10)]
    for says in (
        "empty 取水权人名称",
        "not 18 letters",
        "not a number",
        "not a date",
        "before",
        "北京市",
        "-1",
    ):
        assert any(says in p for p in problems), says


def test_coordinates_come_in_pairs_inside_china() -> None:
    headers = ["取水口名称", "取水单位名称", "经度", "纬度"]
    with pytest.raises(ReferenceRejected, match="not in China"):
        read_entries(ListKind.CENSUS, headers, [(2, ["井", "甲", "10", "41"])], DIVISIONS, "211381")
    with pytest.raises(ReferenceRejected, match="empty 纬度"):
        read_entries(ListKind.CENSUS, headers, [(2, ["井", "甲", "120", ""])], DIVISIONS, "211381")
