"""The pure rules of submissions: who may submit and review, and what a resubmission changed."""

from __future__ import annotations

from datetime import date

import pytest

from anomaly.submissions import State, SubmissionError, differences, freeze, may_review, may_submit
from anomaly.tables import Table


def _ledger(*rows: list[object]) -> Table:
    headers = ["序号", "取水项目名称", "取水单位名称 (个人姓名)", "问题类型", "问题描述", "整改措施"]
    return Table("ledger", date(2026, 11, 30), headers, [list(r) for r in rows])


def test_what_a_resubmission_changed_is_listed_row_by_row() -> None:
    old, _ = freeze(
        [_ledger([1, "泵站1号", "甲厂", "计量", "未安装", ""], [2, "机井2号", "乙村", "超许可", "超量", ""])]
    )
    new, _ = freeze(
        [
            _ledger(
                [1, "泵站1号", "甲厂", "计量", "未安装", "加装计量设施"],
                [2, "机井3号", "丙村", "计量", "未安装", ""],
            )
        ]
    )
    changes = {(c.key, c.change) for c in differences(old, new)}
    assert changes == {
        ("泵站1号 · 计量 · 未安装", "changed"),
        ("机井2号 · 超许可 · 超量", "removed"),
        ("机井3号 · 计量 · 未安装", "added"),
    }
    assert differences(new, new) == []


def test_freezing_is_stable_and_says_when_anything_changed() -> None:
    one = freeze([_ledger([1, "泵站1号", "甲厂", "计量", "未安装", None])])
    assert one == freeze([_ledger([1, "泵站1号", "甲厂", "计量", "未安装", None])])
    assert one[1] != freeze([_ledger([1, "泵站1号", "甲厂", "计量", "未安装", "x"])])[1]


def test_who_may_submit_and_review() -> None:
    may_submit("211381", None)
    may_submit("211381", State.RETURNED)
    for live, says in ((State.SUBMITTED, "being reviewed"), (State.ACCEPTED, "accepted")):
        with pytest.raises(SubmissionError, match=says):
            may_submit("211381", live)
    with pytest.raises(SubmissionError, match="no division"):
        may_submit(None, None)
    may_review("211300", "211381", True, State.SUBMITTED)
    with pytest.raises(SubmissionError, match="division above"):
        may_review("211381", "211381", True, State.SUBMITTED)
    with pytest.raises(SubmissionError, match="only a submitted one"):
        may_review("211300", "211381", True, State.ACCEPTED)
