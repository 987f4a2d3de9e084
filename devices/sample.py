"""A realistic, seeded sample registry for Chaoyang City (朝阳市), Liaoning: the campaign's own city.

Mostly irrigation wells on shallow groundwater, with industrial and public-supply intakes on the
Daling river and the reservoirs; some permits expired or about to expire, some intakes without a
permit, some meters overdue for calibration or unable to report online, some intakes decommissioned
and some meters already replaced once. Township names and coordinates are illustrative: drawn around
each division's seat, inside the city's area, not surveyed positions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from devices.calibration import CalibrationPeriods, add_years
from devices.model import (
    Calibration,
    CalibrationResult,
    ConstructionStatus,
    Intake,
    Meter,
    MeterType,
    Permit,
    SourceType,
    WaterUse,
)


@dataclass(frozen=True, slots=True)
class Division:
    name: str
    abbr: str
    seat: tuple[float, float]  # lon, lat
    townships: tuple[str, ...]
    zone: str
    river: str
    weight: int


DALING = "大凌河及辽西沿海诸河"
DIVISIONS = (
    Division(
        "双塔区",
        "ST",
        (120.45, 41.57),
        ("凌凤街道", "光明街道", "桃花吐镇", "孙家湾镇", "长宝营子乡"),
        DALING,
        "大凌河",
        5,
    ),
    Division(
        "龙城区",
        "LC",
        (120.36, 41.60),
        ("七道泉子镇", "西大营子镇", "联合镇", "召都巴镇", "大平房镇"),
        DALING,
        "大凌河",
        6,
    ),
    Division(
        "北票市",
        "BP",
        (120.77, 41.80),
        ("城关街道", "台吉镇", "大板镇", "上园镇", "宝国老镇", "北塔镇"),
        DALING,
        "牤牛河",
        17,
    ),
    Division(
        "凌源市",
        "LY",
        (119.40, 41.24),
        ("城关街道", "宋杖子镇", "四官营子镇", "刀尔登镇", "万元店镇"),
        "滦河山区",
        "青龙河",
        15,
    ),
    Division(
        "朝阳县",
        "CX",
        (120.20, 41.35),
        ("柳城街道", "波罗赤镇", "羊山镇", "六家子镇", "木头城子镇", "胜利镇"),
        DALING,
        "大凌河",
        20,
    ),
    Division(
        "建平县",
        "JP",
        (119.64, 41.40),
        ("叶柏寿街道", "万寿街道", "黑水镇", "沙海镇", "朱碌科镇", "张家营子镇"),
        "西辽河",
        "老哈河",
        20,
    ),
    Division(
        "喀左县",
        "KZ",
        (119.74, 41.13),
        ("大城子街道", "南公营子镇", "公营子镇", "甘招镇", "平房子镇"),
        DALING,
        "大凌河",
        13,
    ),
    Division("朝阳经济技术开发区", "JK", (120.50, 41.53), ("龙山街道",), DALING, "小凌河", 2),
    Division("朝阳高新技术产业开发区", "GX", (120.40, 41.63), ("珠江路街道",), DALING, "大凌河", 2),
)
RESERVOIRS = ("白石水库", "阎王鼻子水库", "龙潭水库", "燕山湖")
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
FIRMS = ("钢铁", "化工", "水泥", "电力", "食品", "酿造", "建材", "陶瓷", "矿业", "制药")


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of intake, with the ranges that make it realistic."""

    use: WaterUse
    engineering: str
    sources: tuple[SourceType, ...]
    meters: tuple[MeterType, ...]
    dn: tuple[int, ...]
    capacity: tuple[int, int]  # m³/day
    days_per_year: int  # full-capacity days the permit allows for
    industry: tuple[str, ...]
    weight: int


