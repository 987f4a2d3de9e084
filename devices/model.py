"""What an intake, a permit, a meter and a calibration are: frozen value types that check themselves.

Codes are English (stored in the database, used in the API); the registration forms' Chinese
labels for them live in :mod:`devices.forms`, each once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from devices.divisions import check_division_code
from devices.errors import InvalidValue

METER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# A rough box around China (WGS84): catches swapped, zero and foreign coordinates, not borders.
CHINA_LONGITUDE = (73.4, 135.1)
CHINA_LATITUDE = (18.1, 53.6)


class ConstructionStatus(StrEnum):
    UNDER_CONSTRUCTION = "under_construction"  # 在建
    BUILT = "built"  # 已建
    DECOMMISSIONED = "decommissioned"  # 报废


class SourceType(StrEnum):
    RIVER = "river"  # 地表水 江河
    LAKE = "lake"  # 地表水 湖泊
    RESERVOIR = "reservoir"  # 地表水 水库
    SHALLOW_GROUNDWATER = "shallow_groundwater"  # 地下水 浅层
    DEEP_GROUNDWATER = "deep_groundwater"  # 地下水 深层

    @property
    def is_groundwater(self) -> bool:
        return self in (SourceType.SHALLOW_GROUNDWATER, SourceType.DEEP_GROUNDWATER)


class WaterUse(StrEnum):
    IRRIGATION = "irrigation"  # 农业灌溉
    PUBLIC_SUPPLY = "public_supply"  # 公共供水
    INDUSTRY = "industry"  # 工业
    SERVICES = "services"  # 服务业
    ECOLOGICAL = "ecological"  # 河湖补水


class MeterType(StrEnum):
    ELECTROMAGNETIC = "electromagnetic"
    ULTRASONIC = "ultrasonic"
    WATER_METER = "water_meter"  # mechanical water meter (JJG 162)
    OPEN_CHANNEL = "open_channel"
    OTHER = "other"


class CalibrationResult(StrEnum):
    PASS = "pass"  # 合格  # noqa: S105 - a calibration result, not a password
    FAIL = "fail"  # 不合格


def check_longitude(value: float) -> float:
    low, high = CHINA_LONGITUDE
    if not low <= value <= high:
        raise InvalidValue(f"longitude {value} is outside China ({low}–{high}°E)")
    return value


def check_latitude(value: float) -> float:
    low, high = CHINA_LATITUDE
    if not low <= value <= high:
        raise InvalidValue(f"latitude {value} is outside China ({low}–{high}°N)")
    return value


def check_meter_id(meter_id: str) -> str:
    """A meter id is its MQTT identity: letters, digits, ``_ . -``, at most 64, no topic wildcards."""
    if not METER_ID.match(meter_id):
        raise InvalidValue(
            f"meter id {meter_id!r} must be 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return meter_id


RTU_ADDRESS = re.compile(r"^([0-9]{6})-([0-9]{1,5})$")
MAX_RTU_CHANNEL = 64


def check_rtu_address(text: str) -> str:
    """An SZY 206 RTU's address, 行政区划码 (A1, six digits) and 测站地址 (A2, 1-60000): written
    ``211321-00012`` (``211321-12`` is read the same)."""
    found = RTU_ADDRESS.match(text.strip())
    if found is None or not 1 <= int(found.group(2)) <= 60000:
        raise InvalidValue(
            f"RTU address {text!r} must be the six-digit region code, '-', and the station address "
            "1-60000 (211321-00012)"
        )
    return f"{found.group(1)}-{int(found.group(2)):05d}"


@dataclass(frozen=True, slots=True)
class Permit:
    """取水许可: a water-withdrawal permit; it may cover several intakes."""

    permit_no: str
    authority: str
    valid_from: date
    valid_to: date
    annual_volume_m3: Decimal

    def __post_init__(self) -> None:
        if self.valid_to < self.valid_from:
            raise InvalidValue(f"valid to {self.valid_to} is before valid from {self.valid_from}")
        if self.annual_volume_m3 < 0:
            raise InvalidValue(f"permitted annual volume {self.annual_volume_m3} m³ is negative")

    def is_valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_to


@dataclass(frozen=True, slots=True)
class Intake:
    """取水口: a pump, well or gate taking water from a river, lake, reservoir or aquifer."""

    code: str
    name: str
    owner: str
    credit_code: str | None
    county: str
    township: str | None
    longitude: float
    latitude: float
    engineering_type: str
    design_daily_capacity_m3: Decimal | None
    status: ConstructionStatus
    source_type: SourceType
    source_name: str | None
    water_resource_zone: str | None
    water_use: WaterUse
    industry_code: str | None
    permit_no: str | None
    # The county-level unit (GB/T 2260 code, devices/divisions.py) the county names; set by the import.
    division_code: str | None = None

    def __post_init__(self) -> None:
        if self.division_code is not None:
            check_division_code(self.division_code)
        check_longitude(self.longitude)
        check_latitude(self.latitude)
        if self.design_daily_capacity_m3 is not None and self.design_daily_capacity_m3 <= 0:
            raise InvalidValue(f"design daily capacity {self.design_daily_capacity_m3} m³/d must be positive")


@dataclass(frozen=True, slots=True)
class Meter:
    """监测计量设施: a flow meter at an intake; ``meter_id`` is what it uses on MQTT."""

    meter_id: str
    intake_code: str
    meter_type: MeterType
    dn: int | None
    serial: str | None
    online_capable: bool
    report_interval_s: int
    totalizer_capacity_m3: Decimal | None
    installed_on: date
    removed_on: date | None
    rtu_address: str | None = None  # an SZY 206 RTU's address, when the meter is reached through one
    rtu_channel: int | None = None  # which of the RTU's flow meters it is (1 when not given)

    def __post_init__(self) -> None:
        check_meter_id(self.meter_id)
        if self.rtu_address is not None:
            object.__setattr__(self, "rtu_address", check_rtu_address(self.rtu_address))
            if self.rtu_channel is None:
                object.__setattr__(self, "rtu_channel", 1)
        elif self.rtu_channel is not None:
            raise InvalidValue(f"RTU channel {self.rtu_channel} without an RTU address")
        if self.rtu_channel is not None and not 1 <= self.rtu_channel <= MAX_RTU_CHANNEL:
            raise InvalidValue(f"RTU channel {self.rtu_channel} must be 1-{MAX_RTU_CHANNEL}")
        if self.dn is not None and self.dn <= 0:
            raise InvalidValue(f"nominal diameter DN {self.dn} must be positive")
        if self.report_interval_s <= 0:
            raise InvalidValue(f"reporting interval {self.report_interval_s} s must be positive")
        if self.totalizer_capacity_m3 is not None and self.totalizer_capacity_m3 <= 0:
            raise InvalidValue(f"totalizer capacity {self.totalizer_capacity_m3} m³ must be positive")
        if self.removed_on is not None and self.removed_on < self.installed_on:
            raise InvalidValue(f"removed on {self.removed_on} is before installed on {self.installed_on}")

    @property
    def is_active(self) -> bool:
        """The intake's current meter: no removal date recorded (a replacement may be installed)."""
        return self.removed_on is None

    def in_service_on(self, day: date) -> bool:
        return in_service_on(self.removed_on, day)


