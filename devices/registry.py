"""Importing and exporting the registry: compare what the files say with the database, then write
every change in one transaction (or nothing at all)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Generic, TypeVar

from devices import queries as q
from devices.calibration import CalibrationPeriods, next_due
from devices.divisions import Divisions, UnknownDivision
from devices.errors import RegistryRejected
from devices.forms import NO, WAN, YES, Table, label
from devices.model import Calibration, Intake, Meter, Permit
from devices.validate import KnownKeys, Parsed, Problem, check_references, parse
from devices.workbook import RawTable

R = TypeVar("R", Permit, Intake, Meter, Calibration)


@dataclass
class Change(Generic[R]):
    created: list[R] = field(default_factory=list)
    updated: list[R] = field(default_factory=list)
    unchanged: int = 0

    @property
    def writes(self) -> list[R]:
        return self.created + self.updated


@dataclass
class Plan:
    permits: Change[Permit] = field(default_factory=Change)
    intakes: Change[Intake] = field(default_factory=Change)
    meters: Change[Meter] = field(default_factory=Change)
    calibrations: Change[Calibration] = field(default_factory=Change)
    replaced: list[tuple[Meter, Meter]] = field(default_factory=list)  # (old, new): old closes as new starts
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        lines = [
            f"{t.value:<13} {len(c.created):>7} created {len(c.updated):>7} updated "
            f"{c.unchanged:>7} unchanged"
            for t, c in (
                (Table.PERMITS, self.permits),
                (Table.INTAKES, self.intakes),
                (Table.METERS, self.meters),
                (Table.CALIBRATIONS, self.calibrations),
            )
        ]
        lines += [
            f"meter {old.meter_id} on intake {old.intake_code} replaced by {new.meter_id} "
            f"(removed on {new.installed_on})"
            for old, new in self.replaced
        ]
        return lines


def known_keys(conn: q.Conn) -> KnownKeys:
    found: dict[str, set[str]] = {"permit": set(), "intake": set(), "meter": set()}
    for kind, key in conn.execute(q.ALL_KEYS):
        found[kind].add(key)
    return KnownKeys(frozenset(found["permit"]), frozenset(found["intake"]), frozenset(found["meter"]))


def _diff(conn: q.Conn, kind: type[R], incoming: Iterable[tuple[Any, R]]) -> Change[R]:
    items = dict(incoming)
    change: Change[R] = Change()
    if not items:
        return change
    if kind is Calibration:
        meters, days = zip(*items.keys(), strict=True)
        rows = conn.execute(q.select_by_keys(kind), (list(meters), list(days))).fetchall()
    else:
        rows = conn.execute(q.select_by_keys(kind), (list(items),)).fetchall()
    existing = {}
    for row in rows:
        record = q.record_from_row(kind, row)
        existing[(record.meter_id, record.calibrated_on) if isinstance(record, Calibration) else row[0]] = (
            record
        )
    for key, record in items.items():
        before = existing.get(key)
        if before is None:
            change.created.append(record)
        elif before != record:
            change.updated.append(record)
        else:
            change.unchanged += 1
    return change


def _rtu_taken(conn: q.Conn, parsed: Parsed, closing: set[str]) -> list[Problem]:
    """Incoming active meters on an RTU channel a registered meter keeps (one not in the file, not
    replaced by it): the gateway could not tell them apart."""
    incoming = [
        (src, row, m) for src, row, m in parsed.meters.values() if m.is_active and m.rtu_address is not None
    ]
    if not incoming:
        return []
    holders = {
        (address, channel): meter_id
        for meter_id, address, channel in conn.execute(q.ACTIVE_RTU_CHANNELS).fetchall()
        if meter_id not in parsed.meters and meter_id not in closing
    }
    problems = []
    for source, number, meter in incoming:
        other = holders.get((meter.rtu_address, meter.rtu_channel))
        if other is not None:
            problems.append(
                Problem(
                    source,
                    number,
                    "遥测终端地址",
                    meter.rtu_address,
                    f"channel {meter.rtu_channel} of RTU {meter.rtu_address} is registered active meter "
                    f"{other}'s: give one another channel or a 拆除日期",
                )
            )
    return problems


def _replacements(conn: q.Conn, parsed: Parsed) -> tuple[list[tuple[Meter, Meter]], list[Problem]]:
    """Registered active meters that the file's active meters on the same intake replace: a file that
    brings an intake's active meters lists all of them (one per pump or outlet), so a registered one
    it leaves out was swapped; the earliest installed of the file's takes its place."""
    incoming: dict[str, tuple[str, int, Meter]] = {}
    for src, row, m in parsed.meters.values():
        if m.is_active and (
            m.intake_code not in incoming or m.installed_on < incoming[m.intake_code][2].installed_on
        ):
            incoming[m.intake_code] = (src, row, m)
    if not incoming:
        return [], []
    replaced, problems = [], []
    for row in conn.execute(q.ACTIVE_METERS_ON, (list(incoming),)).fetchall():
        old = q.record_from_row(Meter, row)
        source, number, new = incoming[old.intake_code]
        if old.meter_id == new.meter_id or old.meter_id in parsed.meters:
            continue  # the same meter, or one the file itself updates
        if new.installed_on < old.installed_on:
            problems.append(
                Problem(
                    source,
                    number,
                    "安装日期",
                    str(new.installed_on),
                    f"meter {new.meter_id} would replace {old.meter_id} on intake "
                    f"{old.intake_code}, which was installed later ({old.installed_on})",
                )
            )
        else:
            replaced.append((old, new))
    return replaced, problems


