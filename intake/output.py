"""How the `intake` commands print: progress lines, and tables as text, CSV or JSON."""

from __future__ import annotations

import csv
import sys

import orjson

from infra.cells import safe_text


def say(line: str) -> None:
    print(line, flush=True)


def emit(rows: list[dict[str, object]], fmt: str, columns: list[str]) -> None:
    """``rows`` as a text table, CSV (no cell a spreadsheet would run: infra/cells.py) or JSON."""
    if fmt == "json":
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns)
        writer.writeheader()
        writer.writerows({k: safe_text(v) for k, v in row.items()} for row in rows)
    else:
        widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) if rows else len(c) for c in columns}
        print("  ".join(c.ljust(widths[c]) for c in columns))
        for row in rows:
            print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))