KINDS = (
    Kind(
        WaterUse.IRRIGATION,
        "机井",
        (SourceType.SHALLOW_GROUNDWATER,) * 6 + (SourceType.DEEP_GROUNDWATER,),
        (MeterType.WATER_METER, MeterType.WATER_METER, MeterType.ELECTROMAGNETIC),
        (50, 80, 100, 150),
        (150, 1500),
        90,
        ("A0111", "A0141", "A0190"),
        70,
    ),
    Kind(
        WaterUse.PUBLIC_SUPPLY,
        "机井",
        (SourceType.DEEP_GROUNDWATER,),
        (MeterType.ELECTROMAGNETIC,),
        (100, 150, 200),
        (800, 5000),
        250,
        ("D4610",),
        8,
    ),
    Kind(
        WaterUse.INDUSTRY,
        "泵站",
        (SourceType.RIVER, SourceType.RESERVOIR, SourceType.DEEP_GROUNDWATER),
        (MeterType.ELECTROMAGNETIC, MeterType.ULTRASONIC),
        (200, 300, 400, 600),
        (2000, 20000),
        280,
        ("C3110", "C2614", "C3011", "C1512", "C4411"),
        8,
    ),
    Kind(
        WaterUse.PUBLIC_SUPPLY,
        "泵站",
        (SourceType.RESERVOIR, SourceType.RIVER),
        (MeterType.ULTRASONIC,),
        (400, 600, 800),
        (10000, 80000),
        300,
        ("D4610",),
        5,
    ),
    Kind(
        WaterUse.SERVICES,
        "机井",
        (SourceType.SHALLOW_GROUNDWATER,),
        (MeterType.WATER_METER,),
        (20, 25, 40, 50),
        (20, 200),
        250,
        ("H6110", "O8010", "R8890"),
        4,
    ),
    Kind(
        WaterUse.IRRIGATION,
        "引水闸",
        (SourceType.RIVER,),
        (MeterType.OPEN_CHANNEL,),
        (),
        (5000, 50000),
        100,
        ("A0190",),
        3,
    ),
    Kind(
        WaterUse.ECOLOGICAL,
        "引水闸",
        (SourceType.RIVER, SourceType.LAKE),
        (MeterType.OPEN_CHANNEL,),
        (),
        (5000, 30000),
        120,
        ("N7721",),
        2,
    ),
)


@dataclass
class SampleRegistry:
    permits: list[Permit]
    intakes: list[Intake]
    meters: list[Meter]
    calibrations: list[Calibration]


def _owner(
    rng: random.Random, kind: Kind, division: Division, township: str | None
) -> tuple[str, str | None]:
    place = (township or division.name).removesuffix("街道").removesuffix("镇").removesuffix("乡")
    if kind.use is WaterUse.IRRIGATION and rng.random() < 0.4:
        name = rng.choice(SURNAMES) + "".join(
            rng.choice("国建明海春志秀玉华军") for _ in range(rng.randint(1, 2))
        )
        return name, None  # a private irrigator: no unified social credit code
    if kind.use is WaterUse.IRRIGATION:
        owner = f"{place}{rng.choice('东西南北前后')}{rng.choice('营沟屯台')}村民委员会"
    elif kind.use is WaterUse.INDUSTRY:
        owner = f"朝阳{rng.choice(place + division.name[:2])}{rng.choice(FIRMS)}有限公司"
    elif kind.use is WaterUse.PUBLIC_SUPPLY:
        owner = f"{division.name}自来水有限公司"
    elif kind.use is WaterUse.SERVICES:
        owner = f"{place}{rng.choice(('宾馆', '医院', '中学', '洗浴中心'))}"
    else:
        owner = f"{division.name}水利事务服务中心"
    code = (
        "9"
        + rng.choice("1235")
        + "2113"
        + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(12))
    )
    return owner, code


def _permit(rng: random.Random, number: str, division: Division, volume: int, today: date) -> Permit:
    roll = rng.random()
    if roll < 0.07:  # expired
        valid_to = today - timedelta(days=rng.randint(1, 700))
    elif roll < 0.11:  # expiring within 45 days
        valid_to = today + timedelta(days=rng.randint(0, 44))
    else:
        valid_to = today + timedelta(days=rng.randint(46, 1800))
    valid_from = add_years(valid_to, -5) + timedelta(days=1)
    authority = "朝阳市水务局" if volume >= 500_000 else f"{division.name}水利局"
    return Permit(number, authority, valid_from, valid_to, Decimal(volume))