def _place(parsed: Parsed, divisions: Divisions) -> list[Problem]:
    """Each intake's county-level unit, from its county (and 行政区划代码 when given)."""
    problems = []
    for key, (source, row, intake) in parsed.intakes.items():
        try:
            code = divisions.resolve(intake.county, intake.division_code)
        except UnknownDivision as exc:
            problems.append(Problem(source, row, "所在县区", intake.county, str(exc)))
            continue
        parsed.intakes[key] = (source, row, replace(intake, division_code=code))
    return problems


def _outside(conn: q.Conn, parsed: Parsed, scope: str) -> list[Problem]:
    """What an importer of division ``scope`` may not touch: an intake outside it (as the file places
    it, or as the registry has it), and meters and calibrations of such intakes."""
    inside = {d.code for d in q.divisions_inside(conn, scope)}
    registered: dict[str, str | None] = dict(conn.execute(q.INTAKE_DIVISIONS).fetchall())
    placed = {code: i.division_code for code, (_s, _r, i) in parsed.intakes.items()}
    meter_intake: dict[str, str] = dict(conn.execute(q.METER_INTAKES).fetchall())
    meter_intake |= {meter_id: m.intake_code for meter_id, (_s, _r, m) in parsed.meters.items()}

    def ours(code: str) -> bool:
        was = registered.get(code, placed.get(code))
        return placed.get(code, was) in inside and was in inside

    why = f"outside your division {scope}: a user of that division or above must import it"
    problems = [
        Problem(source, row, "所在县区", intake.county, why)
        for code, (source, row, intake) in parsed.intakes.items()
        if not ours(code)
    ]
    problems += [
        Problem(source, row, "取水口编号", meter.intake_code, why)
        for source, row, meter in parsed.meters.values()
        if meter.intake_code not in parsed.intakes and not ours(meter.intake_code)
    ]
    problems += [
        Problem(source, row, "计量设施编号", c.meter_id, why)
        for source, row, c in parsed.calibrations.values()
        if c.meter_id in meter_intake
        and c.meter_id not in parsed.meters
        and not ours(meter_intake[c.meter_id])
    ]
    return problems


def plan_import(conn: q.Conn, tables: list[RawTable], scope: str | None = None) -> Plan:
    """What importing ``tables`` would change; raises :class:`RegistryRejected` listing every problem.
    ``scope``: the importer's division (None: all); nothing outside it may be written."""
    parsed, problems, warnings = parse(tables)
    problems += _place(parsed, q.load_divisions(conn))
    if scope is not None and not problems:
        problems += _outside(conn, parsed, scope)
    problems += check_references(parsed, known_keys(conn))
    replaced, more = _replacements(conn, parsed)
    problems += more + _rtu_taken(conn, parsed, {old.meter_id for old, _new in replaced})
    if problems:
        raise RegistryRejected(problems)  # type: ignore[arg-type]
    return Plan(
        permits=_diff(conn, Permit, ((k, v[2]) for k, v in parsed.permits.items())),
        intakes=_diff(conn, Intake, ((k, v[2]) for k, v in parsed.intakes.items())),
        meters=_diff(conn, Meter, ((k, v[2]) for k, v in parsed.meters.items())),
        calibrations=_diff(conn, Calibration, ((k, v[2]) for k, v in parsed.calibrations.items())),
        replaced=replaced,
        warnings=warnings,
    )


