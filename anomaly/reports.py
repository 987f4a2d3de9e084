"""The forms' reports as rows: Annex 1 §三 annual volumes, Annex 2 summary, Annex 3 ledger, and the
compliance table per permit. Pure: headers in the forms' words and order, volumes in 万m³ (4 decimals).

The Annex 2 and Annex 3 headers are the seed's own text, spelling included (tests compare them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from anomaly.annual import AnnualVolume, Method
from anomaly.findings import PROBLEM_LABELS, ProblemType, covered_intakes
from anomaly.permit_rules import project_annual
from anomaly.sweep import Snapshot, sum_years
from anomaly.thresholds import Thresholds
from devices.forms import label
from devices.model import ConstructionStatus, Intake, Permit

WAN = Decimal(10_000)

SUMMARY_HEADERS = [
    "序号",
    "取水口名称",
    "取水口编号",
    "所在行政区",
    "取水口坐标",
    "取水工程(设施)类型",
    "取水工程运行状态",
    "取水水源类型",
    "取水用途",
    "是否取得取水许可证",
    "许可水量",
    "近4年平均均取水量",
    "是否安装监测计量设施",
    "监测计量设施是否正常运行",
    "取水单位名称或责任人姓名",
    "联系电话",
]
LEDGER_HEADERS = [
    "序号",
    "取水项目名称",
    "取水单位名称 (个人姓名)",
    "问题类型",
    "问题描述",
    "整改措施",
    "责任单位及 责任人",
    "整改时限",
    "整改完成情况",
]
COMPLIANCE_HEADERS = [
    "许可证号",
    "审批机关",
    "有效期止",
    "取水口编号",
    "许可水量(万m³)",
    "计量取水量(万m³)",
    "已用比例",
    "预计全年取水量(万m³)",
    "预计比例",
    "预计方法",
    "状态",
]


# The compliance table's status column: a code for machines, the forms' words for people.
COMPLIANCE_STATUS = {
    "over_permit": "超许可",
    "expired": "许可证已过期",
    "projected_over": "预计超许可",
    "warning": "预警",
    "normal": "正常",
}


def wan(volume_m3: Decimal) -> Decimal:
    return (volume_m3 / WAN).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _percent(part: Decimal, whole: Decimal) -> str:
    return f"{part / whole * 100:.1f}%" if whole > 0 else ("∞" if part > 0 else "0.0%")


def registration_headers(years: Sequence[int]) -> list[str]:
    ordinal = ["第一年", "第二年", "第三年", "第四年"]
    return (
        ["取水口编号", "取水口名称", "取水单位名称", "许可证号", "审批机关", "有效期"]
        + [f"实际取水量(万m³){ordinal[n]}({year})" for n, year in enumerate(years)]
        + [
            "数据获取方式",
            "各年数据获取方式",
            "水量核算说明",
        ]  # the last: how each year's figure was obtained
    )


def overall_method(volumes: Sequence[AnnualVolume]) -> Method:
    """One 数据获取方式 for the form's four years: 监测计量 only when every year was."""
    methods = {v.method for v in volumes}
    if methods == {Method.METERED}:
        return Method.METERED
    return Method.OTHER if Method.OTHER in methods and len(methods) == 1 else Method.ESTIMATED


def registration_rows(
    intakes: Sequence[Intake], permits: Mapping[str, Permit], annual: Mapping[str, Sequence[AnnualVolume]]
) -> list[list[Any]]:
    rows = []
    for intake in intakes:
        permit = permits.get(intake.permit_no) if intake.permit_no else None
        volumes = annual.get(intake.code, [])
        rows.append(
            [
                intake.code,
                intake.name,
                intake.owner,
                intake.permit_no or "",
                permit.authority if permit else "",
                f"{permit.valid_from}至{permit.valid_to}" if permit else "",
                *[v.volume_wan for v in volumes],
                overall_method(volumes).value,
                "；".join(f"{v.year}:{v.method_label}" for v in volumes),
                "；".join(f"{v.year}: {v.basis}" for v in volumes),
            ]
        )
    return rows


def summary_rows(
    snapshot: Snapshot, averages: Mapping[str, Decimal], running: Mapping[str, bool]
) -> list[list[Any]]:
    """Annex 2 (取水口核查登记汇总表): one row per intake."""
    rows = []
    for n, intake in enumerate(snapshot.intakes, start=1):
        permit = snapshot.permits.get(intake.permit_no) if intake.permit_no else None
        meter = bool(snapshot.active_meters.get(intake.code))
        place = intake.county + (intake.township or "")
        rows.append(
            [
                n,
                intake.name,
                intake.code,
                place,
                f"{intake.longitude},{intake.latitude}",
                intake.engineering_type,
                label(intake.status),
                label(intake.source_type),
                label(intake.water_use),
                "是" if permit else "否",
                wan(permit.annual_volume_m3) if permit else "",
                wan(averages.get(intake.code, Decimal(0))),
                "是" if meter else "否",
                ("是" if running.get(intake.code) else "否") if meter else "",
                intake.owner,
                "",
            ]
        )
    return rows