def generate(
    intakes: int, seed: int, today: date, periods: CalibrationPeriods | None = None
) -> SampleRegistry:
    """``intakes`` intakes with their permits, meters and calibrations; the same seed gives the same data."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    periods = periods or CalibrationPeriods()
    out = SampleRegistry([], [], [], [])
    counters = dict.fromkeys((d.abbr for d in DIVISIONS), 0)
    shared_permit: dict[tuple[str, str], tuple[Permit, int]] = {}  # (division, owner) -> permit, intakes left
    for _ in range(intakes):
        division = rng.choices(DIVISIONS, weights=[d.weight for d in DIVISIONS])[0]
        kind = rng.choices(KINDS, weights=[k.weight for k in KINDS])[0]
        counters[division.abbr] += 1
        n = counters[division.abbr]
        code = f"211300{division.abbr}{n:05d}"
        township = rng.choice(division.townships)
        owner, credit = _owner(rng, kind, division, township)
        source = rng.choice(kind.sources)
        capacity = rng.randint(*kind.capacity)
        status_roll = rng.random()
        status = (
            ConstructionStatus.DECOMMISSIONED
            if status_roll < 0.03
            else ConstructionStatus.UNDER_CONSTRUCTION
            if status_roll < 0.05
            else ConstructionStatus.BUILT
        )
        if source is SourceType.RESERVOIR:
            source_name = rng.choice(RESERVOIRS)
        elif source in (SourceType.RIVER, SourceType.LAKE):
            source_name = division.river if rng.random() < 0.8 else "大凌河"
        else:
            source_name = (
                f"{division.name}{'浅层' if source is SourceType.SHALLOW_GROUNDWATER else '深层'}地下水"
            )
        permit_no = None
        if rng.random() < 0.88:  # the rest withdraw with no permit
            key = (division.abbr, owner)
            held = shared_permit.get(key)
            if held and held[1] > 0:
                permit, left = held
                shared_permit[key] = (permit, left - 1)
            else:
                volume = int(capacity * kind.days_per_year * rng.uniform(0.6, 1.0) / 100) * 100
                number = (
                    f"取水(辽朝{division.abbr})字[{rng.randint(2019, 2025)}]第{len(out.permits) + 1:05d}号"
                )
                permit = _permit(rng, number, division, max(volume, 1000), today)
                out.permits.append(permit)
                shared_permit[key] = (permit, rng.choice((0, 0, 0, 1, 2)))
            permit_no = permit.permit_no
        lon = round(division.seat[0] + rng.uniform(-0.25, 0.25), 5)
        lat = round(division.seat[1] + rng.uniform(-0.2, 0.2), 5)
        out.intakes.append(
            Intake(
                code,
                f"{township}{kind.engineering}{n}号",
                owner,
                credit,
                division.name,
                township,
                lon,
                lat,
                kind.engineering,
                Decimal(capacity),
                status,
                source,
                source_name,
                "西辽河" if division.river == "老哈河" else division.zone,
                kind.use,
                rng.choice(kind.industry),
                permit_no,
            )
        )
        if status is ConstructionStatus.UNDER_CONSTRUCTION or rng.random() < 0.08:
            continue  # no meter installed (yet)
        _meters(rng, out, code, division, kind, status, today, periods)
    return out


def _meters(
    rng: random.Random,
    out: SampleRegistry,
    code: str,
    division: Division,
    kind: Kind,
    status: ConstructionStatus,
    today: date,
    periods: CalibrationPeriods,
) -> None:
    meter_type = rng.choice(kind.meters)
    dn = rng.choice(kind.dn) if kind.dn else None
    online = rng.random() >= 0.10
    installed = today - timedelta(days=rng.randint(200, 2900))
    ids = [f"{code}-1"]
    if rng.random() < 0.02:  # replaced once: the old meter keeps its history
        ids.insert(0, f"{code}-0")
    start = installed - timedelta(days=rng.randint(400, 1500)) if len(ids) == 2 else installed
    for index, meter_id in enumerate(ids):
        last = index == len(ids) - 1
        removed = None if last else installed
        if last and status is ConstructionStatus.DECOMMISSIONED:
            removed = today - timedelta(days=rng.randint(30, 600))
            removed = max(removed, installed)
        capacity = Decimal(10) ** (
            6
            if meter_type is MeterType.WATER_METER and (dn or 0) <= 50
            else 7
            if meter_type is MeterType.WATER_METER
            else 9
        )
        meter = Meter(
            meter_id,
            code,
            meter_type,
            dn,
            f"SN{rng.randint(10**7, 10**8 - 1)}",
            online,
            60 * (rng.choice((15, 60, 60, 60)) if online else 1440),
            capacity,
            installed if last else start,
            removed,
        )
        out.meters.append(meter)
        period = periods.years_for(meter_type, dn)
        own_start = meter.installed_on
        if last and removed is None and rng.random() < 0.08:  # overdue
            calibrated = add_years(today, -period) - timedelta(days=rng.randint(1, 300))
        else:
            calibrated = today - timedelta(days=rng.randint(0, max(1, int(period * 365 * 0.9))))
        calibrated = max(calibrated, own_start)
        if removed is not None:
            calibrated = min(calibrated, removed)
        if calibrated > own_start:
            out.calibrations.append(
                Calibration(
                    meter_id,
                    calibrated,
                    CalibrationResult.FAIL if rng.random() < 0.02 else CalibrationResult.PASS,
                    f"JD{division.abbr}{calibrated:%Y}{rng.randint(0, 99999):05d}",
                )
            )
