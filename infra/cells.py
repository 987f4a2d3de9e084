"""Text going into a spreadsheet cell (XLSX or CSV) must never be taken for a formula.

Spreadsheet programs execute a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and some strip a
leading tab or carriage return first): a finding's measure typed as ``=HYPERLINK(...)``, or an intake
name from a township clerk's workbook, would run on an auditor's machine. Every export writes text
through :func:`safe_text`, which puts an apostrophe in front of such text (the convention spreadsheets
themselves use for "this is text"); numbers, dates and booleans pass unchanged. Imports take the
apostrophe off again (:func:`unguard`), so an exported registry re-imports exactly.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
GUARD = "'"


def safe_text(value: object) -> object:
    """``value`` as it may go into a cell: text that a spreadsheet would run is guarded."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return GUARD + value
    return value


def safe_row(values: list[object]) -> list[object]:
    return [safe_text(v) for v in values]


def unguard(value: object) -> object:
    """A cell as read back: the guard taken off text that :func:`safe_text` guarded."""
    if isinstance(value, str) and value.startswith(GUARD) and value[1:2] and value[1] in "=+-@\t\r":
        return value[1:]
    return value
