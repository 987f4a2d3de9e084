"""`intake bench gateway` on a few RTUs: both servers measured, nothing lost or counted twice."""

from __future__ import annotations

import re

from tests.intake.test_cli import intake_within


def test_bench_gateway_measures_both_servers_and_loses_nothing() -> None:
    done = intake_within(300, "bench", "gateway", "--rtus", "8", "--frames", "5", "--no-record")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Lost (confirmed, not stored, or never confirmed) 0, duplicated 0" in done.stdout
    assert re.search(r"totalizer advance: 0(\.0+)? m³\. Naive lost 0\.", done.stdout.replace("\n", " "))
    rates = re.findall(r"\| ([\d,]+) \| (\d+) / (\d+) ms \|", done.stdout.replace("\\\n", ""))
    assert len(rates) == 2, done.stdout  # ours and the naive server, each with a rate and latencies
    for rate, p50, p99 in rates:
        assert int(rate.replace(",", "")) > 0 and int(p50) <= int(p99)
