"""The pure rules of sign-offs: reports show the signed value; a moved computed value is a revision."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from anomaly.annual import AnnualVolume, Method
from anomaly.signoff import SignOff, revisions_due, signed_view


def _volume(year: int, m3: str) -> AnnualVolume:
    return AnnualVolume(year, Decimal(m3), Method.METERED, 365, 0, 0, 365, Decimal(0), "all days measured")


def test_a_signed_year_shows_the_signed_value_beside_the_computed_one() -> None:
    signed = SignOff(
        7, "I-1", 2025, Decimal("1000"), str(Method.METERED), "auditor.sun", datetime(2026, 2, 1, tzinfo=UTC)
    )
    shown = signed_view({"I-1": [_volume(2025, "1000"), _volume(2026, "50")]}, {("I-1", 2025): signed})
    same, other = shown["I-1"]
    assert (same.volume_m3, same.signed_by, same.pending_revision) == (Decimal(1000), "auditor.sun", False)
    assert other.signed_by is None and other.volume_m3 == Decimal(50)  # an unsigned year as computed
    moved = signed_view({"I-1": [_volume(2025, "1100")]}, {("I-1", 2025): signed})["I-1"][0]
    assert (moved.volume_m3, moved.computed_m3, moved.pending_revision) == (
        Decimal(1000),
        Decimal(1100),
        True,
    )
    assert "computed now 1100 m³" in moved.basis and moved.basis.startswith("signed off by auditor.sun")
    assert revisions_due({"I-1": [_volume(2025, "1100")]}, {("I-1", 2025): signed}, set()) == [
        (signed, Decimal(1100))
    ]
    recorded = {(7, Decimal("1100.000"))}  # the same value, once
    assert revisions_due({"I-1": [_volume(2025, "1100")]}, {("I-1", 2025): signed}, recorded) == []
    assert revisions_due({"I-1": [_volume(2025, "1000")]}, {("I-1", 2025): signed}, set()) == []
