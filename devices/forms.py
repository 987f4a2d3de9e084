"""The registration form's columns: Chinese headers, English equivalents, and how to read each value.

Each table of the registry is one sheet of the workbook (or one CSV file). Headers are matched
loosely (spaces, full-width brackets and ``m³``/``m3`` do not matter); every Chinese label appears
here once, beside its English name. Volumes in the forms are in 万m³ (10,000 m³); the service stores
m³ and converts only here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from devices.divisions import check_division_code
from devices.errors import InvalidValue
from devices.model import (
    CalibrationResult,
    ConstructionStatus,
    MeterType,
    SourceType,
    WaterUse,
)

WAN = Decimal(10_000)  # 1 万m³


class Table(StrEnum):
    INTAKES = "intakes"
    PERMITS = "permits"
    METERS = "meters"
    CALIBRATIONS = "calibrations"


SHEET_NAMES: dict[Table, str] = {
    Table.INTAKES: "取水口",
    Table.PERMITS: "取水许可",
    Table.METERS: "监测计量设施",
    Table.CALIBRATIONS: "检定记录",
}

# --- enumerations: Chinese label <-> code (the first label is what exports write) ------------------
STATUS_LABELS: dict[ConstructionStatus, tuple[str, ...]] = {
    ConstructionStatus.UNDER_CONSTRUCTION: ("在建",),
    ConstructionStatus.BUILT: ("已建", "在用", "运行"),
    ConstructionStatus.DECOMMISSIONED: ("报废", "已报废", "停用报废"),
}
SOURCE_LABELS: dict[SourceType, tuple[str, ...]] = {
    SourceType.RIVER: ("地表水-江河", "江河", "河流", "河道"),
    SourceType.LAKE: ("地表水-湖泊", "湖泊", "湖"),
    SourceType.RESERVOIR: ("地表水-水库", "水库"),
    SourceType.SHALLOW_GROUNDWATER: ("地下水-浅层", "浅层", "浅层地下水"),
    SourceType.DEEP_GROUNDWATER: ("地下水-深层", "深层", "深层地下水"),
}
USE_LABELS: dict[WaterUse, tuple[str, ...]] = {
    WaterUse.IRRIGATION: ("农业灌溉", "灌溉", "农业"),
    WaterUse.PUBLIC_SUPPLY: ("公共供水", "生活", "城镇供水"),
    WaterUse.INDUSTRY: ("工业",),
    WaterUse.SERVICES: ("服务业",),
    WaterUse.ECOLOGICAL: ("河湖补水", "生态补水"),
}
METER_TYPE_LABELS: dict[MeterType, tuple[str, ...]] = {
    MeterType.ELECTROMAGNETIC: ("电磁流量计", "电磁"),
    MeterType.ULTRASONIC: ("超声波流量计", "超声波"),
    MeterType.WATER_METER: ("水表", "机械水表", "智能水表"),
    MeterType.OPEN_CHANNEL: ("明渠流量计", "明渠"),
    MeterType.OTHER: ("其他",),
}
RESULT_LABELS: dict[CalibrationResult, tuple[str, ...]] = {
    CalibrationResult.PASS: ("合格", "通过"),
    CalibrationResult.FAIL: ("不合格", "未通过"),
}
YES, NO = "是", "否"


def _squash(text: str) -> str:
    """Header/label key: no spaces or brackets, half-width, m³ -> m3, lower case."""
    text = text.translate(str.maketrans("（）：，　", "():, ")).replace("m³", "m3").replace("M³", "m3")
    return re.sub(r"[\s()\[\]\-_/、:]+", "", text).lower()


def _enum_reader(
    labels: dict[type[StrEnum] | StrEnum, tuple[str, ...]] | dict[object, tuple[str, ...]],
    what: str,
    strip: tuple[str, ...] = (),
) -> Callable[[object], object]:
    lookup: dict[str, object] = {}
    for member, names in labels.items():
        for name in (*names, str(member)):
            lookup[_squash(name)] = member
    allowed = " / ".join(names[0] for names in labels.values())

    def read(value: object) -> object:
        key = _squash(str(value))
        for prefix in strip:
            if key.startswith(prefix) and key != prefix:
                key = key.removeprefix(prefix)
        try:
            return lookup[key]
        except KeyError:
            raise InvalidValue(f"unknown {what}; use one of {allowed}") from None

    return read


read_status = _enum_reader(STATUS_LABELS, "construction status")  # type: ignore[arg-type]
read_source_type = _enum_reader(SOURCE_LABELS, "source type", strip=("地表水", "地下水"))  # type: ignore[arg-type]
read_water_use = _enum_reader(USE_LABELS, "water use")  # type: ignore[arg-type]
read_meter_type = _enum_reader(METER_TYPE_LABELS, "meter type")  # type: ignore[arg-type]
read_result = _enum_reader(RESULT_LABELS, "calibration result")  # type: ignore[arg-type]


def label(member: StrEnum) -> str:
    """The Chinese label exports write for an enumeration member."""
    for table in (STATUS_LABELS, SOURCE_LABELS, USE_LABELS, METER_TYPE_LABELS, RESULT_LABELS):
        if member in table:
            return table[member][0]  # type: ignore[index]
    return str(member)


# --- scalar readers: raise InvalidValue with the reason ---------------------------------------------
def read_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel turns codes like 1001 into 1001.0
    return str(value).strip()


def read_division_code(value: object) -> str:
    return check_division_code(read_text(value))


def read_decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        raise InvalidValue("is not a number")
    text = repr(value) if isinstance(value, float) else str(value).strip().replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidValue("is not a number") from None
    if not number.is_finite():
        raise InvalidValue("is not a finite number")
    if number < 0:
        raise InvalidValue("must not be negative")
    return number.normalize() if number == number.to_integral() else number


def read_wan_m3(value: object) -> Decimal:
    """A volume in 万m³, returned in m³."""
    return read_decimal(value) * WAN


def read_int(value: object) -> int:
    text = read_text(value).upper().removeprefix("DN")
    if not re.fullmatch(r"\d+", text):
        raise InvalidValue("is not a whole number")
    return int(text)


_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


def read_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = read_text(value)
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    match = _DATE.match(text.split(" ")[0] if " " in text and ":" in text else text)
    if not match:
        raise InvalidValue("is not a date (write 2024-03-01)")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise InvalidValue(f"is not a real date ({exc})") from None


def read_bool(value: object) -> bool:
    key = _squash(str(value))
    if key in ("是", "能", "有", "y", "yes", "true", "1", "1.0"):
        return True
    if key in ("否", "不能", "无", "n", "no", "false", "0", "0.0"):
        return False
    raise InvalidValue(f"must be {YES} or {NO}")


def read_coordinates(value: object) -> tuple[float, float]:
    """``lon,lat`` (decimal degrees, WGS84)."""
    parts = re.split(r"[,，;；\s]+", read_text(value))
    if len(parts) != 2:
        raise InvalidValue("must be 'longitude,latitude' in decimal degrees, e.g. 120.45,41.57")
    try:
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise InvalidValue("must be 'longitude,latitude' in decimal degrees, e.g. 120.45,41.57") from None


def read_degrees(value: object) -> float:
    try:
        return float(read_text(value))
    except ValueError:
        raise InvalidValue("is not a number of decimal degrees") from None


_INDUSTRY = re.compile(r"^[A-T](\d{2,4})?$|^\d{2,4}$")


def read_industry_code(value: object) -> str:
    text = read_text(value).upper()
    if not _INDUSTRY.match(text):
        raise InvalidValue("is not a GB/T 4754 industry code (e.g. A0111, D4610 or 4610)")
    return text


# --- columns -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Column:
    field: str  # the domain field it fills (or, for coordinates, a pseudo-field)
    header: str  # the Chinese header exports write
    english: str  # the English header, also accepted on import
    read: Callable[[object], object]
    required: bool = False
    aliases: tuple[str, ...] = ()
    computed: bool = False  # written by exports, ignored by imports
    exported: bool = True  # False: accepted on import, not written (the export uses another column)

    def names(self) -> set[str]:
        return {_squash(h) for h in (self.header, self.english, self.field, *self.aliases)}


COLUMNS: dict[Table, tuple[Column, ...]] = {
    Table.INTAKES: (
        Column("code", "取水口编号", "intake_code", read_text, True, ("编号", "取水口代码")),
        Column("name", "取水口名称", "intake_name", read_text, True),
        Column(
            "owner",
            "取水单位名称",
            "owner",
            read_text,
            True,
            ("取水单位名称或责任人姓名", "取水单位名称(取水个人姓名)", "取水个人姓名", "取水单位"),
        ),
        Column(
            "credit_code",
            "统一社会信用代码",
            "credit_code",
            read_text,
            False,
            ("统一社会信用代码(身份证号)", "身份证号"),
        ),
        Column("county", "所在县区", "county", read_text, True, ("所在行政区", "县区", "县(区、市)")),
        Column("township", "所在乡镇", "township", read_text, False, ("乡镇", "乡镇(街道)", "乡镇街道")),
        Column("coordinates", "取水口坐标", "coordinates", read_coordinates, False, ("坐标", "经纬度")),
        Column("longitude", "经度", "longitude", read_degrees, exported=False),
        Column("latitude", "纬度", "latitude", read_degrees, exported=False),
        Column(
            "engineering_type",
            "取水工程类型",
            "engineering_type",
            read_text,
            True,
            ("取水工程(设施)类型", "工程类型"),
        ),
        Column(
            "design_daily_capacity_m3",
            "设计日最大取水能力(m³/d)",
            "design_daily_capacity_m3_per_day",
            read_decimal,
            False,
            ("设计日最大取水能力",),
        ),
        Column(
            "status",
            "建设运行状态",
            "construction_status",
            read_status,
            True,
            ("取水工程运行状态", "运行状态"),
        ),
        Column("source_type", "水源类型", "source_type", read_source_type, True, ("取水水源类型",)),
        Column("source_name", "取水水源名称", "source_name", read_text, False, ("水源名称",)),
        Column("water_resource_zone", "水资源分区", "water_resource_zone", read_text),
        Column("water_use", "取水用途", "water_use", read_water_use, True, ("用途",)),
        Column(
            "industry_code",
            "所属行业代码",
            "industry_code",
            read_industry_code,
            False,
            ("所属行业类型", "行业代码"),
        ),
        Column("permit_no", "许可证号", "permit_no", read_text, False, ("取水许可证号",)),
        # Not a field of the form: the county's GB/T 2260 code, for a county name two cities share.
        Column(
            "division_code",
            "行政区划代码",
            "division_code",
            read_division_code,
            False,
            ("区划代码", "县区代码"),
        ),
    ),
    Table.PERMITS: (
        Column("permit_no", "许可证号", "permit_no", read_text, True, ("取水许可证号",)),
        Column("authority", "审批机关", "authority", read_text, True),
        Column("valid_from", "有效期起", "valid_from", read_date, True, ("有效期开始", "发证日期")),
        Column("valid_to", "有效期止", "valid_to", read_date, True, ("有效期至", "有效期结束")),
        Column(
            "annual_volume_m3",
            "许可水量(万m³)",
            "annual_volume_10k_m3",
            read_wan_m3,
            True,
            ("许可水量", "许可年取水量(万m³)"),
        ),
    ),
    Table.METERS: (
        Column("meter_id", "计量设施编号", "meter_id", read_text, True, ("设施编号", "监测点编号")),
        Column("intake_code", "取水口编号", "intake_code", read_text, True),
        Column("meter_type", "监测计量设施类型", "meter_type", read_meter_type, True, ("设施类型",)),
        Column("dn", "口径(DN)", "dn", read_int, False, ("口径", "公称通径")),
        Column("serial", "出厂编号", "serial", read_text, False),
        Column("online_capable", "能否实现在线监测", "online_capable", read_bool, True),
        Column("report_interval_s", "上报间隔(分钟)", "report_interval_min", read_int, False, ("上报间隔",)),
        Column(
            "totalizer_capacity_m3",
            "累计量程(m³)",
            "totalizer_capacity_m3",
            read_decimal,
            False,
            ("累计流量量程(m³)",),
        ),
        Column("installed_on", "安装日期", "installed_on", read_date, True),
        Column("removed_on", "拆除日期", "removed_on", read_date),
        Column(
            "rtu_address",
            "遥测终端地址",
            "rtu_address",
            read_text,
            False,
            ("遥测终端地址(行政区划码-测站地址)", "RTU地址", "测站地址"),
        ),
        Column("rtu_channel", "终端通道号", "rtu_channel", read_int, False, ("通道号", "测点序号")),
        Column("next_due", "下次检定日期", "next_calibration_due", read_date, computed=True),
    ),
    Table.CALIBRATIONS: (
        Column("meter_id", "计量设施编号", "meter_id", read_text, True, ("设施编号",)),
        Column("calibrated_on", "检定日期", "calibrated_on", read_date, True, ("校准日期",)),
        Column("result", "检定结果", "result", read_result, True, ("校准结果",)),
        Column("certificate_no", "证书编号", "certificate_no", read_text, False, ("检定证书编号",)),
    ),
}

# Columns the paper form has that the registry does not keep: ignored without a warning.
IGNORED_HEADERS = {_squash(h) for h in ("序号", "取水口照片", "联系电话", "备注", "remarks", "no")}
DEFAULT_REPORT_INTERVAL_MIN = 60


def match_header(table: Table, header: str) -> Column | None:
    key = _squash(header)
    for column in COLUMNS[table]:
        if key in column.names():
            return column
    return None


def is_ignored_header(header: str) -> bool:
    return _squash(header) in IGNORED_HEADERS


def table_for_name(name: str) -> Table | None:
    """The table a sheet or file name stands for (Chinese or English), if any."""
    key = _squash(name.rsplit(".", 1)[0] if name.lower().endswith(".csv") else name)
    for table, sheet in SHEET_NAMES.items():
        if key in (_squash(sheet), table.value) or key.endswith(table.value):
            return table
    return None
