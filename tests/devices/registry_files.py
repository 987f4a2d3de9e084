"""A small, hand-made registry in the form's own rows, for tests to copy and spoil."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

from devices.forms import Table
from devices.workbook import write_xlsx

GOOD: dict[Table, list[list[object]]] = {
    Table.PERMITS: [
        ["取水(辽朝JP)字[2022]第00001号", "建平县水利局", date(2022, 1, 1), date(2026, 12, 31), 12.5],
        ["取水(辽朝BP)字[2023]第00002号", "朝阳市水务局", date(2023, 6, 1), date(2028, 5, 31), 80],
    ],
    Table.INTAKES: [
        [
            "I-JP-1",
            "黑水镇机井1号",
            "黑水镇东营村民委员会",
            "54211300MJ0000001X",
            "建平县",
            "黑水镇",
            "119.71,41.52",
            "机井",
            800,
            "已建",
            "地下水-浅层",
            "建平县浅层地下水",
            "西辽河",
            "农业灌溉",
            "A0111",
            "取水(辽朝JP)字[2022]第00001号",
        ],
        [
            "I-JP-2",
            "黑水镇机井2号",
            "黑水镇东营村民委员会",
            "54211300MJ0000001X",
            "建平县",
            "黑水镇",
            "119.72,41.53",
            "机井",
            600,
            "已建",
            "地下水-浅层",
            "建平县浅层地下水",
            "西辽河",
            "农业灌溉",
            "A0111",
            "取水(辽朝JP)字[2022]第00001号",
        ],
        [
            "I-BP-1",
            "上园镇泵站1号",
            "朝阳北票钢铁有限公司",
            "91211381MA0000002Y",
            "北票市",
            "上园镇",
            "120.81,41.79",
            "泵站",
            6000,
            "已建",
            "地表水-水库",
            "白石水库",
            "大凌河及辽西沿海诸河",
            "工业",
            "C3110",
            "取水(辽朝BP)字[2023]第00002号",
        ],
    ],
    Table.METERS: [
        ["M-JP-1", "I-JP-1", "水表", 80, "SN1", "是", 60, 10_000_000, date(2021, 4, 1), None, None],
        ["M-JP-2", "I-JP-2", "水表", 25, "SN2", "否", 1440, 1_000_000, date(2022, 4, 1), None, None],
        ["M-BP-1", "I-BP-1", "电磁流量计", 300, "SN3", "是", 15, 1_000_000_000, date(2023, 7, 1), None, None],
    ],
    Table.CALIBRATIONS: [
        ["M-JP-1", date(2024, 4, 2), "合格", "JD-1"],
        ["M-BP-1", date(2025, 7, 3), "合格", "JD-2"],
    ],
}


def good_rows() -> dict[Table, list[list[object]]]:
    return copy.deepcopy(GOOD)


def write_workbook(folder: Path, rows: dict[Table, list[list[object]]], name: str = "registry.xlsx") -> Path:
    path = folder / name
    write_xlsx(path, rows)
    return path


def unpermitted_intake(code: str) -> list[object]:
    """An irrigation well of a private person, with no permit (the rows of GOOD all have one)."""
    return [
        code,
        "无证井",
        "个人",
        None,
        "建平县",
        "沙海镇",
        "119.6,41.4",
        "机井",
        100,
        "已建",
        "浅层",
        None,
        None,
        "农业灌溉",
        None,
        None,
    ]
