"""Writing benchmark results into docs/BENCHMARKS.md, one section per benchmark, replaced on each run."""

from __future__ import annotations

import platform
import re
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
HEADER = """# Benchmarks

Every number here was produced by a benchmark in `benchmarks/`, run on the machine named in its
section, and compares our code with a baseline measured in the same run. Rerun the command shown to
replace a section. Absolute numbers drift on a shared 2-core machine; the ratios are the point.
"""


def machine() -> str:
    cores = (
        len(Path("/proc/cpuinfo").read_text().split("processor\t:")) - 1
        if Path("/proc/cpuinfo").exists()
        else 0
    )
    return f"{platform.system()} {platform.machine()}, {cores} cores, Python {platform.python_version()}"


def write_section(name: str, command: str, body: str) -> None:
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else HEADER
    section = (
        f"<!-- {name}:start -->\n## {name}\n\n"
        f"Command: `{command}`  \nRun: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}\n\n"
        f"{body.strip()}\n<!-- {name}:end -->\n"
    )
    pattern = re.compile(rf"<!-- {re.escape(name)}:start -->.*?<!-- {re.escape(name)}:end -->\n", re.S)
    text = (
        pattern.sub(lambda _m: section, text)
        if pattern.search(text)
        else text.rstrip("\n") + "\n\n" + section
    )
    BENCHMARKS_MD.parent.mkdir(exist_ok=True)
    BENCHMARKS_MD.write_text(text)