def _write(conn: q.Conn, kind: type[R], records: list[R]) -> None:
    if not records:
        return
    create, copy, upsert = q.staging_sql(kind)
    with conn.cursor() as cur:
        cur.execute(create)
        with cur.copy(copy) as cp:
            for record in records:
                cp.write_row(q.row_from_record(record))
        cur.execute(upsert)


def apply_plan(conn: q.Conn, plan: Plan, actor: str | None = None) -> None:
    """Write the plan in one transaction: all of it, or (on any error) none of it. ``actor``: who the
    registry's audit trail names (default: the database role)."""
    with conn.transaction():
        if actor is not None:
            conn.execute(q.SET_ACTOR, (actor,))
        _write(conn, Permit, plan.permits.writes)
        _write(conn, Intake, plan.intakes.writes)
        with conn.cursor() as cur:
            cur.executemany(q.CLOSE_METER, [(new.installed_on, old.meter_id) for old, new in plan.replaced])
        # Meters being closed first, so a new active meter never meets the old one still active.
        _write(conn, Meter, [m for m in plan.meters.writes if not m.is_active])
        _write(conn, Meter, [m for m in plan.meters.writes if m.is_active])
        _write(conn, Calibration, plan.calibrations.writes)


def export_rows(conn: q.Conn, periods: CalibrationPeriods) -> dict[Table, list[list[object]]]:
    """Every registry record as form rows (Chinese labels, 万m³), in the order of the form's columns."""
    last: dict[str, date] = dict(conn.execute(q.LAST_CALIBRATIONS).fetchall())
    return form_rows(
        [q.record_from_row(Permit, r) for r in conn.execute(q.select_all(Permit))],
        [q.record_from_row(Intake, r) for r in conn.execute(q.select_all(Intake))],
        [q.record_from_row(Meter, r) for r in conn.execute(q.select_all(Meter))],
        [q.record_from_row(Calibration, r) for r in conn.execute(q.select_all(Calibration))],
        last,
        periods,
    )


def form_rows(
    permits: list[Permit],
    intakes: list[Intake],
    meters: list[Meter],
    calibrations: list[Calibration],
    last_calibrated: dict[str, date],
    periods: CalibrationPeriods,
) -> dict[Table, list[list[object]]]:
    """Records as the form's rows: the inverse of :func:`devices.validate.parse`."""
    return {
        Table.INTAKES: [
            [
                i.code,
                i.name,
                i.owner,
                i.credit_code,
                i.county,
                i.township,
                f"{i.longitude!r},{i.latitude!r}",
                i.engineering_type,
                i.design_daily_capacity_m3,
                label(i.status),
                label(i.source_type),
                i.source_name,
                i.water_resource_zone,
                label(i.water_use),
                i.industry_code,
                i.permit_no,
                i.division_code,
            ]
            for i in intakes
        ],
        Table.PERMITS: [
            [p.permit_no, p.authority, p.valid_from, p.valid_to, _plain(p.annual_volume_m3 / WAN)]
            for p in permits
        ],
        Table.METERS: [
            [
                m.meter_id,
                m.intake_code,
                label(m.meter_type),
                m.dn,
                m.serial,
                YES if m.online_capable else NO,
                m.report_interval_s // 60,
                m.totalizer_capacity_m3,
                m.installed_on,
                m.removed_on,
                m.rtu_address,
                m.rtu_channel,
                next_due(m, last_calibrated.get(m.meter_id), periods) if m.is_active else None,
            ]
            for m in meters
        ],
        Table.CALIBRATIONS: [
            [c.meter_id, c.calibrated_on, label(c.result), c.certificate_no] for c in calibrations
        ],
    }


def _plain(number: Any) -> Any:
    """A Decimal without trailing zeros or exponent (40.0000 -> 40, 1E+1 -> 10)."""
    normal = number.normalize()
    return normal.quantize(1) if normal == normal.to_integral() else normal