def ledger_rows(
    findings: Sequence[Mapping[str, Any]], intakes: Mapping[str, Intake], inside: frozenset[str] | None = None
) -> list[list[Any]]:
    """Annex 3 (取水口整改提升情况表) as the form has it: one row per intake and problem type, oldest
    first. A permit's finding gives a row to each of its intakes (``inside``: only those); several
    findings of one type on one intake share its row (descriptions and measures joined, the latest
    deadline, 整改完成情况 the least advanced state). A finding about no intake (应登未登) is its own row."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for f in findings:
        codes = covered_intakes(f)
        if not codes:
            groups.setdefault((f["subject"] or "", f["problem"]), []).append(f)
        for code in codes:
            if inside is None or code in inside:
                groups.setdefault((code, f["problem"]), []).append(f)
    rows = []
    for n, ((code, problem), found) in enumerate(groups.items(), start=1):
        intake = intakes.get(code)
        first = found[0]
        deadlines = [f["deadline"] for f in found if f["deadline"]]
        rows.append(
            [
                n,
                intake.name if intake else (first["evidence"] or {}).get("name") or code,
                intake.owner if intake else (first["evidence"] or {}).get("owner", ""),
                PROBLEM_LABELS[ProblemType(problem)],
                _joined(f["description"] for f in found),
                _joined(f["measure"] for f in found),
                _joined(f["responsible"] for f in found),
                max(deadlines).isoformat() if deadlines else "",
                _progress(found),
            ]
        )
    return rows


def _joined(texts: Iterable[str | None]) -> str:
    return "；".join(dict.fromkeys(t for t in texts if t))


def _progress(found: Sequence[Mapping[str, Any]]) -> str:
    """整改完成情况 of findings sharing a row: 未整改 while one is open, 整改中 while one is rectifying."""
    states = {f["state"] for f in found}
    if "open" in states:
        return "未整改"
    if "rectifying" in states:
        return "整改中"
    return _joined(f"已销号（{f['closed_by']}，{f['closed_on']:%Y-%m-%d}）：{f['close_note']}" for f in found)


def compliance_rows(snapshot: Snapshot, th: Thresholds) -> list[list[Any]]:
    """Per permit: permitted, metered so far, % used, projection and status."""
    rows = []
    for number, permit in sorted(snapshot.permits.items()):
        intakes = [i for i in snapshot.intakes if i.permit_no == number]
        ytd = sum((snapshot.ytd_m3.get(i.code, Decimal(0)) for i in intakes), Decimal(0))
        rate = sum((snapshot.recent_rate.get(i.code, Decimal(0)) for i in intakes), Decimal(0))
        earlier = sum_years([snapshot.earlier_months.get(i.code, []) for i in intakes])
        projected, method = project_annual(ytd, snapshot.as_of, earlier, rate, th)
        share = projected / permit.annual_volume_m3 if permit.annual_volume_m3 > 0 else Decimal(0)
        if ytd > permit.annual_volume_m3:
            status = COMPLIANCE_STATUS["over_permit"]
        elif snapshot.as_of > permit.valid_to:
            status = COMPLIANCE_STATUS["expired"]
        elif share >= th.projected_alert_share:
            status = COMPLIANCE_STATUS["projected_over"]
        elif share >= th.projected_warning_share:
            status = COMPLIANCE_STATUS["warning"]
        else:
            status = COMPLIANCE_STATUS["normal"]
        rows.append(
            [
                number,
                permit.authority,
                permit.valid_to.isoformat(),
                "、".join(i.code for i in intakes),
                wan(permit.annual_volume_m3),
                wan(ytd),
                _percent(ytd, permit.annual_volume_m3),
                wan(projected),
                _percent(projected, permit.annual_volume_m3),
                method,
                status,
            ]
        )
    return rows


def running_normally(snapshot: Snapshot, open_rules: Mapping[str, set[str]]) -> dict[str, bool]:
    """监测计量设施是否正常运行: an active meter with no open metering finding against it."""
    metering = {
        "meter_offline",
        "calibration_overdue",
        "totalizer_reset",
        "totalizer_stuck",
        "flow_mismatch",
        "over_design_capacity",
        "clock_skew",
        "meter_alarm",
    }
    return {
        i.code: i.status is not ConstructionStatus.DECOMMISSIONED
        and not (open_rules.get(i.code, set()) & metering)
        for i in snapshot.intakes
        if i.code in snapshot.active_meters
    }


def years_ending(year: int) -> list[int]:
    return [year - 3, year - 2, year - 1, year]


def as_of_for(year: int, today: date) -> date:
    return min(date(year, 12, 31), today)
