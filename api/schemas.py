"""Request and response bodies (pydantic at the edge). Volumes are exact decimals sent as strings
("123.456", m³), as stored; times are ISO 8601 with their offset."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.auth import Role
from api.params import BodyDateTime
from devices.model import CalibrationResult, MeterType

MeterStatusName = Literal["online", "offline", "never_reported"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IntakeOut(BaseModel):
    code: str
    name: str
    owner: str
    county: str
    division_code: str | None = Field(
        description="its county-level unit's GB/T 2260 code; null: not yet placed"
    )
    township: str | None
    longitude: float
    latitude: float
    engineering_type: str
    design_daily_capacity_m3: Decimal | None
    status: str
    source_type: str
    source_name: str | None
    water_use: str
    permit_no: str | None
    meter_id: str | None = Field(description="the intake's first active meter (by installation), if any")
    meter_ids: list[str] = Field(
        default_factory=list, description="all its active meters (one per pump or outlet), earliest first"
    )


class PermitOut(BaseModel):
    permit_no: str
    authority: str
    valid_from: date
    valid_to: date
    annual_volume_m3: Decimal
    intakes: list[str] | None


class MeterOut(BaseModel):
    meter_id: str
    intake_code: str
    meter_type: str
    dn: int | None
    serial: str | None
    online_capable: bool
    report_interval_s: int
    totalizer_capacity_m3: Decimal | None
    installed_on: date
    removed_on: date | None
    rtu_address: str | None = Field(None, description="the SZY 206 RTU it is reached through: 211321-00012")
    rtu_channel: int | None = Field(None, description="which of the RTU's flow meters it is")
    county: str | None = None


class MeterIn(Strict):
    meter_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    intake_code: str = Field(min_length=1, max_length=64)
    meter_type: MeterType
    dn: int | None = Field(None, gt=0, le=10_000)
    serial: str | None = Field(None, max_length=100)
    online_capable: bool = True
    report_interval_s: int = Field(900, gt=0, le=86_400 * 31)
    totalizer_capacity_m3: int | None = Field(None, gt=0, le=10**15, description="whole m³")
    installed_on: date
    removed_on: date | None = None
    rtu_address: str | None = Field(
        None,
        pattern=r"^[0-9]{6}-[0-9]{1,5}$",
        description="the SZY 206 RTU it is reached through: region code and station address, 211321-00012",
    )
    rtu_channel: int | None = Field(
        None, ge=1, le=64, description="which of the RTU's flow meters (default 1)"
    )


class MeterPatch(Strict):
    """Only the fields sent change; ``null`` clears an optional field (``removed_on``: back in service)."""

    meter_type: MeterType | None = None
    dn: int | None = Field(None, gt=0, le=10_000)
    serial: str | None = Field(None, max_length=100)
    online_capable: bool | None = None
    report_interval_s: int | None = Field(None, gt=0, le=86_400 * 31)
    totalizer_capacity_m3: int | None = Field(None, gt=0, le=10**15, description="whole m³")
    removed_on: date | None = None
    rtu_address: str | None = Field(
        None,
        pattern=r"^[0-9]{6}-[0-9]{1,5}$",
        description="the SZY 206 RTU it is reached through: region code and station address, 211321-00012",
    )
    rtu_channel: int | None = Field(
        None, ge=1, le=64, description="which of the RTU's flow meters (default 1)"
    )

    @model_validator(mode="after")
    def _required_stay_set(self) -> MeterPatch:
        cleared = [
            f
            for f in ("meter_type", "online_capable", "report_interval_s")
            if f in self.model_fields_set and getattr(self, f) is None
        ]
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be cleared")
        return self


class MeterStatusOut(BaseModel):
    meter_id: str
    intake_code: str
    intake_name: str
    county: str
    status: MeterStatusName
    status_since: datetime | None = Field(description="when it entered this status (offline since ...)")
    last_reading_ts: datetime | None
    last_seen: datetime | None
    last_total_m3: Decimal | None


class StatusChangeOut(BaseModel):
    at: datetime
    status: MeterStatusName
    reason: str


class ReadingOut(BaseModel):
    ts: datetime
    received_at: datetime
    total_m3: Decimal
    flow_m3h: float | None
    battery_v: float | None
    rssi: int | None
    alarms: list[str] | None
    manual: bool = Field(False, description="entered by hand from the meter's display (人工抄表)")
    read_by: str | None = Field(None, description="a manual reading: who read the display")


class BucketOut(BaseModel):
    bucket: datetime
    readings: int
    first_total_m3: Decimal
    last_total_m3: Decimal
    mean_flow_m3h: float | None
    max_flow_m3h: float | None


class IntakeDayOut(BaseModel):
    day: date
    volume_m3: Decimal = Field(description="its meters' volumes as reports count them, added up")
    meters: int = Field(description="meters with a volume that day")
    known: bool = Field(description="every one of those volumes is known (measured, or corrected)")
    meter_ids: list[str]


class DailyVolumeOut(BaseModel):
    day: date
    volume_m3: Decimal = Field(description="what the register says")
    reported_m3: Decimal = Field(
        description="what reports count: a correction's, 0 for an invalid or implausible day"
    )
    method: str = Field(
        description="metered, incomplete, or corrected / invalid when a correction is in force"
    )
    readings: int
    coverage: float
    flags: list[str]
    flow_m3: Decimal | None
    known: bool = Field(description="its volume is known (measured, or corrected)")
    credible: bool = Field(
        description="a basis for estimates: metered in full, nothing flagged, not corrected"
    )
    correction_id: int | None
    correction_reason: str | None = None


class MeterDayOut(BaseModel):
    day: date
    online_share: float | None = Field(description="null: the status sweep did not watch that time")
    observed_share: float = Field(description="how much of the day the status sweep watched")
    readings: int
    completeness: float | None = Field(description="到报率: readings received ÷ expected")
    partial: bool = Field(description="the day is not over: judged on the part that has passed")


class AnnualVolumeOut(BaseModel):
    intake_code: str
    year: int
    volume_m3: Decimal
    volume_wan_m3: Decimal
    method: str = Field(description="数据获取方式: 监测计量, 推算 or 其他")
    measured_days: int
    estimated_days: int
    unmetered_days: int
    basis: str = Field(description="which days were measured, and each estimate with its rate and basis")
    signed_by: str | None = Field(None, description="signed off by: volume_m3 and method are the signed ones")
    computed_m3: Decimal | None = Field(None, description="for a signed year: what the data says now")
    pending_revision: bool = Field(False, description="signed, and the data has moved since: to be reviewed")
    manual_readings: int = Field(0, description="the year's readings entered by hand (人工抄表)")
    method_label: str = Field(
        description="数据获取方式 as the form's reports write it: 监测计量（人工抄表） by hand"
    )


class SignOffIn(Strict):
    year: int = Field(ge=2000, le=2100)
    note: str | None = Field(None, max_length=2000)


class SignedCount(BaseModel):
    year: int
    intakes: int = Field(description="how many intakes' annual volumes were signed off")


class RevisionOut(BaseModel):
    detected_at: datetime
    signed_m3: Decimal
    computed_m3: Decimal
    why: str
    accepted_by: int | None = Field(description="the sign-off that accepted it; null: pending")


class SignOffOut(BaseModel):
    id: int
    year: int
    volume_m3: Decimal
    method: str
    signed_by: str
    signed_at: datetime
    note: str | None
    superseded_by: int | None = Field(description="the later sign-off that replaced it; null: current")
    revisions: list[RevisionOut]


class CountyStatus(BaseModel):
    county: str
    online: int
    offline: int
    never_reported: int
    total: int


class CalibrationIn(Strict):
    calibrated_on: date
    result: CalibrationResult
    certificate_no: str | None = Field(None, max_length=100)


class CalibrationOut(BaseModel):
    meter_id: str
    calibrated_on: date
    result: str
    certificate_no: str | None


class CalibrationDueOut(BaseModel):
    meter_id: str
    intake_code: str
    county: str
    meter_type: str
    last_calibrated: date | None
    due: date
    overdue: bool


class ComplianceOut(BaseModel):
    permit_no: str
    authority: str
    valid_to: date
    intakes: list[str]
    permitted_wan_m3: Decimal
    metered_wan_m3: Decimal
    used: str
    projected_wan_m3: Decimal
    projected_share: str
    projection_method: str
    status: Literal["over_permit", "expired", "projected_over", "warning", "normal"]
    status_label: str


class FindingOut(BaseModel):
    id: int
    state: Literal["open", "rectifying", "closed"]
    problem: str
    severity: str
    rule: str
    intake_code: str | None = Field(description="null for a finding about no registered intake (应登未登)")
    intake_name: str = Field(description="the intake's name, or the name of what the finding is about")
    county: str
    subject: str | None = Field(None, description="what an intake-less finding is about, e.g. permit:<no>")
    permit_no: str | None
    meter_id: str | None
    description: str
    evidence: dict[str, Any]
    first_detected: date
    last_confirmed: date
    measure: str | None
    responsible: str | None
    deadline: date | None
    closed_on: datetime | None
    closed_by: str | None
    close_note: str | None


class FindingEventOut(BaseModel):
    at: datetime
    actor: str
    action: str
    details: dict[str, Any]


class FindingDetail(FindingOut):
    history: list[FindingEventOut]


class RectifyIn(Strict):
    measure: str = Field(min_length=1, max_length=2000, pattern=r"\S", description="整改措施")
    responsible: str = Field(min_length=1, max_length=200, pattern=r"\S", description="责任单位及责任人")
    deadline: date = Field(description="整改时限")


class CloseIn(Strict):
    note: str = Field(min_length=1, max_length=2000, pattern=r"\S", description="整改完成情况 / 销号说明")


class CorrectionIn(Strict):
    day: date = Field(description="the local day corrected (the first, with to_day)")
    to_day: date | None = Field(None, description="the last day, for a range marked invalid")
    kind: Literal["invalid", "volume"]
    volume_m3: Decimal | None = Field(None, ge=0, description="the corrected volume (kind volume)")
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S")
    evidence: str | None = Field(None, max_length=2000, description="where the evidence is (a reference)")


class RevokeIn(Strict):
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S")


class CorrectionOut(BaseModel):
    id: int
    meter_id: str
    day: date
    kind: str
    volume_m3: Decimal | None
    previous_m3: Decimal | None = Field(description="the day's reported volume before the correction")
    reason: str
    evidence: str | None
    created_by: str
    created_at: datetime
    revoked_by: str | None
    revoked_at: datetime | None
    revoke_reason: str | None


class RejectedOut(BaseModel):
    id: int
    received_at: datetime
    source: str = Field(description="the transport it came by: mqtt or szy206")
    meter_id: str | None = Field(description="the meter it names, when one could be named")
    topic: str | None = Field(description="MQTT: the topic it came on")
    peer: str | None = Field(description="SZY 206 over TCP: the RTU's remote address")
    element: int | None = Field(description="the refused element of a JSON array, or an RTU's channel")
    reason: str
    message: str
    payload_encoding: Literal["text", "hex"]
    payload: str = Field(
        description="as received: MQTT payloads (and manual entries) as text (bytes outside ASCII "
        "escaped), SZY 206 frames in hex"
    )
    replayed_at: datetime | None = Field(None, description="when a replay stored what it refused")
    replay_result: str | None = Field(None, description="what that replay stored")


class RejectedSummaryOut(BaseModel):
    meter_id: str | None = Field(description="the meter named; null when none could be named")
    reason: str
    rejected: int
    waiting: int = Field(description="not yet replayed")
    first_received_at: datetime
    last_received_at: datetime


class ReplayIn(Strict):
    meter_id: str | None = Field(None, max_length=200, description="only this meter's messages")
    reason: str | None = Field(None, max_length=64, description="only rows refused for this reason code")
    since: BodyDateTime | None = Field(None, description="only messages received at or after this time")


class ReplayOut(BaseModel):
    messages: int = Field(description="kept messages decoded and stored again")
    rows_resolved: int = Field(description="rejected rows whose refusal is gone: now stored, marked replayed")
    rows_still_refused: int
    stored: int = Field(description="readings stored")
    duplicates: int = Field(description="readings already stored (nothing twice)")
    conflicts: int
    new_refusals: int = Field(description="refusals a replay found that no row recorded, now kept")
    still_refused: dict[str, int] = Field(description="why rows stay refused: reason -> rows")
    more: bool = Field(description="the limit of one replay was reached: replay again for the rest")


class UserOut(BaseModel):
    name: str
    role: Role
    division_code: str | None = Field(
        None, description="GB/T 2260 code of a county, city or province; null: all divisions"
    )
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class UserIn(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
    role: Role
    division_code: str | None = Field(
        None,
        pattern=r"^[1-9][0-9]{5}$",
        description="what the user sees and changes (a county, city or province code, inside the caller's); "
        "null: the caller's own division",
    )


class IssuedToken(BaseModel):
    name: str
    role: Role
    division_code: str | None = Field(
        None, description="GB/T 2260 code of a county, city or province; null: all divisions"
    )
    token: str = Field(description="shown once; only its hash is stored")


class ImportResult(BaseModel):
    summary: list[str]
    warnings: list[str]


class IssuedExportOut(BaseModel):
    sha256: str
    issued: bool = Field(
        description="whether this exact file was issued by the service (inside your division)"
    )
    report: str | None = None
    format: str | None = None
    division_code: str | None = None
    year: int | None = None
    as_of: date | None = None
    issued_at: datetime | None = None
    issued_by: str | None = None
    cutoff: datetime | None = None  # the newest reading committed when it was made
    bytes: int | None = None


class SubmissionIn(Strict):
    year: int = Field(ge=2000, le=2100)
    note: str | None = Field(None, max_length=2000)


class ReviewIn(Strict):
    note: str | None = Field(None, max_length=2000)


class ReturnIn(Strict):
    reason: str = Field(min_length=1, max_length=2000, description="why it is returned: what to fix")


class SubmissionOut(BaseModel):
    id: int
    division_code: str
    division_name: str
    kind: Literal["annual", "progress"] = Field(
        description="annual: the year's reports; progress: a month's progress report"
    )
    year: int
    month: date | None = Field(description="a progress report's month (its first day)")
    version: int
    state: Literal["submitted", "returned", "accepted"]
    sha256: str = Field(description="of the frozen reports")
    submitted_by: str
    submitted_at: datetime


class SubmissionEventOut(BaseModel):
    at: datetime
    actor: str
    action: Literal["submitted", "returned", "accepted"]
    note: str | None


class FrozenReport(BaseModel):
    as_of: date
    headers: list[str]
    rows: list[list[str | None]]


class SubmissionDetail(SubmissionOut):
    events: list[SubmissionEventOut]
    reports: dict[str, FrozenReport] = Field(
        description="as submitted: registration, summary, ledger (progress reports: progress, progress_notes)"
    )


class RowChangeOut(BaseModel):
    report: str
    key: str
    change: Literal["added", "removed", "changed"]
    before: list[str | None] | None
    after: list[str | None] | None


class RegistryChangeOut(BaseModel):
    at: datetime
    actor: str = Field(description="who: an API user, cli:<login>, or the database role")
    field: str = Field(description="the field changed, or (created) / (deleted) for the whole record")
    old_value: str | None
    new_value: str | None


class Me(BaseModel):
    name: str
    role: Role
    division_code: str | None = Field(
        None, description="GB/T 2260 code of a county, city or province; null: all divisions"
    )
    division_name: str | None = Field(None, description="the division's name (朝阳市建平县); null: all")
