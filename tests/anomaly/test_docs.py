"""docs/MONITORING.md stays true to the code: every threshold and every rule is described."""

from __future__ import annotations

import inspect
import re
from dataclasses import fields
from pathlib import Path

from anomaly import meter_rules, permit_rules
from anomaly.thresholds import Thresholds

DOC = (Path(__file__).resolve().parents[2] / "docs" / "MONITORING.md").read_text()


def test_every_threshold_is_documented() -> None:
    for item in fields(Thresholds):
        assert f"| `{item.name}` |" in DOC, item.name


def test_every_rule_is_documented() -> None:
    source = inspect.getsource(permit_rules) + inspect.getsource(meter_rules)
    rules = set(re.findall(r'(?:Finding|_metering|for_permit)\(\s*"([a-z_]+)"', source))
    assert len(rules) == 15
    for rule in rules:
        assert f"| `{rule}` |" in DOC, rule
