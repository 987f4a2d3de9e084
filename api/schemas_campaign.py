"""Request and response bodies of the campaign's own checks: duplicates (重报), reference lists (漏报),
spot checks (监督检查)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from api.params import LocalDateTime
from api.schemas import Strict

IntakeCodeField = Field(min_length=1, max_length=64)
MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"


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


class SpotCheckIn(Strict):
    title: str = Field(min_length=1, max_length=200, description="e.g. 2026年第四季度监督检查")
    division_code: str | None = Field(
        None,
        pattern=r"^\d{6}$",
        description="the division checked, inside the caller's (default: the caller's)",
    )
    share: float | None = Field(None, gt=0, le=1, description="the share of its intakes to draw; or count")
    count: int | None = Field(None, ge=1, le=100_000, description="how many intakes to draw; or share")
    seed: int | None = Field(
        None, ge=0, le=2**62, description="the same seed draws the same sample (default: random)"
    )


class SpotCheckOut(BaseModel):
    id: int
    owner_division: str | None = Field(
        description="the division that drew it: only it and those above see it"
    )
    division_code: str | None
    division_name: str | None
    title: str
    seed: int
    share: float | None
    sample_size: int | None
    population: int = Field(description="intakes it was drawn from")
    drawn_by: str
    drawn_at: datetime


class SpotCheckItem(BaseModel):
    intake_code: str
    division_code: str
    division_name: str | None
    risk: Literal["over_permit", "no_meter", "closed_recently", "none"]
    registered: dict[str, Any] = Field(description="what the registry said when the sample was drawn")
    inspector: str | None
    inspected_on: date | None
    inspected_by: str | None
    found: bool | None = Field(description="the intake exists (null: not inspected yet)")
    meter_serial: str | None
    meter_as_registered: bool | None
    rectification_real: bool | None
    photos: list[str] | None
    notes: str | None
    findings: list[int] | None = Field(description="what the inspection raised in the ledger")


class SpotCheckDetail(SpotCheckOut):
    summary: dict[str, int]
    items: list[SpotCheckItem]


class AssignIn(Strict):
    inspectors: list[str] = Field(
        min_length=1, max_length=100, description="handed out in turn, county by county"
    )
    intakes: list[str] | None = Field(None, max_length=100_000, description="default: those not yet assigned")


class InspectionIn(Strict):
    intake_code: str = Field(min_length=1, max_length=64)
    inspected_on: date
    inspected_by: str = Field(min_length=1, max_length=200)
    found: bool = Field(description="the intake exists where registered")
    meter_serial: str | None = Field(
        None, max_length=100, description="the serial on the meter found; null: none"
    )
    rectification_real: bool | None = Field(
        None, description="for a finding closed recently: was it rectified?"
    )
    photos: list[str] = Field(
        default_factory=list, max_length=50, description="references: file names or URLs"
    )
    notes: str = Field("", max_length=4000)

    @model_validator(mode="after")
    def _nothing_of_what_is_not_there(self) -> InspectionIn:
        if not self.found and (self.meter_serial is not None or self.rectification_real is not None):
            raise ValueError("an intake that does not exist has no meter and no rectification to judge")
        return self


class InspectionOut(BaseModel):
    intake_code: str
    meter_as_registered: bool | None
    findings: list[int]


class ProgressRow(BaseModel):
    division_code: str
    division_name: str
    intakes_total: int = Field(description="registered by the month's end")
    intakes_new: int = Field(description="registered in the month")
    intakes_reviewed: int = Field(
        description="in the division's accepted annual submission by the month's end"
    )
    intakes_reviewed_new: int = Field(description="the same, when that submission was accepted in the month")
    findings_opened: int
    findings_rectifying: int = Field(description="moved to rectifying in the month")
    findings_closed: int = Field(description="closed (销号) by a person in the month")
    findings_closed_on_time: int = Field(description="of those, by their deadline")
    on_time_share: float | None
    findings_resolved: int = Field(description="status findings that cleared by themselves in the month")
    findings_open_at_end: int = Field(description="open or rectifying at the month's end")
    meters_active: int
    meters_online: int = Field(description="online at the month's end")
    readings_expected: int
    readings_received: int
    arrival_rate: float | None = Field(description="到报率: readings received of those expected")
    meter_days: int
    measured_days: int
    estimated_days: int = Field(
        description="meter-days whose volume is estimated (推算), not metered in full"
    )
    metered_m3: Decimal = Field(description="on fully measured days")
    known_m3: Decimal = Field(description="all the registers say, days with gaps included")
    annual_submission: str = Field(description="the year's submission: its state, or empty")
    progress_submission: str = Field(description="this month's progress report: its state, or empty")


class ProgressOut(BaseModel):
    month: str = Field(description="YYYY-MM")
    divisions: list[ProgressRow] = Field(description="each county-level division inside the caller's")
    total: ProgressRow | None = Field(description="their sum, when there is more than one")


class ProgressReportIn(Strict):
    month: str = Field(pattern=MONTH_PATTERN, description="YYYY-MM: a month that is over")
    work: str = Field(min_length=1, max_length=4000, description="工作开展情况")
    achievements: str = Field("", max_length=4000, description="取得的主要成果")
    difficulties: str = Field("", max_length=4000, description="存在的困难和问题")
    proposals: str = Field("", max_length=4000, description="有关意见和建议")


class ManualReadingIn(Strict):
    """One reading copied from the meter's display (人工抄表)."""

    read_at: LocalDateTime = Field(description="when the display was read; without an offset, local time")
    totalizer_m3: Decimal = Field(
        ge=0, max_digits=24, decimal_places=6, description="the totalizer as read (表底数), in m³"
    )
    read_by: str | None = Field(
        None, max_length=200, pattern=r"\S", description="who read it (default: the caller)"
    )
    photo_ref: str | None = Field(None, max_length=200, description="a reference to the photo of the display")


