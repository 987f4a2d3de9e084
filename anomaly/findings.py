"""What a rule finds: a problem of one of the rectification ledger's types (Annex 3), with evidence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any


class ProblemType(StrEnum):
    """The seed's problem types (Annex 3 问题类型); values are codes, labels are the forms' words."""

    UNAUTHORIZED = "unauthorized"  # 未经批准擅自取水
    PERMIT_EXPIRED = "permit_expired"  # 取水许可证逾期失效仍取水
    METERING = "metering"  # 计量设施安装及运维不规范
    OVER_PERMIT = "over_permit"  # 未按规定取水
    FEE_UNPAID = "fee_unpaid"  # 未按规定缴纳水资源费 (recorded by people; no rule detects it)
    # The campaign's registration checks (核查登记: 不重不漏、信息准确可靠), beside Annex 3's types:
    UNREGISTERED = "unregistered"  # 应登未登: a reference list's entry or permit with no intake
    REGISTRATION = "registration"  # 登记信息不实: the registry disagrees with a list or an inspection


PROBLEM_LABELS: dict[ProblemType, str] = {
    ProblemType.UNAUTHORIZED: "未经批准擅自取水",
    ProblemType.PERMIT_EXPIRED: "取水许可证逾期失效仍取水",
    ProblemType.METERING: "计量设施安装及运维不规范",
    ProblemType.OVER_PERMIT: "未按规定取水",
    ProblemType.FEE_UNPAID: "未按规定缴纳水资源费",
    ProblemType.UNREGISTERED: "应登未登",
    ProblemType.REGISTRATION: "登记信息不实",
}


class Severity(StrEnum):
    WARNING = "warning"  # the condition is near: act before it happens
    ALERT = "alert"  # the condition holds


Evidence = Mapping[str, str | int | float | list[str]]


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's verdict on one intake, or on one permit and every intake it covers (a permit-level
    problem: ``intake_code`` None, ``subject`` ``permit:<no>``, the intakes in ``evidence["intakes"]``,
    in the division holding them all), with the numbers and dates it rests on.

    A finding is identified by (intake or subject, rule): re-detection updates the open one, never
    adds another.
    """

    rule: str
    problem: ProblemType
    severity: Severity
    intake_code: str | None
    detected_on: date
    description: str  # for the ledger's 问题描述, in the forms' language
    evidence: Evidence = field(default_factory=dict)
    permit_no: str | None = None
    meter_id: str | None = None
    subject: str | None = None  # a permit-level finding: permit:<no>
    division_code: str | None = None  # a permit-level finding: the division holding its intakes

    @property
    def key(self) -> tuple[str, str, str]:
        """(the intake or subject, the rule, the meter): a meter rule on two meters of one intake is two."""
        return (self.intake_code or self.subject or "", self.rule, self.meter_id or "")


def permit_subject(permit_no: str) -> str:
    return f"permit:{permit_no}"


# A stronger finding about the same subject supersedes a weaker one of the same kind: an intake
# already over its permit (超许可) is not also told it is projected over it (预计超许可).
SUPERSEDES: dict[str, tuple[str, ...]] = {
    "over_permit": ("projected_over_permit",),
    "permit_expired": ("permit_expiring",),
}
SUPERSEDED_BY = {weak: strong for strong, weaker in SUPERSEDES.items() for weak in weaker}


def strongest(found: Sequence[Finding]) -> list[Finding]:
    """``found`` without the findings a stronger one about the same subject supersedes."""
    present = {(f.key[0], f.rule) for f in found}
    return [
        f for f in found if f.rule not in SUPERSEDED_BY or (f.key[0], SUPERSEDED_BY[f.rule]) not in present
    ]


def covered_intakes(row: Mapping[str, Any]) -> list[str]:
    """The intakes a stored finding (a row of the ledger) is about: its own, or its permit's."""
    if row.get("intake_code"):
        return [str(row["intake_code"])]
    listed = (row.get("evidence") or {}).get("intakes") or []
    return [str(code) for code in listed]


@dataclass(frozen=True, slots=True)
class CampaignFinding:
    """A finding of a campaign check: about an intake, or (intake_code None) about a subject — a list
    entry with no intake, a permit of the ledger — in a division."""

    rule: str
    problem: ProblemType
    severity: Severity
    division_code: str
    subject: str
    description: str
    evidence: Mapping[str, str | int | float]
    intake_code: str | None = None
    permit_no: str | None = None
