"""A sweep over a registry with stored volumes finds what a person would, and a re-run changes nothing."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from devices.forms import Table
from ingest.decode import decode_message
from ingest.message import Limits, MeterInfo
from ingest.store import store
from tests.devices.registry_files import good_rows, unpermitted_intake, write_workbook
from tests.devices.test_registry import import_file
from tests.intake.test_cli import intake
from tests.roles import MONITOR, as_role

ZONE = ZoneInfo("Asia/Shanghai")

# As of 20 November 2026 (the end of that local day):
# - permit JP (12.5万 = 125,000 m³, groundwater, valid to 2026-12-31) covers I-JP-1 and I-JP-2;
#   I-JP-1 withdrew 500 m³/day from 1 January: 324 days = 162,000 m³ > 125,000 -> over_permit, one
#   finding for the permit listing both intakes (projected_over_permit holds too, but over_permit
#   supersedes it); 41 days left -> permit_expiring, one for the permit;
#   M-JP-1 (DN80 water meter, calibrated 2024-04-02, every 2 years) -> calibration_overdue;
#   M-JP-2 cannot report online, and JP ≥ 5万 m³ of groundwater -> online_monitoring_missing (I-JP-2).
# - I-BP-1's meter M-BP-1 (online-capable) last reported 30 hours before the sweep -> meter_offline.
# - I-X-1 has no permit and withdrew 20 m³/day -> no_permit.
JP = "取水(辽朝JP)字[2022]第00001号"
EXPECTED = {
    (f"permit:{JP}", "over_permit"),
    (f"permit:{JP}", "permit_expiring"),
    ("I-JP-1", "calibration_overdue"),
    ("I-JP-2", "online_monitoring_missing"),
    ("I-BP-1", "meter_offline"),
    ("I-X-1", "no_permit"),
}
VOLUMES = """
INSERT INTO daily_volumes (meter_id, day, volume_m3, readings, coverage, method)
SELECT %s, d::date, %s, 96, 1.0, 'metered' FROM generate_series(%s::date, %s::date, interval '1 day') d"""
SEEN = """
INSERT INTO meter_state (meter_id, last_received_at)
VALUES (%s, '2026-11-21 00:00+08'::timestamptz - %s::interval)"""


def registry(database_url: str, tmp_path: Path) -> None:
    rows = good_rows()
    rows[Table.INTAKES].append(unpermitted_intake("I-X-1"))
    rows[Table.METERS].append(
        ["M-X-1", "I-X-1", "电磁流量计", 50, None, "是", 60, None, date(2024, 1, 1), None, None]
    )
    rows[Table.CALIBRATIONS].append(["M-X-1", date(2025, 6, 1), "合格", None])
    with psycopg.connect(database_url, autocommit=True) as conn:
        import_file(conn, write_workbook(tmp_path, rows))
        conn.execute(VOLUMES, ("M-JP-1", 500, "2026-01-01", "2026-11-20"))
        conn.execute(VOLUMES, ("M-X-1", 20, "2026-01-01", "2026-11-20"))
        for meter, ago in (("M-JP-1", "1 hour"), ("M-BP-1", "30 hours"), ("M-X-1", "2 hours")):
            conn.execute(SEEN, (meter, ago))


def open_findings(database_url: str) -> set[tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT coalesce(intake_code, subject), rule FROM findings WHERE state <> 'closed'"
        ).fetchall()
    return {(str(i), str(r)) for i, r in rows}


def test_sweep_finds_what_a_person_would_and_a_rerun_changes_nothing(
    database_url: str, tmp_path: Path
) -> None:
    registry(database_url, tmp_path)
    env = {"INTAKE_DATABASE_URL": as_role(database_url, MONITOR)}  # the sweep's own role
    first = intake("check", "--as-of", "2026-11-20", **env)
    assert first.returncode == 0, first.stderr
    assert "ledger: 6 new, 0 updated, 0 resolved" in first.stdout
    assert open_findings(database_url) == EXPECTED
    second = intake("check", "--as-of", "2026-11-20", **env)
    assert "ledger: 0 new, 0 updated, 0 resolved" in second.stdout
    with psycopg.connect(database_url, autocommit=True) as conn:  # M-BP-1 reports again
        conn.execute(
            "UPDATE meter_state SET last_received_at = '2026-11-20 23:00+08' WHERE meter_id = 'M-BP-1'"
        )
        description = conn.execute(
            "SELECT description, evidence -> 'intakes', division_code FROM findings "
            "WHERE rule = 'over_permit'"
        ).fetchone()
    third = intake("check", "--as-of", "2026-11-20", **env)
    assert "ledger: 0 new, 0 updated, 1 resolved" in third.stdout
    assert open_findings(database_url) == EXPECTED - {("I-BP-1", "meter_offline")}
    assert description == (
        "2026年截至11月20日计量取水量16.2000万m³，超过许可证取水(辽朝JP)字[2022]第00001号"
        "许可水量12.5000万m³（129.6%）",
        ["I-JP-1", "I-JP-2"],
        "211322",  # 建平县, which holds both
    )


def test_flow_mismatch_and_a_clock_ahead_are_found(database_url: str, tmp_path: Path) -> None:
    """M-X-1 (a pipe meter) integrated 21.5 m³ of flow on days its totalizer counted 20 m³ (7.5 % off,
    beyond 5 %); M-JP-1's flow is 4.9 % off (quiet). M-BP-1's readings were refused for a clock 30
    minutes ahead (beyond the 10 allowed)."""
    registry(database_url, tmp_path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE daily_volumes SET flow_m3 = 21.5 WHERE meter_id = 'M-X-1' AND day >= '2026-11-18'"
        )
        conn.execute("UPDATE daily_volumes SET flow_m3 = 524.5 WHERE meter_id = 'M-JP-1'")
        # refused by the collector's own decode: a reading 30 minutes ahead of the receive time
        received = datetime(2026, 11, 20, 12, tzinfo=ZONE)
        payload = b'{"ts": "2026-11-20T12:30:00+08:00", "total_m3": 5}'
        ahead = decode_message(
            "meters/M-BP-1/readings", payload, received, False, lambda m: MeterInfo(m, None, 900), Limits()
        )
        assert [r.reason for r in ahead.refusals] == ["ts_in_future"]
        store(conn, [ahead], {}, ZONE)
    done = intake("check", "--as-of", "2026-11-20", INTAKE_DATABASE_URL=database_url)
    assert done.returncode == 0, done.stderr
    assert open_findings(database_url) - EXPECTED == {("I-X-1", "flow_mismatch"), ("I-BP-1", "clock_skew")}
    with psycopg.connect(database_url) as conn:
        descriptions: dict[str, str] = dict(
            conn.execute(
                "SELECT rule, description FROM findings WHERE rule IN ('flow_mismatch', 'clock_skew')"
            ).fetchall()
        )
    assert descriptions["flow_mismatch"] == "3天累计水量与瞬时流量积分相差超过5%，如2026-11-18：20m³对21.5m³"
    assert descriptions["clock_skew"] == "计量设施M-BP-1时钟快1800秒（允许600秒）"