# The fastest water a pipe meter measures (electromagnetic and ultrasonic meters are rated to about
# 10 m/s; mechanical water meters well below): the basis of what a meter could pass in an interval.
PIPE_VELOCITY_MAX_M_S = Decimal(10)
PIPE_METERS = frozenset({MeterType.ELECTROMAGNETIC, MeterType.ULTRASONIC, MeterType.WATER_METER})


def max_flow_m3h(
    meter_type: MeterType, dn: int | None, design_daily_capacity_m3: Decimal | None
) -> Decimal | None:
    """The most a meter could pass in an hour: its pipe at PIPE_VELOCITY_MAX_M_S for a pipe meter of
    known DN, its intake's design daily capacity spread over 24 hours, whichever is larger (the
    generous one: this bounds what is physically possible, not what is usual); None when neither is
    known. ingest.volumes allows PLAUSIBLE_FACTOR times this in an interval."""
    candidates = []
    if dn is not None and meter_type in PIPE_METERS:
        area = Decimal("3.14159265") * (Decimal(dn) / 2000) ** 2  # m², DN in mm
        candidates.append(PIPE_VELOCITY_MAX_M_S * area * 3600)
    if design_daily_capacity_m3 is not None:
        candidates.append(design_daily_capacity_m3 / 24)
    return max(candidates) if candidates else None


def in_service_on(removed_on: date | None, day: date) -> bool:
    """A meter serves until the end of its removal day (a local day): a removal date in the future
    changes nothing before it comes. SQL: meter_in_service() (migration 0011)."""
    return removed_on is None or day <= removed_on


@dataclass(frozen=True, slots=True)
class Calibration:
    """检定/校准: one verification of a meter."""

    meter_id: str
    calibrated_on: date
    result: CalibrationResult
    certificate_no: str | None
