"""The progress report's pure parts: months, a city's total as the sum of its counties, the page."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from decimal import Decimal

import pytest

from anomaly.progress import Progress, month_end, parse_month, to_html, to_tables, total


def test_a_month_is_written_yyyy_mm() -> None:
    assert parse_month("2026-02") == date(2026, 2, 1)
    assert month_end(date(2024, 2, 1)) == date(2024, 2, 29) and month_end(date(2026, 12, 1)) == date(
        2026, 12, 31
    )
    for bad in ("2026-13", "2026-2", "26-02", "2026-00", "next month"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            parse_month(bad)


def test_the_total_is_the_sum_of_every_count_and_volume() -> None:
    a = Progress(
        "211381",
        "北票市",
        intakes_total=10,
        findings_closed=4,
        findings_closed_on_time=3,
        readings_expected=100,
        readings_received=90,
        metered_m3=Decimal("1.5"),
        annual_submission="accepted",
    )
    b = Progress("211382", "凌源市", intakes_total=5, findings_closed=1, findings_closed_on_time=1,
                 readings_expected=100, readings_received=50, metered_m3=Decimal("2.25"))  # fmt: skip
    both = total("211300", "朝阳市合计", [a, b])
    for f in fields(Progress):
        if f.name.startswith("division") or "submission" in f.name:
            continue
        assert getattr(both, f.name) == getattr(a, f.name) + getattr(b, f.name), f.name
    assert both.on_time_share == 0.8 and both.arrival_rate == 0.7 and both.annual_submission == ""
    assert Progress("x", "y").on_time_share is None and Progress("x", "y").arrival_rate is None


def test_the_page_escapes_what_people_wrote() -> None:
    rows = [Progress("211381", "北票市", intakes_total=3)]
    page = to_html("进展 <1>", date(2026, 11, 1), rows, {"work": "<script>alert(1)</script>\n第二行"})
    assert "<script>" not in page and "&lt;script&gt;" in page and "第二行" in page and "<br>" in page
    figures, notes = to_tables(date(2026, 11, 1), rows, {"work": "做了"})
    assert figures.rows[0][:2] == ["北票市", 3] and notes.rows[0] == ["工作开展情况", "做了"]
