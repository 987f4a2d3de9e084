"""The demo's story end to end: a sample county, a simulated year, faults on three meters, a sweep.

The compliance report and the ledger must name what the simulator was told to do and what the
registry says: permits pushed over their volume, withdrawals after a permit expired, overdue
calibrations, and the injected meter faults. Expectations come from the virtual meters and the
registry data, not from the code under test.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from anomaly.findings import PROBLEM_LABELS, ProblemType
from devices import queries as dq
from devices import sample
from devices.calibration import CalibrationPeriods, next_due
from devices.model import ConstructionStatus
from infra.sandbox import PrivateMosquitto
from simulators.fleet import Planned, plan_fleet
from tests.ingest.harness import count, running_collector, settings_for, wait_until
from tests.intake.test_cli import intake, intake_within
from tests.simulators.audit import audit

ZONE = ZoneInfo("Asia/Shanghai")
INTAKES = 40
SEED = 2  # a small sample with expired permits on metered intakes outside the faulty meters
FAULTY = 3  # the first meters by id get a week of faults instead of the year


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _settled(database_url: str, seen: list[int] = []) -> bool:  # noqa: B006 - remembers between calls
    """True once the count of stored readings has not moved for three calls (the fault week is in)."""
    seen.append(count(database_url, "readings"))
    return len(seen) >= 3 and seen[-3:] == [seen[-1]] * 3


def _drawn(planned: Planned, start: datetime, end: datetime) -> Decimal:
    """What the virtual meter drew from its first reading at or after ``start`` to its last before ``end``."""
    readings = list(planned.meter.readings(start, end))
    if len(readings) < 2:
        return Decimal(0)
    delta = readings[-1].total_m3 - readings[0].total_m3
    capacity = planned.meter.capacity
    return delta + capacity if delta < 0 and capacity else delta


def test_reports_name_what_the_demo_fleet_was_told_to_do(database_url: str, tmp_path: Path) -> None:
    today = datetime.now(ZONE).date()
    year_start = date(today.year, 1, 1)
    workbook = tmp_path / "registry.xlsx"
    env = {"INTAKE_DATABASE_URL": database_url}
    made = intake(
        "registry",
        "sample",
        "--intakes",
        str(INTAKES),
        "--seed",
        str(SEED),
        "--today",
        today.isoformat(),
        "--out",
        str(workbook),
    )
    assert made.returncode == 0, made.stderr
    assert intake("registry", "import", str(workbook), **env).returncode == 0
    broker = PrivateMosquitto().start()
    env["INTAKE_MQTT_URL"] = broker.url
    history = ["--from", year_start.isoformat(), "--to", today.isoformat()]
    week = ["--from", (today - timedelta(days=7)).isoformat(), "--to", today.isoformat()]
    try:
        with running_collector(settings_for(database_url, broker.url)):
            year = intake_within(
                600,
                "simulate",
                "backfill",
                *history,
                "--per-message",
                "96",
                "--offset",
                str(FAULTY),
                **env,
            )
            assert year.returncode == 0, year.stderr
            published = int(year.stdout.split("published ")[1].split()[0])
            faults = intake(
                "simulate",
                "backfill",
                *week,
                "--meters",
                str(FAULTY),
                "--seed",
                "7",
                "--faults",
                "all",
                **env,
            )
            assert faults.returncode == 0, faults.stderr
            wait_until(
                lambda: count(database_url, "readings") > published, timeout=240, what="the year stored"
            )
            wait_until(lambda: _settled(database_url), timeout=60, what="the collector to settle")
        assert intake("check", "--now", **env).returncode == 0
        for report in ("compliance", "ledger", "registration"):
            done = intake("report", report, "--out", str(tmp_path / f"{report}.csv"), **env)
            assert done.returncode == 0, done.stderr
    finally:
        broker.destroy()
    compliance = {row["许可证号"]: row for row in _csv(tmp_path / "compliance.csv")}
    ledger = _csv(tmp_path / "ledger.csv")

    data = sample.generate(INTAKES, SEED, today)
    permits = {p.permit_no: p for p in data.permits}
    intakes = {i.code: i for i in data.intakes}
    with psycopg.connect(database_url) as conn:
        registered = dq.load_registry(conn)
    fleet = plan_fleet(*registered, 1, ZONE, datetime(today.year, 1, 1, tzinfo=ZONE))
    faulty = {p.meter.meter_id for p in fleet[:FAULTY]}
    live = fleet[FAULTY:]
    begin = datetime.combine(year_start, datetime.min.time(), ZONE)
    end = datetime.combine(today, datetime.min.time(), ZONE)

    # permits pushed over: metered over the permit (超许可), or drawing more than it this year (the
    # virtual meters are deterministic, so December is known): at least on course for it (预计超许可)
    by_permit: dict[str, list[Planned]] = {}
    for planned in live:
        permit_no = intakes[
            next(m.intake_code for m in data.meters if m.meter_id == planned.meter.meter_id)
        ].permit_no
        if permit_no:
            by_permit.setdefault(permit_no, []).append(planned)
    touched_by_faults = {intakes[m.intake_code].permit_no for m in data.meters if m.meter_id in faulty}
    checked_over = checked_told = 0
    for permit_no, members in by_permit.items():
        if permit_no in touched_by_faults:
            continue
        allowed = permits[permit_no].annual_volume_m3
        drawn = sum((_drawn(p, begin, end) for p in members), Decimal(0))
        year_end = datetime(today.year + 1, 1, 1, tzinfo=ZONE)
        told = sum((_drawn(p, begin, year_end) for p in members), Decimal(0))  # the simulated year
        status = compliance[permit_no]["状态"]
        if drawn > allowed * Decimal("1.03"):
            assert status == "超许可", (permit_no, drawn, allowed, status)
            checked_over += 1
        elif drawn < allowed * Decimal("0.97"):
            assert status != "超许可", (permit_no, drawn, allowed, status)
        if told > allowed * Decimal("1.03"):
            assert status in ("超许可", "预计超许可"), (permit_no, told, allowed, status)
            checked_told += 1
    assert checked_over > 0 and checked_told > 0

    # withdrawals after a permit expired
    expired = [
        p
        for p in data.permits
        if p.valid_to < today
        and p.permit_no not in touched_by_faults
        and sum(
            (
                _drawn(
                    x,
                    datetime.combine(
                        max(p.valid_to + timedelta(days=1), year_start), datetime.min.time(), ZONE
                    ),
                    end,
                )
                for x in by_permit.get(p.permit_no, [])
            ),
            Decimal(0),
        )
        > 1
    ]
    expired_rows = [r for r in ledger if r["问题类型"] == PROBLEM_LABELS[ProblemType.PERMIT_EXPIRED]]
    assert expired
    for permit in expired:
        assert any(
            permit.permit_no in r["问题描述"] and "到期后仍取水" in r["问题描述"] for r in expired_rows
        )

    # overdue calibrations of meters still in use
    last: dict[str, date] = {}
    for c in data.calibrations:
        last[c.meter_id] = max(last.get(c.meter_id, c.calibrated_on), c.calibrated_on)
    overdue = [
        m.meter_id
        for m in data.meters
        if m.is_active
        and intakes[m.intake_code].status is not ConstructionStatus.DECOMMISSIONED
        and next_due(m, last.get(m.meter_id), CalibrationPeriods()) < today
    ]
    metering = [r["问题描述"] for r in ledger if r["问题类型"] == PROBLEM_LABELS[ProblemType.METERING]]
    assert overdue
    for meter_id in overdue:
        assert any(f"计量设施{meter_id}应于" in d and "已逾期" in d for d in metering), meter_id

    # the injected faults: a totalizer reset and a stuck totalizer on the faulty meters (a meter that
    # draws nothing in winter shows neither), and nothing of the kind on the healthy ones
    resets = {m for m in faulty for d in metering if f"计量设施{m}累计流量" in d and "降至" in d}
    stuck = {m for m in faulty for d in metering if f"计量设施{m}自" in d and "累计流量不变" in d}
    assert resets and stuck
    healthy = [p.meter.meter_id for p in live]
    assert not any(f"计量设施{m}累计流量" in d or f"计量设施{m}自" in d for m in healthy for d in metering)
    # the healthy meters' reported flow integrates to their totalizer volume: no flow mismatch there
    assert sum("瞬时流量积分" in d for d in metering) <= FAULTY

    # the volume audit: every meter's stored days equal what its virtual meter drew (the faulty ones
    # over their week: the days a fault made unknowable say so and do not count)
    week_start = datetime.combine(today - timedelta(days=7), datetime.min.time(), ZONE)
    faulty_plan = plan_fleet(*registered, 7, ZONE, datetime(today.year, 1, 1, tzinfo=ZONE))[:FAULTY]
    with psycopg.connect(database_url) as conn:
        problems = [p for planned in live for p in audit(conn, planned, begin, end, ZONE)]
        problems += [p for planned in faulty_plan for p in audit(conn, planned, week_start, end, ZONE)]
    assert problems == []

    # and the forms show no volume the water did not make: no intake's year so far beyond what its
    # design daily capacity allows (the faulty meters' spikes and resets are flags, not volume)
    registration = _csv(tmp_path / "registration.csv")
    this_year = next(h for h in registration[0] if h.startswith("实际取水量") and f"({today.year})" in h)
    elapsed = (today - year_start).days + 1
    for row in registration:
        capacity = intakes[row["取水口编号"]].design_daily_capacity_m3
        if capacity is not None:
            assert Decimal(row[this_year]) * 10_000 <= capacity * elapsed, (row["取水口编号"], row[this_year])
