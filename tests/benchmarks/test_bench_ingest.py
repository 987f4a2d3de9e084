"""`intake bench ingest` on a small stream: every key of the JSON, nothing lost or counted twice."""

from __future__ import annotations

import json
from pathlib import Path

from tests.intake.test_cli import intake_within

KEYS = {
    "ceiling_rate",
    "naive_rate",
    "collector_rate",
    "ratio_to_ceiling",
    "ratio_to_naive",
    "p50_ms",
    "p99_ms",
    "rss_mb",
    "lost",
    "duplicated",
}


def test_bench_ingest_writes_every_key_and_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    done = intake_within(
        300,
        "bench", "ingest", "--meters", "20", "--messages", "3000", "--batch", "2", "--seconds", "3",
        "--json", str(out), "--no-record",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert set(result) >= KEYS
    assert (result["lost"], result["duplicated"]) == (0, 0)
    assert result["volume_error_m3"] < 0.001  # daily volumes add up to the totalizer advance (1 mL rounding)
    assert result["readings_per_message"] == 2 and result["live_readings"] > 0
    assert 0 < result["p50_ms"] <= result["p99_ms"]
    assert result["collector_rate"] > 0 and result["naive_rate"] > 0 and result["ceiling_rate"] > 0
    assert "| `intake collect` x 1" in done.stdout