class ManualReadingOut(BaseModel):
    meter_id: str
    ts: datetime = Field(description="when the display was read")
    day: date = Field(description="its local day (the service's time zone), as daily volumes count days")
    total_m3: Decimal
    read_by: str
    photo_ref: str | None
    entered_by: str
    entered_at: datetime
    channel: str = Field(description="form, upload or cli")


class ManualRowOut(BaseModel):
    row: int = Field(description="the row of the file (1: the header row)")
    meter_id: str | None
    reason: str = Field(description="a code: bad_row, repeated, unknown_meter, ts_in_future, conflict, ...")
    message: str


class ManualBatchOut(BaseModel):
    rows: int = Field(description="rows read (not counting the header and blank rows)")
    stored: int = Field(description="readings stored, each marked manual")
    already_stored: int = Field(description="rows whose reading was stored before (nothing stored twice)")
    days_written: int = Field(description="daily volumes recomputed")
    refused: list[ManualRowOut] = Field(description="every row not stored, with why; the rest are stored")


class SubscriptionIn(Strict):
    """An alert subscription of the caller's own, inside their division."""

    channel: Literal["email", "wecom", "dingtalk", "webhook"]
    target: str = Field(
        min_length=3, max_length=2000, description="an e-mail address, or a robot's or webhook's http(s) URL"
    )
    secret: str | None = Field(None, max_length=200, description="a DingTalk robot's signing secret (加签)")
    kinds: list[
        Literal["meter_offline", "permit_use", "calibration_overdue", "new_finding", "submission_returned"]
    ] = Field(min_length=1, max_length=5)
    offline_hours: int = Field(24, ge=1, le=720, description="a meter offline longer than this")
    permit_share: Decimal = Field(Decimal("0.9"), gt=0, le=10, description="of the permitted volume used")
    digest_minutes: int = Field(10, ge=0, le=1440, description="at most one message per this many minutes")

    @model_validator(mode="after")
    def _target_fits_channel(self) -> SubscriptionIn:
        if self.channel == "email":
            if "@" not in self.target or any(c.isspace() for c in self.target):
                raise ValueError(f"target {self.target!r} is not an e-mail address")
        elif not self.target.startswith(("https://", "http://")):
            raise ValueError(f"target of a {self.channel} subscription is an http(s) URL")
        return self


class SubscriptionOut(BaseModel):
    id: int
    owner: str
    channel: str
    target: str = Field(description="a webhook's key (its query) hidden")
    kinds: list[str]
    offline_hours: int
    permit_share: Decimal
    digest_minutes: int
    created_at: datetime
    removed_at: datetime | None


class DeliveryOut(BaseModel):
    id: int
    subscription_id: int
    owner: str
    channel: str
    created_at: datetime
    items: int = Field(description="conditions it tells of (one message: a digest when more than one)")
    state: str = Field(description="pending (waiting for its next attempt), sent, or failed for good")
    attempts: int
    sent_at: datetime | None
    next_attempt_at: datetime
    last_error: str | None
    titles: list[str] = Field(description="the first 20 conditions it tells of")
