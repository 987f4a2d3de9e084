"""Where an exported report comes from: what it is, for which division and period, when, for whom,
and the data's cut-off. Written into the file (an XLSX's 数据来源 sheet) and recorded with the file's
SHA-256, so a file handed on can be verified. Pure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

SHEET = "数据来源"


@dataclass(frozen=True, slots=True)
class Provenance:
    report: str
    year: int
    as_of: date
    division_code: str | None  # None: all divisions
    division_name: str | None
    issued_at: datetime
    issued_by: str
    cutoff: datetime | None  # the newest reading committed when the file was made

    def rows(self) -> list[tuple[str, str, str]]:
        """(Chinese label, English label, value) lines of the provenance sheet."""
        division = (
            f"{self.division_code} {self.division_name or ''}".strip() if self.division_code else "全部"
        )
        return [
            ("报表", "report", self.report),
            ("年度", "year", str(self.year)),
            ("数据截止日", "as of", self.as_of.isoformat()),
            ("行政区划", "division", division),
            ("生成时间", "issued at", self.issued_at.isoformat(timespec="seconds")),
            ("生成人", "issued by", self.issued_by),
            (
                "最新读数入库时间",
                "data cut-off",
                self.cutoff.isoformat(timespec="seconds") if self.cutoff else "—",
            ),
            (
                "校验",
                "verify",
                "intake verify FILE, or POST /api/v1/verify: the file's SHA-256 is recorded",
            ),
        ]


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
