"""Running on one server without Docker: the systemd units install and verify (systemd-analyze), each
unit logs in with its own least-privilege role, and the long-running processes speak systemd's notify
protocol (READY=1, then WATCHDOG=1 from their loops) so a hung loop is restarted."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.roles import MONITOR, as_role

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "scripts" / "install-systemd"
UNITS = ["intake-alerts", "intake-api", "intake-collector", "intake-gateway", "intake-monitor"]


def _install(tmp_path: Path, *more: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INSTALL), "--dest", str(tmp_path / "units"), "--etc", str(tmp_path / "etc"), "--no-user", *more],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_units_install_and_verify(tmp_path: Path) -> None:
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing (Debian: systemd)"
    done = _install(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified (systemd-analyze verify)" in done.stdout
    units = {p.stem: p.read_text() for p in (tmp_path / "units").glob("*.service")}
    assert sorted(units) == UNITS
    intake = str(ROOT / ".venv" / "bin" / "intake")
    for name, text in units.items():
        assert (
            f"ExecStart={intake} " in text
            and "Restart=on-failure" in text
            and "@" not in text.split("[Service]")[1]
        )
        assert "User=intake" in text and "NoNewPrivileges=yes" in text and "MemoryMax=" in text
        if name != "intake-api":
            assert "Type=notify" in text and "WatchdogSec=" in text
    roles = {
        name: (tmp_path / "etc" / f"{name}.env").read_text()
        for name in ("collector", "gateway", "api", "monitor", "alerts")
    }
    assert (
        "postgresql://intake_collector:" in roles["collector"] and "postgresql://intake_api:" in roles["api"]
    )
    assert "postgresql://intake_monitor:" in roles["alerts"]
    assert stat.S_IMODE((tmp_path / "etc" / "api.env").stat().st_mode) == 0o640  # passwords go there
    again = _install(tmp_path)  # an existing environment file is kept
    assert again.returncode == 0 and "wrote" not in again.stdout


def test_a_unit_systemd_would_not_read_is_refused(tmp_path: Path) -> None:
    spoiled = tmp_path / "spoiled"
    shutil.copytree(ROOT / "deploy" / "systemd", spoiled)
    api = spoiled / "intake-api.service"
    api.write_text(api.read_text().replace("Restart=on-failure", "Restart=sometimes"))
    done = _install(tmp_path, "--units", str(spoiled))
    assert done.returncode == 1 and "does not verify" in done.stderr and "sometimes" in done.stderr


def heard(sock: socket.socket, beats: int) -> list[str]:
    """What a process under test told its NOTIFY_SOCKET, until ``beats`` WATCHDOG=1 (or a minute)."""
    said: list[str] = []
    deadline = time.monotonic() + 60
    while said.count("WATCHDOG=1") < beats and time.monotonic() < deadline:
        said.append(sock.recv(256).decode())
    return said


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        (["alerts", "run"], {"INTAKE_ALERT_INTERVAL_S": "1"}),
        (["monitor", "--status-every", "1"], {}),
    ],
)
def test_a_long_running_process_says_ready_then_beats(
    database_url: str, tmp_path: Path, command: list[str], extra: dict[str, str]
) -> None:
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(30)
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")} | {
            "INTAKE_DATABASE_URL": as_role(database_url, MONITOR),
            "NOTIFY_SOCKET": address,
            "WATCHDOG_USEC": "1000000",  # beat at least every half second of it
            **extra,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "intake", *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            said = heard(sock, beats=2)
        finally:
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=60)[0].decode()
    assert said[0] == "READY=1" and said.count("WATCHDOG=1") >= 2, (said, output)
    assert process.returncode == 0, output
