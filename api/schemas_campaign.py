"""Request and response bodies of the campaign's own checks: duplicates (重报)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas import Strict

IntakeCodeField = Field(min_length=1, max_length=64)


class DuplicateIntake(BaseModel):
    code: str
    name: str
    owner: str
    credit_code: str | None
    county: str
    division: str | None = Field(description="its division's name")
    township: str | None
    longitude: float
    latitude: float
    permit_no: str | None


class DuplicateEvidence(BaseModel):
    reason: Literal["same_owner_near", "same_serial", "same_place", "similar_name"]
    label: str = Field(description="the reason in the campaign's words")
    detail: str = Field(description="what to check: the distance, the serial, the two names")


class DuplicatePairOut(BaseModel):
    intake_a: DuplicateIntake
    intake_b: DuplicateIntake
    evidence: list[DuplicateEvidence]


class DismissIn(Strict):
    intake_a: str = IntakeCodeField
    intake_b: str = IntakeCodeField
    note: str = Field(min_length=1, max_length=2000, description="why they are two intakes")


class MergeIn(Strict):
    survivor: str = Field(min_length=1, max_length=64, description="the intake that stays")
    duplicate: str = Field(min_length=1, max_length=64, description="the intake folded into it and removed")
    note: str = Field(min_length=1, max_length=2000, description="why they are one intake")


class MergeOut(BaseModel):
    review_id: int
    survivor: str
    removed: str
    meters_moved: list[str]
    findings_moved: list[int]
    findings_closed: list[int] = Field(description="the duplicate's copies of findings the survivor has open")


class DuplicateReviewOut(BaseModel):
    id: int
    intake_a: str
    intake_b: str
    decision: Literal["dismissed", "merged"]
    survivor: str | None
    evidence: list[dict[str, Any]]
    note: str
    actor: str
    at: datetime


class ReferenceListOut(BaseModel):
    id: int
    kind: Literal["permit_ledger", "census", "rural_water", "projects", "enterprises"]
    division_code: str | None
    division_name: str | None
    source: str = Field(description="the file's name as uploaded")
    sha256: str
    entries: int
    imported_by: str
    imported_at: datetime


class ReferenceGap(BaseModel):
    gap: Literal["unregistered", "permit_unreferenced", "mismatch"]
    row: int = Field(description="the entry's row in the list")
    name: str | None
    owner: str | None
    credit_code: str | None
    permit_no: str | None
    intake_code: str | None = Field(
        description="mismatch: the intake; permit_unreferenced: its holder's intakes"
    )
    field: str | None = Field(
        description="mismatch: owner, credit_code, annual_volume, valid_from or valid_to"
    )
    ours: str | None = Field(description="the registry's value")
    theirs: str | None = Field(description="the list's value")


class ReferenceReportOut(BaseModel):
    reference_list: ReferenceListOut
    summary: str
    matched: int
    gaps: list[ReferenceGap]
    findings_created: int | None = Field(None, description="on import: new findings in the ledger")
    findings_updated: int | None = None
