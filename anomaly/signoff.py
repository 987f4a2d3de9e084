"""Signed-off annual volumes: what reports show for a signed year, and when a revision is due. Pure.

An auditor's sign-off fixes an intake's annual volume (and its 数据获取方式) for a year: every later
report shows it. The computed value may move afterwards (late readings, a replay, a recompute, a
correction); then the intake has a revision pending, with both values, until a new sign-off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from anomaly.annual import AnnualVolume, Method


@dataclass(frozen=True, slots=True)
class SignOff:
    id: int
    intake_code: str
    year: int
    volume_m3: Decimal
    method: str
    signed_by: str
    signed_at: datetime


def signed_view(
    annual: Mapping[str, Sequence[AnnualVolume]], signoffs: Mapping[tuple[str, int], SignOff]
) -> dict[str, list[AnnualVolume]]:
    """The volumes reports show: a signed year's signed value and method, with what the data says now."""
    out: dict[str, list[AnnualVolume]] = {}
    for code, volumes in annual.items():
        shown = []
        for v in volumes:
            s = signoffs.get((code, v.year))
            if s is None:
                shown.append(v)
                continue
            moved = v.volume_m3 != s.volume_m3
            note = f"signed off by {s.signed_by} on {s.signed_at:%Y-%m-%d}"
            if moved:
                note += f"; computed now {v.volume_m3} m³, a revision waits for review"
            shown.append(
                replace(
                    v,
                    volume_m3=s.volume_m3,
                    method=Method(s.method),
                    signed_by=s.signed_by,
                    computed_m3=v.volume_m3,
                    pending_revision=moved,
                    basis=f"{note}. {v.basis}".strip(),
                )
            )
        out[code] = shown
    return out


def revisions_due(
    computed: Mapping[str, Sequence[AnnualVolume]],
    signoffs: Mapping[tuple[str, int], SignOff],
    recorded: set[tuple[int, Decimal]],
) -> list[tuple[SignOff, Decimal]]:
    """(sign-off, computed value) for each signed year the data no longer agrees with, once per value."""
    due = []
    for (code, year), s in sorted(signoffs.items()):
        now = next((v.volume_m3 for v in computed.get(code, []) if v.year == year), None)
        if now is not None and now != s.volume_m3 and (s.id, now) not in recorded:
            due.append((s, now))
    return due
