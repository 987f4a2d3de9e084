"""`intake registry ...` as a user runs it."""

from __future__ import annotations

from pathlib import Path

import psycopg

from devices.forms import Table
from tests.devices.registry_files import good_rows, write_workbook
from tests.intake.test_cli import intake


def test_sample_import_reimport_export(database_url: str, tmp_path: Path) -> None:
    env = {"INTAKE_DATABASE_URL": database_url}
    sample = intake(
        "registry",
        "sample",
        "--intakes",
        "400",
        "--seed",
        "3",
        "--today",
        "2026-11-29",
        "--out",
        str(tmp_path / "s.xlsx"),
        **env,
    )
    assert sample.returncode == 0, sample.stderr
    assert "400 intakes" in sample.stdout
    first = intake("registry", "import", str(tmp_path / "s.xlsx"), **env)
    assert first.returncode == 0, first.stderr
    assert "intakes           400 created       0 updated       0 unchanged" in first.stdout
    second = intake("registry", "import", str(tmp_path / "s.xlsx"), **env)
    assert "intakes             0 created       0 updated     400 unchanged" in second.stdout
    export = intake("registry", "export", "--format", "csv", "--out", str(tmp_path / "out"), **env)
    assert export.returncode == 0, export.stderr
    assert (
        (tmp_path / "out" / "intakes.csv").read_text(encoding="utf-8-sig").startswith("取水口编号,取水口名称")
    )
    again = intake("registry", "import", str(tmp_path / "out"), **env)
    assert "intakes             0 created       0 updated     400 unchanged" in again.stdout


def test_dry_run_writes_nothing(database_url: str, tmp_path: Path) -> None:
    path = write_workbook(tmp_path, good_rows())
    done = intake("registry", "import", "--dry-run", str(path), INTAKE_DATABASE_URL=database_url)
    assert done.returncode == 0, done.stderr
    assert "intakes             3 created" in done.stdout
    assert "dry run: nothing written" in done.stdout
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM intakes").fetchone() == (0,)


def test_refused_import_lists_every_problem_and_exits_non_zero(database_url: str, tmp_path: Path) -> None:
    rows = good_rows()
    rows[Table.INTAKES][0][6] = "200,41"
    rows[Table.INTAKES][1][13] = "养殖"
    path = write_workbook(tmp_path, rows)
    done = intake("registry", "import", str(path), INTAKE_DATABASE_URL=database_url)
    assert done.returncode == 1
    assert "import refused: 2 problem(s); nothing was written" in done.stderr
    assert (
        "registry.xlsx:取水口 row 2, 取水口坐标 = '200.0,41.0': longitude 200.0 is outside China"
        in done.stderr
    )
    assert "registry.xlsx:取水口 row 3, 取水用途 = '养殖': unknown water use" in done.stderr
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM permits").fetchone() == (0,)


def test_unreadable_file_is_named(database_url: str, tmp_path: Path) -> None:
    bogus = tmp_path / "registry.xlsx"
    bogus.write_text("not a workbook")
    done = intake(
        "registry", "import", str(bogus), str(tmp_path / "missing.csv"), INTAKE_DATABASE_URL=database_url
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"intake: {bogus}: not a readable .xlsx workbook")


def test_credentials_command_never_prints_a_password(database_url: str, tmp_path: Path) -> None:
    env = {"INTAKE_DATABASE_URL": database_url}
    intake("registry", "import", str(write_workbook(tmp_path, good_rows())), **env)
    done = intake("registry", "credentials", "--out", str(tmp_path / "auth"), **env)
    assert done.returncode == 0, done.stderr
    assert "3 meter account(s) and collector 'intake-collector'" in done.stdout
    issued = next((tmp_path / "auth").glob("issued-*.csv"))
    passwords = [line.split(",")[1] for line in issued.read_text().splitlines()[1:]]
    assert len(passwords) == 4
    assert not any(p in done.stdout + done.stderr for p in passwords)
    again = intake("registry", "credentials", "--out", str(tmp_path / "auth"), **env)
    assert "no new passwords" in again.stdout
    wrong = intake("registry", "credentials", "--out", str(tmp_path / "auth"), "--rotate", "M-NONE", **env)
    assert wrong.returncode == 1
    assert "no such meter M-NONE" in wrong.stderr
