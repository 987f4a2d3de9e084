"""docs/REGISTRY.md stays true to the code: every column and every calibration setting is described."""

from __future__ import annotations

from pathlib import Path

from devices.forms import COLUMNS
from devices.settings import RegistrySettings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "REGISTRY.md").read_text()


def test_every_column_is_documented() -> None:
    for columns in COLUMNS.values():
        for column in columns:
            assert f"| {column.header} | `{column.english}` |" in DOC, column.header


def test_every_calibration_setting_is_documented() -> None:
    for name in RegistrySettings.model_fields:
        if name.startswith("calibration_"):
            assert f"`INTAKE_{name.upper()}`" in DOC, name
