"""Corrections of a meter's days by an operator or auditor: a day marked invalid, or given a corrected
volume, with a reason and evidence. The original stays in daily_volumes (the register's volume);
``daily_volumes.reported_m3``, ``known`` and ``credible`` follow the correction in force, and so do the
monthly and yearly rollups (their trigger). Corrections are never deleted: a new one for the same day
supersedes the one in force, a revocation undoes it, and each row says who, when, the day's reported
volume before, and the new value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from anomaly.ledger import LedgerError

Conn = psycopg.Connection[Any]
MAX_DAYS = 366  # one correction covers at most a year of days

METER = "SELECT installed_on FROM meters WHERE meter_id = %s"
IN_FORCE = """
SELECT id FROM volume_corrections WHERE meter_id = %s AND day = %s AND revoked_at IS NULL FOR UPDATE"""
SUPERSEDE = """
UPDATE volume_corrections SET revoked_at = now(), revoked_by = %s, revoke_reason = %s WHERE id = %s"""
REPORTED = "SELECT reported_m3 FROM daily_volumes WHERE meter_id = %s AND day = %s"
INSERT = """
INSERT INTO volume_corrections (meter_id, day, kind, volume_m3, previous_m3, reason, evidence, created_by)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"""
# A day the readings never reached gets a row of its own to carry the correction (no readings, no volume).
APPLY = """
INSERT INTO daily_volumes (meter_id, day, volume_m3, readings, coverage, method, correction_id, corrected_m3, invalid)
VALUES (%(meter)s, %(day)s, 0, 0, 0, 'incomplete', %(id)s, %(volume)s, %(invalid)s)
ON CONFLICT (meter_id, day) DO UPDATE SET
    correction_id = EXCLUDED.correction_id, corrected_m3 = EXCLUDED.corrected_m3, invalid = EXCLUDED.invalid"""
REVOKE = """
UPDATE volume_corrections SET revoked_at = now(), revoked_by = %s, revoke_reason = %s
WHERE id = %s AND revoked_at IS NULL RETURNING meter_id, day, previous_m3"""
UNAPPLY = """
UPDATE daily_volumes SET correction_id = NULL, corrected_m3 = NULL, invalid = false
WHERE meter_id = %s AND day = %s AND correction_id = %s"""
# A row made only to carry the correction goes with it: the day had no row before, and the readings
# have not reached it since.
DROP_CARRIER = """
DELETE FROM daily_volumes WHERE meter_id = %s AND day = %s AND correction_id IS NULL AND readings = 0
  AND first_ts IS NULL AND volume_m3 = 0 AND coverage = 0"""
LIST = """
SELECT id, meter_id, day, kind, volume_m3, previous_m3, reason, evidence, created_by, created_at,
       revoked_by, revoked_at, revoke_reason
FROM volume_corrections WHERE meter_id = %s ORDER BY day DESC, id DESC LIMIT %s OFFSET %s"""
COUNT = "SELECT count(*) FROM volume_corrections WHERE meter_id = %s"
ONE = "SELECT id, meter_id, day, revoked_at FROM volume_corrections WHERE id = %s"


class CorrectionError(LedgerError):
    """A correction that cannot be made; the message says why."""


@dataclass(frozen=True, slots=True)
class Correction:
    """What a person says about a meter's days (``first`` to ``last``, local days, included)."""

    meter_id: str
    first: date
    last: date
    volume_m3: Decimal | None  # None: the days are invalid (their volume unknown, to be estimated)
    reason: str
    evidence: str | None
    by: str

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise CorrectionError(f"the last day {self.last} is before the first {self.first}")
        if (self.last - self.first).days >= MAX_DAYS:
            raise CorrectionError(f"at most {MAX_DAYS} days in one correction")
        if self.volume_m3 is not None and self.volume_m3 < 0:
            raise CorrectionError(f"a corrected volume cannot be negative ({self.volume_m3} m³)")
        if self.volume_m3 is not None and self.first != self.last:
            raise CorrectionError("a corrected volume is for one day; mark a range of days invalid instead")
        if not self.reason.strip():
            raise CorrectionError("a correction needs a reason")

    @property
    def kind(self) -> str:
        return "invalid" if self.volume_m3 is None else "volume"

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def correct(conn: Conn, correction: Correction, today: date) -> list[int]:
    """Put ``correction`` in force for each of its days, superseding what was; the new ids."""
    row = conn.execute(METER, (correction.meter_id,)).fetchone()
    if row is None:
        raise CorrectionError(f"no meter {correction.meter_id}")
    if correction.last > today:
        raise CorrectionError(f"{correction.last} has not ended yet: a day is corrected once it is over")
    if correction.first < row[0]:
        raise CorrectionError(f"{correction.first} is before the meter was installed ({row[0]})")
    made = []
    with conn.transaction(), conn.cursor() as cur:
        for day in correction.days():
            current = cur.execute(IN_FORCE, (correction.meter_id, day)).fetchone()
            if current is not None:  # one in force per day: the new one takes its place
                cur.execute(SUPERSEDE, (correction.by, "superseded by a later correction", current[0]))
            previous = cur.execute(REPORTED, (correction.meter_id, day)).fetchone()
            new_id = cur.execute(
                INSERT,
                (
                    correction.meter_id,
                    day,
                    correction.kind,
                    correction.volume_m3,
                    previous[0] if previous else None,
                    correction.reason,
                    correction.evidence,
                    correction.by,
                ),
            ).fetchone()[0]  # type: ignore[index]
            cur.execute(
                APPLY,
                {
                    "meter": correction.meter_id,
                    "day": day,
                    "id": new_id,
                    "volume": correction.volume_m3,
                    "invalid": correction.volume_m3 is None,
                },
            )
            made.append(int(new_id))
    return made


def revoke(conn: Conn, correction_id: int, reason: str, by: str) -> None:
    """Take a correction out of force: the day reports the register's volume again."""
    if not reason.strip():
        raise CorrectionError("a revocation needs a reason")
    with conn.transaction(), conn.cursor() as cur:
        row = cur.execute(REVOKE, (by, reason, correction_id)).fetchone()
        if row is None:
            found = cur.execute(ONE, (correction_id,)).fetchone()
            if found is None:
                raise CorrectionError(f"no correction {correction_id}")
            raise CorrectionError(f"correction {correction_id} was already revoked")
        meter_id, day, previous = row
        cur.execute(UNAPPLY, (meter_id, day, correction_id))
        if previous is None:
            cur.execute(DROP_CARRIER, (meter_id, day))


def list_corrections(conn: Conn, meter_id: str, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(LIST, (meter_id, limit, offset)).fetchall()
    total = conn.execute(COUNT, (meter_id,)).fetchone()
    return rows, int(total[0]) if total else 0


def one(conn: Conn, correction_id: int) -> tuple[str, date, bool] | None:
    """(meter, day, revoked) of a correction, or None."""
    row = conn.execute(ONE, (correction_id,)).fetchone()
    return None if row is None else (str(row[1]), row[2], row[3] is not None)
