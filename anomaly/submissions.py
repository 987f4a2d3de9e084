"""Submissions up the hierarchy (逐级审核上报): what a submission freezes, who may do what, and what
changed between a returned version and its resubmission. Pure."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from anomaly.tables import Table

REPORTS = ("registration", "summary", "ledger")  # Annex 1's annual volumes, Annex 2, Annex 3


class State(StrEnum):
    SUBMITTED = "submitted"
    RETURNED = "returned"
    ACCEPTED = "accepted"


class SubmissionError(ValueError):
    """A step the rules do not allow; the message says why."""


def freeze(tables: Sequence[Table]) -> tuple[dict[str, Any], str]:
    """The reports as stored (JSON: headers and rows as text), and the SHA-256 of that form."""
    contents = {
        t.kind: {
            "as_of": t.as_of.isoformat(),
            "headers": t.headers,
            "rows": [[_text(v) for v in r] for r in t.rows],
        }
        for t in tables
    }
    canonical = json.dumps(contents, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return contents, hashlib.sha256(canonical.encode()).hexdigest()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def may_submit(division: str | None, live: State | None) -> None:
    """A county or a city submits for itself; not while its last submission is under review or
    accepted (``live``: the state of the one that is)."""
    if division is None:
        raise SubmissionError("a user of all divisions has no division to submit for")
    if live is State.SUBMITTED:
        raise SubmissionError("the last submission is being reviewed: wait for it to be returned")
    if live is State.ACCEPTED:
        raise SubmissionError("the year's submission was accepted: nothing to submit again")


def may_review(reviewer: str | None, submitter: str, inside: bool, state: State) -> None:
    """The division above (or any above it) reviews; never the submitter's own."""
    if not inside or reviewer == submitter:
        raise SubmissionError("a submission is reviewed by the division above it, not by its own")
    if state is not State.SUBMITTED:
        raise SubmissionError(f"the submission is {state}: only a submitted one is reviewed")


@dataclass(frozen=True, slots=True)
class RowChange:
    report: str
    key: str  # the row's first column: the intake code, or the finding's row number
    change: str  # added, removed, changed
    before: list[str | None] | None
    after: list[str | None] | None


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[RowChange]:
    """Row by row, what a resubmission changed against the version before it."""
    out: list[RowChange] = []
    for report in sorted(set(old) | set(new)):
        before = {_key(report, r): r for r in old.get(report, {}).get("rows", [])}
        after = {_key(report, r): r for r in new.get(report, {}).get("rows", [])}
        for key in sorted(set(before) | set(after)):
            b, a = before.get(key), after.get(key)
            if b == a:
                continue
            change = "added" if b is None else "removed" if a is None else "changed"
            out.append(RowChange(report, key, change, b, a))
    return out


def _key(report: str, row: Sequence[str | None]) -> str:
    # Annex 2 and 3 number their rows, which a new row renumbers: key them by what they are about
    if report == "summary" and len(row) > 2:
        return str(row[2])  # 取水口编号
    if report == "ledger" and len(row) > 4:
        return f"{row[1]} · {row[3]} · {row[4]}"  # the project, the problem type and its description
    return str(row[0])
