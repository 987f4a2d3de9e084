"""The findings ledger: sweep planning (pure) and the lifecycle with its audit trail (database)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import psycopg
import pytest

from anomaly import queries
from anomaly.findings import Finding, ProblemType, Severity
from anomaly.ledger import LedgerError, OpenFinding, State, plan_sweep
from tests.devices.registry_files import good_rows, write_workbook
from tests.devices.test_registry import import_file

DAY = date(2026, 9, 30)
NOW = datetime(2026, 9, 30, 12, tzinfo=UTC)


def finding(
    rule: str = "over_permit", intake: str = "I-JP-1", evidence: str = "1", on: date = DAY
) -> Finding:
    problem = (
        ProblemType.METERING if rule in ("meter_offline", "calibration_overdue") else ProblemType.OVER_PERMIT
    )
    return Finding(rule, problem, Severity.ALERT, intake, on, f"{rule} on {intake}", {"n": evidence})


def held(
    f: Finding, finding_id: int = 1, state: State = State.OPEN, permit_no: str | None = None
) -> OpenFinding:
    return OpenFinding(
        finding_id,
        f.rule,
        f.intake_code,
        state,
        str(f.severity),
        f.description,
        dict(f.evidence),
        f.detected_on,
        f.subject,
        permit_no or f.permit_no,
    )


def test_a_new_condition_creates_and_the_same_one_again_changes_nothing() -> None:
    first = plan_sweep({}, [finding()], ["over_permit"])
    assert first.create == [finding()] and not first.update and not first.resolve
    again = plan_sweep({finding().key: held(finding())}, [finding()], ["over_permit"])
    assert again.empty


def test_redetection_with_new_numbers_updates_the_open_finding_instead_of_adding_one() -> None:
    plan = plan_sweep(
        {finding().key: held(finding())}, [finding(evidence="2", on=date(2026, 10, 1))], ["over_permit"]
    )
    assert plan.create == [] and [i for i, _f in plan.update] == [1]


def test_status_findings_resolve_themselves_compliance_ones_do_not() -> None:
    offline, over = finding("meter_offline"), finding("over_permit")
    ledger = {offline.key: held(offline, 1), over.key: held(over, 2)}
    plan = plan_sweep(ledger, [], ["meter_offline", "over_permit"])
    assert [f.id for f in plan.resolve] == [1]
    assert plan_sweep(ledger, [], ["over_permit"]).resolve == []  # offline not evaluated: not resolved


def test_one_rule_reporting_an_intake_twice_is_a_bug_not_two_findings() -> None:
    with pytest.raises(LedgerError, match="twice in one sweep"):
        plan_sweep({}, [finding(), finding(evidence="2")], ["over_permit"])


JP = "取水(辽朝JP)字[2022]第00001号"


def for_jp(rule: str, severity: Severity = Severity.ALERT, n: str = "1") -> Finding:
    """A finding of permit JP, covering its two intakes (as the sweep makes it)."""
    evidence: dict[str, str | int | float | list[str]] = {
        "n": n,
        "intakes": ["I-JP-1", "I-JP-2"],
        "name": f"取水许可证{JP}（2个取水口）",
    }
    problem = ProblemType.PERMIT_EXPIRED if rule.startswith("permit_") else ProblemType.OVER_PERMIT
    return Finding(
        rule,
        problem,
        severity,
        None,
        DAY,
        f"{rule} of {JP}",
        evidence,
        JP,
        subject=f"permit:{JP}",
        division_code="211322",
    )


def test_a_stronger_finding_supersedes_the_weaker_one_of_the_same_subject() -> None:
    over, projected = for_jp("over_permit"), for_jp("projected_over_permit", Severity.WARNING)
    both = plan_sweep({}, [projected, over], ["over_permit", "projected_over_permit"])
    assert both.create == [over]  # over its permit: not also told it is projected over
    earlier = {projected.key: held(projected, 7)}
    plan = plan_sweep(earlier, [projected, over], ["over_permit", "projected_over_permit"])
    assert plan.create == [over] and [(h.id, by.rule) for h, by in plan.supersede] == [(7, "over_permit")]
    assert plan.resolve == []
    alone = plan_sweep(earlier, [projected], ["over_permit", "projected_over_permit"])
    assert alone.empty  # only projected: it stays as it is


def test_the_permits_finding_takes_the_place_of_each_intakes_own() -> None:
    old_style = [
        Finding("over_permit", ProblemType.OVER_PERMIT, Severity.ALERT, code, DAY, "x", {"n": "1"}, JP)
        for code in ("I-JP-1", "I-JP-2")
    ]
    ledger = {f.key: held(f, n, permit_no=JP) for n, f in enumerate(old_style, start=1)}
    plan = plan_sweep(ledger, [for_jp("over_permit")], ["over_permit"])
    assert plan.create == [for_jp("over_permit")]
    assert sorted(h.id for h, _by in plan.supersede) == [1, 2]
    other = Finding("over_permit", ProblemType.OVER_PERMIT, Severity.ALERT, "I-BP-1", DAY, "x", {}, "BP")
    assert (
        plan_sweep(
            {other.key: held(other, 3, permit_no="BP")}, [for_jp("over_permit")], ["over_permit"]
        ).supersede
        == []
    )


def test_a_superseded_finding_is_closed_by_the_system_saying_by_what(
    database_url: str, tmp_path: Path
) -> None:
    rules = ["over_permit", "projected_over_permit"]
    with ledger_db(database_url, tmp_path) as conn:
        assert sweep(conn, [for_jp("projected_over_permit", Severity.WARNING)], rules)["created"] == 1
        done = sweep(conn, [for_jp("projected_over_permit"), for_jp("over_permit")], rules)
        assert done == {"created": 1, "updated": 0, "resolved": 0, "superseded": 1}
        assert sweep(conn, [for_jp("projected_over_permit"), for_jp("over_permit")], rules)["superseded"] == 0
        found = {f["rule"]: f for f in queries.list_findings(conn)}
        history = queries.history(conn, found["projected_over_permit"]["id"])
        jp_1 = queries.list_findings(conn, intake="I-JP-1")  # the permit's findings are the intake's too
    assert found["projected_over_permit"]["state"] == "closed"
    assert "superseded by over_permit" in found["projected_over_permit"]["close_note"]
    assert found["over_permit"]["state"] == "open" and found["over_permit"]["subject"] == f"permit:{JP}"
    assert [e["action"] for e in history] == ["detected", "superseded"]
    assert {f["rule"] for f in jp_1} == {"over_permit", "projected_over_permit"}


def ledger_db(database_url: str, tmp_path: Path) -> psycopg.Connection[tuple[object, ...]]:
    conn = psycopg.connect(database_url, autocommit=True)
    import_file(conn, write_workbook(tmp_path, good_rows()))
    return conn


def sweep(
    conn: psycopg.Connection[tuple[object, ...]], detected: list[Finding], rules: list[str]
) -> dict[str, int]:
    return queries.apply_sweep(conn, plan_sweep(queries.load_open(conn, rules), detected, rules), NOW)


def test_lifecycle_open_rectifying_closed_with_an_audit_trail(database_url: str, tmp_path: Path) -> None:
    with ledger_db(database_url, tmp_path) as conn:
        assert sweep(conn, [finding()], ["over_permit"]) == {
            "created": 1,
            "updated": 0,
            "resolved": 0,
            "superseded": 0,
        }
        assert sweep(conn, [finding()], ["over_permit"]) == {
            "created": 0,
            "updated": 0,
            "resolved": 0,
            "superseded": 0,
        }
        (row,) = queries.list_findings(conn)
        with pytest.raises(LedgerError, match="move it to rectifying first"):
            queries.close_finding(conn, row["id"], "done", "auditor Li", NOW)
        with pytest.raises(LedgerError, match="needs the measure"):
            queries.start_rectifying(
                conn, row["id"], " ", "建平县水利局 王", date(2026, 12, 31), "operator Wang", NOW
            )
        queries.start_rectifying(
            conn, row["id"], "压减取水量", "建平县水利局 王", date(2026, 12, 31), "operator Wang", NOW
        )
        # still over the permit: the sweep updates nothing and does not reopen or duplicate
        assert sweep(conn, [finding()], ["over_permit"]) == {
            "created": 0,
            "updated": 0,
            "resolved": 0,
            "superseded": 0,
        }
        queries.close_finding(conn, row["id"], "已核减并缴纳超许可水量费用", "auditor Li", NOW)
        with pytest.raises(LedgerError, match="already closed"):
            queries.close_finding(conn, row["id"], "again", "auditor Li", NOW)
        (closed,) = queries.list_findings(conn, state="closed")
        trail = [(e["actor"], e["action"]) for e in queries.history(conn, row["id"])]
        # a later detection after closure opens a new finding: the closed one stays as it was
        assert sweep(conn, [finding()], ["over_permit"])["created"] == 1
    assert (closed["closed_by"], closed["close_note"], closed["responsible"]) == (
        "auditor Li",
        "已核减并缴纳超许可水量费用",
        "建平县水利局 王",
    )
    assert trail == [("system", "detected"), ("operator Wang", "rectifying"), ("auditor Li", "closed")]


def test_offline_finding_closes_itself_when_the_meter_reports_again(
    database_url: str, tmp_path: Path
) -> None:
    with ledger_db(database_url, tmp_path) as conn:
        sweep(conn, [finding("meter_offline")], ["meter_offline"])
        assert sweep(conn, [], ["meter_offline"]) == {
            "created": 0,
            "updated": 0,
            "resolved": 1,
            "superseded": 0,
        }
        (row,) = queries.list_findings(conn)
        actions = [e["action"] for e in queries.history(conn, row["id"])]
    assert (row["state"], row["closed_by"]) == ("closed", "system")
    assert actions == ["detected", "resolved"]


def test_the_database_keeps_one_open_finding_per_intake_and_rule(database_url: str, tmp_path: Path) -> None:
    with ledger_db(database_url, tmp_path) as conn:
        sweep(conn, [finding()], ["over_permit"])
        with pytest.raises(psycopg.errors.UniqueViolation):
            queries.apply_sweep(
                conn, plan_sweep({}, [finding()], ["over_permit"]), NOW
            )  # a stale view of the ledger
        assert len(queries.list_findings(conn)) == 1
        assert queries.sweep_lock(conn)
        with psycopg.connect(database_url) as other:
            assert not queries.sweep_lock(other)  # a second monitor waits its turn


def test_findings_commands(database_url: str, tmp_path: Path) -> None:
    from tests.intake.test_cli import intake

    with ledger_db(database_url, tmp_path) as conn:
        sweep(conn, [finding()], ["over_permit"])
        (row,) = queries.list_findings(conn)
    env = {"INTAKE_DATABASE_URL": database_url}
    early = intake("findings", "close", str(row["id"]), "--note", "x", "--by", "Li", **env)
    assert early.returncode == 1
    assert f"finding {row['id']}: a finding is closed (销号) after rectification" in early.stderr
    done = intake(
        "findings",
        "rectify",
        str(row["id"]),
        "--measure",
        "压减",
        "--responsible",
        "水利局 王",
        "--deadline",
        "2026-12-31",
        "--by",
        "Wang",
        **env,
    )
    assert done.returncode == 0, done.stderr
    closed = intake("findings", "close", str(row["id"]), "--note", "已整改", "--by", "Li", **env)
    assert closed.stdout.strip() == f"finding {row['id']}: closed by Li"
    listed = intake("findings", "list", "--state", "closed", "--format", "csv", **env)
    assert listed.stdout.splitlines()[1].startswith(
        f"{row['id']},closed,over_permit,alert,over_permit,I-JP-1,"
    )
    history = intake("findings", "history", str(row["id"]), "--format", "json", **env)
    assert [e["action"] for e in orjson.loads(history.stdout)] == [
        "detected",
        "rectifying",
        "closed",
    ]
