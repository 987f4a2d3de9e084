"""The forms' reports: headers as in the seed's forms, contents from a hand-built registry."""

from __future__ import annotations

import csv
import os
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl

from anomaly.reports import LEDGER_HEADERS, SUMMARY_HEADERS, ledger_rows, registration_headers
from devices.model import ConstructionStatus, Intake, SourceType, WaterUse
from tests.anomaly.test_sweep import registry
from tests.intake.test_cli import intake


def _seed_folders() -> list[Path]:
    """Where the campaign document may be: INTAKE_SEED_DIR, shared/seed beside the repository (as CI
    lays it), or beside the repository this one was cloned from."""
    root = Path(__file__).resolve().parents[2]
    folders = [root.parent / "shared" / "seed"]
    origin = subprocess.run(
        ["git", "-C", str(root), "config", "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        folders.append(Path(origin).resolve().parent / "shared" / "seed")
    if os.environ.get("INTAKE_SEED_DIR"):
        folders.insert(0, Path(os.environ["INTAKE_SEED_DIR"]))
    return folders


def _seed() -> str:
    for folder in _seed_folders():
        found = sorted(folder.glob("*.txt"))
        if found:
            return found[0].read_text(encoding="utf-8")
    raise AssertionError(f"the seed document is in none of {_seed_folders()}: set INTAKE_SEED_DIR")


SEED = _seed()


def form_header(annex: str) -> list[str]:
    """The header row (序号 ...) of an annex in the seed's text."""
    after = SEED.split(f"\n{annex}\n", 1)[1]
    line = next(line for line in after.splitlines() if line.startswith("序号"))
    return [cell for cell in line.split("\t") if cell]


def test_report_headers_match_the_seed_forms() -> None:
    assert form_header("附件 2") == SUMMARY_HEADERS
    assert form_header("附件 3") == LEDGER_HEADERS
    annex_1 = SEED.split("\n附件 1\n", 1)[1].split("\n附件 2\n", 1)[0]
    for word in ("许可证号", "审批机关", "有效期", "实际取水量", "数据获取方式", "第一年", "第四年"):
        assert word in annex_1
        assert any(word in h for h in registration_headers([2023, 2024, 2025, 2026]))


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


def test_reports_from_a_swept_registry(database_url: str, tmp_path: Path) -> None:
    registry(database_url, tmp_path)
    env = {"INTAKE_DATABASE_URL": database_url}
    assert intake("check", "--as-of", "2026-11-20", **env).returncode == 0
    for kind in ("compliance", "ledger", "summary"):
        done = intake("report", kind, "--as-of", "2026-11-20", "--out", str(tmp_path / f"{kind}.csv"), **env)
        assert done.returncode == 0, done.stderr
    done = intake(
        "report", "registration", "--as-of", "2026-11-20", "--out", str(tmp_path / "reg.xlsx"), **env
    )
    assert done.returncode == 0, done.stderr

    compliance = {row[0]: row for row in read_csv(tmp_path / "compliance.csv")[1:]}
    jp = compliance["取水(辽朝JP)字[2022]第00001号"]
    assert jp[3:8] == ["I-JP-1、I-JP-2", "12.5000", "16.2000", "129.6%", jp[7]] and jp[-1] == "超许可"
    assert compliance["取水(辽朝BP)字[2023]第00002号"][-1] == "正常"

    ledger = read_csv(tmp_path / "ledger.csv")
    # one row per intake and problem type (the form's): permit JP's over_permit and permit_expiring
    # give each of its two intakes a row (projected_over_permit is superseded by over_permit), I-JP-1's
    # overdue calibration, I-JP-2's missing online metering, I-BP-1 offline, I-X-1 without a permit
    assert ledger[0] == LEDGER_HEADERS and len(ledger) == 1 + 8
    assert sorted((row[1], row[3]) for row in ledger[1:]) == sorted(
        set((row[1], row[3]) for row in ledger[1:])
    )
    assert {row[3] for row in ledger[1:]} == {
        "未按规定取水",
        "取水许可证逾期失效仍取水",
        "计量设施安装及运维不规范",
        "未经批准擅自取水",
    }
    assert all(row[8] == "未整改" for row in ledger[1:])

    summary = {row[2]: row for row in read_csv(tmp_path / "summary.csv")[1:]}
    assert summary["I-JP-1"][9:14] == [
        "是",
        "12.5000",
        summary["I-JP-1"][11],
        "是",
        "否",
    ]  # calibration overdue
    assert summary["I-X-1"][9] == "否" and summary["I-BP-1"][13] == "否"  # no permit; offline

    sheet = openpyxl.load_workbook(tmp_path / "reg.xlsx").active
    assert sheet is not None
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    # 2026 up to 20 November: 324 metered days of 500 m³ = 16.2 万m³; 2023-2025 had a meter but no data:
    # estimated at the design capacity (800 m³/day) -> 29.2 万m³ a year, 推算
    assert rows["I-JP-1"][6:10] == (29.2, 29.28, 29.2, 16.2)  # numeric cells; 2024 has 366 days
    assert rows["I-JP-1"][10:12] == ("推算", "2023:推算；2024:推算；2025:推算；2026:监测计量")
    basis = str(rows["I-JP-1"][12]).split("；")
    assert basis[0] == (
        "2023: 0 of 365 days measured; 365 days estimated at 800.000 m³/d (the design daily capacity)"
    )
    assert basis[3].startswith("2026: 324 of 324 days measured")


def test_annex_3_has_one_row_per_intake_and_problem_type() -> None:
    """A permit's one finding gives each of its intakes a row; two findings of one type on one intake
    share a row (the least advanced state, the latest deadline); an intake outside is left out."""
    jp = {"intakes": ["I-JP-1", "I-JP-2"], "name": "取水许可证JP（2个取水口）"}

    def row(n: int, intake: str | None, problem: str, description: str, **more: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "id": n,
            "intake_code": intake,
            "subject": None if intake else "permit:JP",
            "problem": problem,
        }
        base |= {"description": description, "evidence": {} if intake else jp, "state": "open"}
        return base | {"measure": None, "responsible": None, "deadline": None} | more

    findings = [
        row(1, None, "over_permit", "超许可"),
        row(
            2,
            "I-JP-1",
            "metering",
            "检定超期",
            state="rectifying",
            measure="送检",
            deadline=date(2026, 12, 1),
        ),
        row(3, "I-JP-1", "metering", "离线", state="rectifying", measure="修复", deadline=date(2026, 12, 20)),
    ]
    intakes = {
        code: Intake(
            code,
            f"{code}井",
            "某村",
            None,
            "建平县",
            None,
            119.6,
            41.4,
            "机井",
            None,
            ConstructionStatus.BUILT,
            SourceType.SHALLOW_GROUNDWATER,
            None,
            None,
            WaterUse.IRRIGATION,
            None,
            "JP",
        )
        for code in ("I-JP-1", "I-JP-2")
    }
    rows = ledger_rows(findings, intakes)
    assert [(r[1], r[3], r[4], r[5], r[7], r[8]) for r in rows] == [
        ("I-JP-1井", "未按规定取水", "超许可", "", "", "未整改"),
        ("I-JP-2井", "未按规定取水", "超许可", "", "", "未整改"),
        ("I-JP-1井", "计量设施安装及运维不规范", "检定超期；离线", "送检；修复", "2026-12-20", "整改中"),
    ]
    assert [r[0] for r in rows] == [1, 2, 3]
    inside = ledger_rows(findings, intakes, frozenset({"I-JP-2"}))
    assert [(r[1], r[3]) for r in inside] == [("I-JP-2井", "未按规定取水")]
