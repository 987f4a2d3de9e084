from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices import forms
from devices.errors import InvalidValue
from devices.forms import Table, label, match_header
from devices.model import CalibrationResult, ConstructionStatus, MeterType, SourceType, WaterUse


def test_wan_m3_becomes_m3() -> None:
    assert forms.read_wan_m3("12.5") == Decimal(125000)
    assert forms.read_wan_m3(0.0365) == Decimal(365)
    assert forms.read_wan_m3("1,200") == Decimal(12_000_000)


@given(st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False))
def test_wan_m3_is_exact(value: Decimal) -> None:
    assert forms.read_wan_m3(str(value)) == value * 10_000


@pytest.mark.parametrize("bad", ["-3", "abc", "NaN", "inf", True])
def test_bad_numbers_are_refused(bad: object) -> None:
    with pytest.raises(InvalidValue):
        forms.read_decimal(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01", date(2024, 3, 1)),
        ("2024/3/1", date(2024, 3, 1)),
        ("2024.03.01", date(2024, 3, 1)),
        ("2024年3月1日", date(2024, 3, 1)),
        ("20240301", date(2024, 3, 1)),
        (datetime(2024, 3, 1, 0, 0), date(2024, 3, 1)),
        ("2024-03-01 00:00:00", date(2024, 3, 1)),
    ],
)
def test_dates_in_the_ways_people_write_them(text: object, expected: date) -> None:
    assert forms.read_date(text) == expected


def test_impossible_date_says_why() -> None:
    with pytest.raises(InvalidValue, match="not a real date"):
        forms.read_date("2023-02-30")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("地表水-江河", SourceType.RIVER),
        ("地表水（江河）", SourceType.RIVER),
        ("江河", SourceType.RIVER),
        ("地表水/水库", SourceType.RESERVOIR),
        ("湖泊", SourceType.LAKE),
        ("地下水（浅层）", SourceType.SHALLOW_GROUNDWATER),
        ("深层地下水", SourceType.DEEP_GROUNDWATER),
        ("deep_groundwater", SourceType.DEEP_GROUNDWATER),
    ],
)
def test_source_types(text: str, expected: SourceType) -> None:
    assert forms.read_source_type(text) is expected


def test_unknown_source_type_lists_the_choices() -> None:
    with pytest.raises(InvalidValue, match="unknown source type; use one of 地表水-江河 / 地表水-湖泊"):
        forms.read_source_type("海水")
    with pytest.raises(InvalidValue):
        forms.read_source_type("地下水")  # shallow or deep must be said


@pytest.mark.parametrize(
    "member", [*ConstructionStatus, *SourceType, *WaterUse, *MeterType, *CalibrationResult]
)
def test_every_label_reads_back(member: object) -> None:
    readers = {
        ConstructionStatus: forms.read_status,
        SourceType: forms.read_source_type,
        WaterUse: forms.read_water_use,
        MeterType: forms.read_meter_type,
        CalibrationResult: forms.read_result,
    }
    assert readers[type(member)](label(member)) is member  # type: ignore[arg-type, index]


def test_coordinates_and_booleans() -> None:
    assert forms.read_coordinates("120.45,41.57") == (120.45, 41.57)
    assert forms.read_coordinates("120.45，41.57") == (120.45, 41.57)
    with pytest.raises(InvalidValue, match="longitude,latitude"):
        forms.read_coordinates("120.45")
    assert forms.read_bool("是") is True
    assert forms.read_bool("否") is False
    with pytest.raises(InvalidValue, match="must be 是 or 否"):
        forms.read_bool("maybe")


def test_dn_and_industry_codes() -> None:
    assert forms.read_int("DN100") == 100
    assert forms.read_industry_code("d4610") == "D4610"
    with pytest.raises(InvalidValue, match="GB/T 4754"):
        forms.read_industry_code("Z99999")


@pytest.mark.parametrize(
    ("table", "header", "field"),
    [
        (Table.PERMITS, "许可水量（万m³）", "annual_volume_m3"),
        (Table.PERMITS, "许可水量(万m3)", "annual_volume_m3"),
        (Table.PERMITS, "annual_volume_10k_m3", "annual_volume_m3"),
        (Table.INTAKES, "取水单位名称 (取水个人姓名)", "owner"),
        (Table.INTAKES, "所在行政区", "county"),
        (Table.INTAKES, " 经度 ", "longitude"),
        (Table.METERS, "口径（DN）", "dn"),
    ],
)
def test_headers_match_loosely(table: Table, header: str, field: str) -> None:
    column = match_header(table, header)
    assert column is not None and column.field == field
