"""Manual readings (人工抄表) go through the collector's checks and store: volumes between them are exact,
each is marked manual, bad rows come back with their reason, and nothing is stored twice or lost."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from devices.manual import Channel, ManualEntry, read_rows
from infra.testbed import register_meters
from ingest.manual import store_manual
from ingest.message import Limits
from tests.ingest.harness import count, scalar
from tests.intake.test_cli import intake
from tests.roles import API, as_role

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def entry(row: int, meter: str, when: datetime, total: str) -> ManualEntry:
    return ManualEntry(row, meter, when, Decimal(total), "张三", f"IMG_{row}.jpg")


def store(url: str, entries: list[ManualEntry], scope: str | None = None, role: str | None = None):  # type: ignore[no-untyped-def]
    with psycopg.connect(as_role(url, role) if role else url, autocommit=True) as conn:
        return store_manual(conn, entries, ZONE, Limits(zone=ZONE), "operator1", Channel.UPLOAD, NOW, scope)


def days(url: str, meter: str) -> dict[date, Decimal]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT day, volume_m3 FROM daily_volumes WHERE meter_id = %s ORDER BY day", (meter,)
        )
        return dict(rows.fetchall())


def test_two_manual_readings_give_the_exact_volume_between_them(database_url: str) -> None:
    register_meters(database_url, ["M1"])
    first = datetime(2026, 5, 1, 9, 30, tzinfo=ZONE)
    last = datetime(2026, 5, 31, 9, 30, tzinfo=ZONE)
    done = store(
        database_url, [entry(2, "M1", first, "1000.125"), entry(3, "M1", last, "1300.250")], role=API
    )
    assert [e.row for e in done.stored] == [2, 3] and done.problems == [] and done.days > 0
    volumes = days(database_url, "M1")
    # exact to the litre (days are stored to the mL, the 30-day interval split between 31 local days)
    assert sum(volumes.values(), Decimal(0)).quantize(Decimal("0.001")) == Decimal("300.125")
    assert min(volumes) == date(2026, 5, 1) and max(volumes) == date(2026, 5, 31)
    with psycopg.connect(database_url) as conn:
        marked = conn.execute(
            "SELECT r.total_m3, mr.read_by, mr.photo_ref, mr.entered_by, mr.channel FROM readings r "
            "JOIN manual_readings mr USING (meter_id, ts) ORDER BY r.ts"
        ).fetchall()
        heard = conn.execute("SELECT last_received_at, readings_stored FROM meter_state").fetchone()
    assert marked == [
        (Decimal("1000.125"), "张三", "IMG_2.jpg", "operator1", "upload"),
        (Decimal("1300.250"), "张三", "IMG_3.jpg", "operator1", "upload"),
    ]
    assert heard == (None, 2)  # stored, but the meter itself was not heard from


def test_bad_rows_are_refused_with_their_reason_and_the_rest_is_stored(database_url: str) -> None:
    register_meters(database_url, ["M1"])
    register_meters(database_url, ["OLD"], removed=True)  # removed on 2021-01-01
    may = datetime(2026, 5, 1, 8, tzinfo=ZONE)
    done = store(
        database_url,
        [
            entry(2, "M1", may, "10"),
            entry(3, "NOPE", may, "10"),
            entry(4, "M1", NOW + timedelta(hours=2), "20"),  # ahead of the clock
            entry(5, "M1", may + timedelta(days=1), "-1"),
            entry(6, "M1", datetime(2019, 12, 1, tzinfo=ZONE), "1"),  # installed 2020-01-01
            entry(7, "OLD", may, "1"),
            entry(8, "M1", may + timedelta(days=2), "1e9"),  # beyond its 10⁸ m³ register
            entry(9, "M1", may + timedelta(days=3), "40"),
        ],
    )
    assert [e.row for e in done.stored] == [2, 9]
    assert [(p.row, p.reason) for p in done.problems] == [
        (3, "unknown_meter"),
        (4, "ts_in_future"),
        (5, "total_negative"),
        (6, "before_installation"),
        (7, "inactive_meter"),
        (8, "total_too_large"),
    ]
    assert all(p.message for p in done.problems)
    assert count(database_url, "readings") == 2 and count(database_url, "manual_readings") == 2


def test_a_batch_entered_twice_stores_nothing_twice_and_a_different_value_is_a_conflict(
    database_url: str,
) -> None:
    register_meters(database_url, ["M1"])
    t0 = datetime(2026, 5, 1, 8, tzinfo=ZONE)
    batch = [entry(2, "M1", t0, "100"), entry(3, "M1", t0 + timedelta(days=10), "150")]
    assert len(store(database_url, batch).stored) == 2
    again = store(database_url, [*batch, entry(4, "M1", t0 + timedelta(days=5), "120")])
    assert [e.row for e in again.already] == [2, 3] and [e.row for e in again.stored] == [4]
    assert count(database_url, "readings") == 3 and count(database_url, "manual_readings") == 3
    assert sum(days(database_url, "M1").values()) == Decimal(50)

    other = store(database_url, [entry(2, "M1", t0 + timedelta(days=10), "151")])
    assert [(p.row, p.reason) for p in other.problems] == [(2, "conflict")]
    assert "150" in other.problems[0].message
    assert count(database_url, "readings") == 3  # the stored one stands
    assert scalar(database_url, "SELECT total_m3 FROM reading_conflicts") == Decimal(151)  # kept for review
    assert scalar(database_url, "SELECT source FROM reading_conflicts") == "manual"


def test_a_meter_outside_the_callers_division_is_unknown_to_it(database_url: str) -> None:
    register_meters(database_url, ["M1"])  # an intake of 建平县 (211322)
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE intakes SET division_code = '211322'")
    t0 = datetime(2026, 5, 1, 8, tzinfo=ZONE)
    outside = store(database_url, [entry(2, "M1", t0, "1")], scope="211381")  # 北票市
    assert [(p.row, p.reason) for p in outside.problems] == [(2, "unknown_meter")]
    assert count(database_url, "readings") == 0
    inside = store(database_url, [entry(2, "M1", t0, "1")], scope="2113")  # 朝阳市 holds 建平县
    assert len(inside.stored) == 1


def test_a_reading_the_database_refuses_as_data_is_refused_alone(database_url: str) -> None:
    register_meters(database_url, ["M1", "M2"])
    with psycopg.connect(database_url) as conn:  # a rule of the database the code does not know
        conn.execute("ALTER TABLE readings ADD CONSTRAINT no_thirteen CHECK (total_m3 <> 13)")
    t0 = datetime(2026, 5, 1, 8, tzinfo=ZONE)
    done = store(
        database_url,
        [entry(2, "M1", t0, "12"), entry(3, "M2", t0, "13"), entry(4, "M2", t0 + timedelta(days=1), "14")],
    )
    assert [e.row for e in done.stored] == [2, 4]
    assert [(p.row, p.reason) for p in done.problems] == [(3, "db_refused")]
    assert "no_thirteen" in done.problems[0].message
    assert count(database_url, "manual_readings") == 2


def test_a_database_that_refuses_for_its_own_reasons_stores_nothing(database_url: str) -> None:
    register_meters(database_url, ["M1"])
    with psycopg.connect(database_url) as conn:
        conn.execute("REVOKE INSERT ON manual_readings FROM intake_api")
    t0 = datetime(2026, 5, 1, 8, tzinfo=ZONE)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        store(database_url, [entry(2, "M1", t0, "1"), entry(3, "M1", t0 + timedelta(days=1), "2")], role=API)
    assert count(database_url, "readings") == 0 and count(database_url, "daily_volumes") == 0


def test_rows_of_a_file_are_read_with_local_times_and_exact_digits() -> None:
    headers = ["计量设施编号", "抄表时间", "表底数（m3）", "照片编号"]
    rows: list[tuple[int, list[object]]] = [
        (2, ["M1", "2026-05-01 09:30", "12345.678901", ""]),
        (3, ["M1", datetime(2026, 5, 2, 9, 30), 12346.5, "IMG_1"]),
        (4, ["M1", "2026-05-03T09:30+00:00", "12347", None]),
        (5, ["M1", "yesterday", "1", None]),
        (6, ["", "2026-05-04 09:30", "1", None]),
        (7, ["M1", "2026-05-01 09:30", "1", None]),
        (8, ["M1", "2026-05-05 09:30", "一千", None]),
    ]
    entries, problems = read_rows(headers, rows, ZONE, "李四")
    assert [(e.row, e.ts, e.total_m3, e.read_by, e.photo_ref) for e in entries] == [
        (2, datetime(2026, 5, 1, 9, 30, tzinfo=ZONE), Decimal("12345.678901"), "李四", None),
        (3, datetime(2026, 5, 2, 9, 30, tzinfo=ZONE), Decimal("12346.5"), "李四", "IMG_1"),
        (4, datetime(2026, 5, 3, 9, 30, tzinfo=UTC), Decimal(12347), "李四", None),
    ]
    assert [(p.row, p.reason) for p in problems] == [
        (5, "bad_row"),
        (6, "bad_row"),
        (7, "repeated"),
        (8, "bad_row"),
    ]
    assert "row 2" in problems[2].message


def test_the_cli_stores_a_file_and_lists_each_refused_row(database_url: str, tmp_path: Path) -> None:
    register_meters(database_url, ["M1"])
    batch = tmp_path / "抄表.csv"
    batch.write_text(
        "计量设施编号,抄表时间,表底数(m³)\n"
        "M1,2026-05-01 08:00,100\n"
        "M1,2026-05-11 08:00,125.5\n"
        "M2,2026-05-11 08:00,1\n",
        encoding="gb18030",  # as a county's spreadsheet saves it
    )
    first = intake("manual", "import", str(batch), "--read-by", "赵六", INTAKE_DATABASE_URL=database_url)
    assert first.returncode == 3, first.stdout + first.stderr
    assert "stored 2 reading(s) marked manual, 0 already stored, 1 row(s) refused" in first.stdout
    assert "row 4 (M2): unknown_meter" in first.stderr
    again = intake("manual", "import", str(batch), "--read-by", "赵六", INTAKE_DATABASE_URL=database_url)
    assert "stored 0 reading(s) marked manual, 2 already stored" in again.stdout
    assert scalar(
        database_url, "SELECT array_agg(DISTINCT read_by || '/' || channel) FROM manual_readings"
    ) == ["赵六/cli"]
    assert sum(days(database_url, "M1").values(), Decimal(0)).quantize(Decimal("0.001")) == Decimal("25.5")
    headless = tmp_path / "x.csv"
    headless.write_text("名称\nx\n", encoding="utf-8")
    refused = intake("manual", "import", str(headless), INTAKE_DATABASE_URL=database_url)
    assert refused.returncode == 1 and "计量设施编号" in refused.stderr
