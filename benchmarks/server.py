"""`intake api` as a child process on a free port, for the benchmarks and the browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from infra.sandbox import free_port


@contextmanager
def api_server(
    database_url: str, *args: str, log: IO[str] | None = None, env: dict[str, str] | None = None
) -> Iterator[str]:
    """The base URL of a running `intake api` on ``database_url``; stopped (SIGTERM) on exit."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "intake", "api", "--port", str(port), *args],
        env={**os.environ, "INTAKE_DATABASE_URL": database_url, **(env or {})},
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)  # noqa: S310 - our own server
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"intake api exited with {process.returncode}") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
