"""The rectification ledger's rules (Annex 3), pure: what a sweep changes, and which moves are allowed.

Lifecycle: open → rectifying (measure, responsible unit and person, deadline) → closed (销号: a note,
by whom). Status-type findings (a meter offline, a clock off) resolve themselves when the condition
clears; compliance findings are closed only by a person with a note.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from anomaly.findings import SUPERSEDED_BY, SUPERSEDES, Finding, strongest

STATUS_RULES = frozenset(
    {"meter_offline", "clock_skew", "meter_alarm"}
)  # conditions that clear by themselves


class State(StrEnum):
    OPEN = "open"
    RECTIFYING = "rectifying"
    CLOSED = "closed"


class LedgerError(ValueError):
    """A move the lifecycle does not allow, or one missing what it requires."""


@dataclass(frozen=True, slots=True)
class OpenFinding:
    """A finding in the ledger that is not closed, as the sweep sees it."""

    id: int
    rule: str
    intake_code: str | None  # None: a permit-level finding, about ``subject``
    state: State
    severity: str
    description: str
    evidence: Mapping[str, object]
    last_confirmed: date
    subject: str | None = None
    permit_no: str | None = None
    meter_id: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.intake_code or self.subject or "", self.rule, self.meter_id or "")


@dataclass
class SweepPlan:
    create: list[Finding] = field(default_factory=list)
    update: list[tuple[int, Finding]] = field(default_factory=list)  # still holds, with new numbers
    resolve: list[OpenFinding] = field(default_factory=list)  # a status condition that cleared
    # closed because a stronger finding about the same subject holds, or because the permit's one
    # finding now stands for the intake's own (the finding that takes its place)
    supersede: list[tuple[OpenFinding, Finding]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.resolve or self.supersede)


def plan_sweep(
    ledger: Mapping[tuple[str, str, str], OpenFinding],
    detected: Iterable[Finding],
    rules_evaluated: Iterable[str],
) -> SweepPlan:
    """What a sweep changes: new findings, open ones whose evidence changed, status findings that cleared.

    A finding detected again with the same severity, description and evidence on the same day changes
    nothing, so running a sweep twice is a no-op. Only rules the sweep evaluated can resolve.
    """
    plan = SweepPlan()
    seen: set[tuple[str, str, str]] = set()
    detected = strongest(list(detected))
    for finding in detected:
        if finding.key in seen:
            raise LedgerError(f"rule {finding.rule} reported {finding.key[0]} twice in one sweep")
        seen.add(finding.key)
        held = ledger.get(finding.key)
        if held is None:
            plan.create.append(finding)
        elif (held.severity, held.description, dict(held.evidence), held.last_confirmed) != (
            str(finding.severity),
            finding.description,
            dict(finding.evidence),
            finding.detected_on,
        ):
            plan.update.append((held.id, finding))
    evaluated = set(rules_evaluated)
    plan.supersede = _superseded(ledger, detected, seen)
    gone = {held.id for held, _by in plan.supersede}
    plan.resolve = [
        f
        for key, f in sorted(ledger.items())
        if key not in seen and f.rule in evaluated and f.rule in STATUS_RULES and f.id not in gone
    ]
    return plan


def _superseded(
    ledger: Mapping[tuple[str, str, str], OpenFinding],
    detected: Iterable[Finding],
    seen: set[tuple[str, str, str]],
) -> list[tuple[OpenFinding, Finding]]:
    """Open findings another detected one takes the place of: a weaker one about the same subject
    (预计超许可 once 超许可 holds), and an intake's own finding of a rule now found for its permit."""
    stronger = {(f.key[0], f.rule): f for f in detected}
    by_permit: dict[tuple[str, str], Finding] = {
        (f.permit_no, f.rule): f for f in detected if f.intake_code is None and f.permit_no is not None
    }
    out = []
    for key, held in sorted(ledger.items()):
        if key in seen:
            continue
        above = SUPERSEDED_BY.get(held.rule)
        by = stronger.get((key[0], above)) if above else None
        if by is None and held.intake_code is not None and held.permit_no is not None:
            permit_level = by_permit.get((held.permit_no, held.rule))
            listed = permit_level.evidence.get("intakes", []) if permit_level else []
            if permit_level is not None and isinstance(listed, list) and held.intake_code in listed:
                by = permit_level
        if by is not None:
            out.append((held, by))
    return out


def check_rectifying(state: State, measure: str, responsible: str) -> None:
    if state is not State.OPEN:
        raise LedgerError(f"only an open finding can move to rectifying; this one is {state}")
    if not measure.strip() or not responsible.strip():
        raise LedgerError(
            "rectifying needs the measure (整改措施) and the responsible unit and person (责任单位及责任人)"
        )


def check_closing(state: State, note: str, actor: str) -> None:
    if state is State.CLOSED:
        raise LedgerError("this finding is already closed")
    if state is not State.RECTIFYING:
        raise LedgerError("a finding is closed (销号) after rectification: move it to rectifying first")
    if not note.strip() or not actor.strip():
        raise LedgerError("closing needs a note (整改完成情况) and who closes it")


def superseded_note(by: Finding) -> str:
    """The close note of a finding another takes the place of (自动销号), naming that one."""
    if by.intake_code is None and by.rule not in SUPERSEDES:
        return f"并入取水许可证{by.permit_no}的问题（自动销号）: now one finding for the permit, {by.subject}"
    return f"由更严重的问题取代（自动销号）: superseded by {by.rule} on {by.key[0]}"
