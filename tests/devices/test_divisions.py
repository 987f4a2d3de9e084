"""Administrative divisions: what a form's county means, the shipped Liaoning data, the import's
placing of intakes, the migration of databases made before divisions, and `intake divisions`."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from devices import queries as dq
from devices.divisions import Division, Divisions, Level, UnknownDivision, read_csv
from devices.errors import InvalidValue, RegistryRejected
from devices.forms import Table
from infra import migrations
from tests.devices.registry_files import good_rows, write_workbook
from tests.devices.test_registry import import_file
from tests.intake.test_cli import intake

HEADER_WIDTH = 16  # the form's intake columns; 行政区划代码 comes after them


def liaoning(url: str) -> Divisions:
    with psycopg.connect(url) as conn:
        return dq.load_divisions(conn)


def inside(url: str, scope: str | None) -> list[Division]:
    with psycopg.connect(url) as conn:
        return dq.divisions_inside(conn, scope)


def test_the_shipped_data_has_liaoning_and_chaoyang(database_url: str) -> None:
    levels = [d.level for d in inside(database_url, "210000")]
    assert levels.count(Level.PROVINCE) == 1 and levels.count(Level.CITY) == 14
    assert levels.count(Level.COUNTY) == 100 + 2  # GB/T 2260, and Chaoyang's two development zones
    chaoyang = {d.code: d.name for d in inside(database_url, "211300") if d.level is Level.COUNTY}
    assert chaoyang == {
        "211302": "双塔区",
        "211303": "龙城区",
        "211321": "朝阳县",
        "211322": "建平县",
        "211324": "喀喇沁左翼蒙古族自治县",
        "211371": "朝阳经济技术开发区",
        "211372": "朝阳高新技术产业开发区",
        "211381": "北票市",
        "211382": "凌源市",
    }


def test_a_county_is_named_by_its_name_short_form_or_city_and_name(database_url: str) -> None:
    divisions = liaoning(database_url)
    assert divisions.resolve("喀喇沁左翼蒙古族自治县") == "211324"
    assert divisions.resolve("喀左县") == "211324"
    assert divisions.resolve(" 朝阳市喀左县 ") == "211324"
    assert divisions.resolve("辽宁省朝阳市建平县") == "211322"
    assert divisions.resolve("岫岩县") == "210323"
    assert divisions.resolve("朝阳经开区") == "211371"
    assert divisions.resolve("鞍山市铁西区") == "210303"
    assert divisions.resolve("铁西区", "210106") == "210106"
    with pytest.raises(
        UnknownDivision, match=r"'铁西区' is ambiguous: 210106 沈阳市铁西区, 210303 鞍山市铁西区"
    ):
        divisions.resolve("铁西区")
    with pytest.raises(
        UnknownDivision, match=r"no known county-level unit; did you mean 211324 朝阳市喀喇沁"
    ):
        divisions.resolve("喀喇沁")
    with pytest.raises(UnknownDivision, match=r"'建平县' is not 211321 朝阳市朝阳县"):
        divisions.resolve("建平县", "211321")
    with pytest.raises(UnknownDivision, match="is a city, not a county-level unit"):
        divisions.resolve("朝阳市", "211300")
    with pytest.raises(UnknownDivision, match="219999 is not a known division"):
        divisions.resolve("", "219999")


def test_a_division_code_says_its_level_and_parent() -> None:
    assert (Division("211324", "喀左").level, Division("211324", "喀左").parent_code) == (
        Level.COUNTY,
        "211300",
    )
    assert (Division("211300", "朝阳市").level, Division("211300", "朝阳市").parent_code) == (
        Level.CITY,
        "210000",
    )
    assert Division("210000", "辽宁省").parent_code is None
    with pytest.raises(InvalidValue, match="not six digits"):
        Division("21132", "x")
    with pytest.raises(InvalidValue, match="a development zone is a county-level unit"):
        Division("211300", "x", kind="zone")


def test_what_lies_inside_a_division_is_decided_by_its_code(database_url: str) -> None:
    cases = [
        ("211324", "211300", True),
        ("211324", "210000", True),
        ("211324", None, True),
        ("211381", "211324", False),
        ("210303", "211300", False),
        ("220303", "210000", False),
        (None, "210000", False),  # an intake not yet placed: only for users of all divisions
        (None, None, True),
    ]
    with psycopg.connect(database_url) as conn:
        got = [(d, s, conn.execute("SELECT in_scope(%s, %s)", (d, s)).fetchone()) for d, s, _ in cases]
    assert [(d, s, row[0] if row else None) for d, s, row in got] == cases


def test_the_import_places_every_intake_and_refuses_an_unplaceable_county(
    database_url: str, tmp_path: Path
) -> None:
    rows = good_rows()
    rows[Table.INTAKES][0][4] = "铁西区"
    rows[Table.INTAKES][1][4] = "建平"
    with psycopg.connect(database_url) as conn:
        with pytest.raises(RegistryRejected) as refused:
            import_file(conn, write_workbook(tmp_path, rows))
        said = [str(p) for p in refused.value.problems]
        assert conn.execute("SELECT count(*) FROM intakes").fetchone() == (0,)  # nothing written
    assert any(
        "row 2, 所在县区 = '铁西区'" in s and "210106 沈阳市铁西区, 210303 鞍山市铁西区" in s for s in said
    )
    assert any("row 3, 所在县区 = '建平'" in s and "did you mean 211322 朝阳市建平县" in s for s in said)

    rows[Table.INTAKES][0][4] = "铁西区"
    rows[Table.INTAKES][0] += [None] * (HEADER_WIDTH - len(rows[Table.INTAKES][0])) + ["210303"]
    rows[Table.INTAKES][1][4] = "朝阳市建平县"
    with psycopg.connect(database_url) as conn:
        import_file(conn, write_workbook(tmp_path, rows))
        placed: dict[str, str | None] = dict(
            conn.execute("SELECT code, division_code FROM intakes").fetchall()
        )
    assert placed == {"I-JP-1": "210303", "I-JP-2": "211322", "I-BP-1": "211381"}
    out = tmp_path / "back.xlsx"
    done = intake("registry", "export", "--out", str(out), INTAKE_DATABASE_URL=database_url)
    assert done.returncode == 0, done.stderr
    again = intake("registry", "import", str(out), INTAKE_DATABASE_URL=database_url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "intakes             0 created       0 updated       3 unchanged" in again.stdout


def test_a_database_made_before_divisions_migrates_without_loss(
    empty_database_url: str, tmp_path: Path
) -> None:
    older = tmp_path / "migrations"
    older.mkdir()
    available = migrations.discover()
    before = [m for m in available if m.version < 16]
    for m in before:
        shutil.copy(migrations.MIGRATIONS_DIR / m.filename, older / m.filename)
    counties = {"A": "建平县", "B": "喀左县", "C": "铁西区", "D": "某某县"}
    with psycopg.connect(empty_database_url) as conn:
        migrations.migrate(conn, older)
        conn.autocommit = False
        for code, county in counties.items():
            conn.execute(
                "INSERT INTO intakes (code, name, owner, county, longitude, latitude, engineering_type, "
                "status, source_type, water_use) "
                "VALUES (%s, 'n', 'o', %s, 120, 41, '机井', 'built', 'river', 'industry')",
                (code, county),
            )
        conn.commit()
        migrations.migrate(conn)
        after = conn.execute("SELECT code, county, division_code FROM intakes ORDER BY code").fetchall()
    assert after == [
        ("A", "建平县", "211322"),
        ("B", "喀左县", "211324"),
        ("C", "铁西区", None),  # two cities have one: left for an import to place
        ("D", "某某县", None),
    ]
    done = intake("divisions", "unmapped", INTAKE_DATABASE_URL=empty_database_url)
    assert done.returncode == 0 and "铁西区" in done.stdout and "某某县" in done.stdout
    assert "2 intake(s) without a division" in done.stdout


def test_more_divisions_are_imported_from_a_csv(database_url: str, tmp_path: Path) -> None:
    good = tmp_path / "jilin.csv"
    good.write_text(
        "code,name,short_name,kind\n220000,吉林省,,\n220300,四平市,,\n220303,铁东区,,\n220371,四平经开区,,zone\n"
    )
    done = intake("divisions", "import", str(good), INTAKE_DATABASE_URL=database_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 division(s)" in done.stdout and "4 created or changed" in done.stdout
    again = intake("divisions", "import", str(good), INTAKE_DATABASE_URL=database_url)
    assert "0 created or changed" in again.stdout
    listed = intake(
        "divisions", "list", "--under", "220300", "--format", "csv", INTAKE_DATABASE_URL=database_url
    )
    assert [line.split(",")[0] for line in listed.stdout.splitlines()[1:]] == ["220300", "220303", "220371"]
    divisions = liaoning(database_url)
    assert divisions.resolve("四平市铁东区") == "220303"
    with pytest.raises(UnknownDivision, match="210302 鞍山市铁东区, 220303 四平市铁东区"):
        divisions.resolve("铁东区")  # 鞍山 has one too: from now on a form must say which
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,short_name,kind\n230303,,,\n230300,鸡西市,,\n")
    refused = intake("divisions", "import", str(bad), INTAKE_DATABASE_URL=database_url)
    assert refused.returncode != 0
    assert "line 2: division 230303 has no name" in refused.stdout + refused.stderr
    assert "no parent 230000" in refused.stdout + refused.stderr
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM divisions WHERE code LIKE '23%'").fetchone() == (0,)


def test_a_csv_without_the_header_is_refused() -> None:
    with pytest.raises(InvalidValue, match="the first line must be code,name,short_name,kind"):
        read_csv("220000,吉林省\n", "x.csv", Divisions([]))
