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
        writer.writerows({k: "" if v is None else safe_text(v) for k, v in row.items()} for row in rows)
    else:  # a missing figure is shown as "—", never as 0 or "None"
        text = [{c: "—" if r[c] is None else str(r[c]) for c in columns} for r in rows]
        widths = {c: max(len(c), *(len(r[c]) for r in text)) if text else len(c) for c in columns}
        print("  ".join(c.ljust(widths[c]) for c in columns))
        for row in text:
            print("  ".join(row[c].ljust(widths[c]) for c in columns))
