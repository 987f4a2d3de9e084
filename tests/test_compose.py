"""docker-compose.yml is valid Compose (checked by Debian's docker-compose; no engine needed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_is_valid() -> None:
    tool = shutil.which("docker-compose")
    assert tool, "docker-compose is missing: run scripts/dev-deps (make test does)"
    done = subprocess.run(
        [tool, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_compose_mounts_the_projects_broker_config_and_builds_our_image() -> None:
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = spec["services"]
    for volume in services["mosquitto"]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).exists(), f"{source} is mounted but does not exist"
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb:")
    assert services["migrate"]["build"] == "."
    assert services["migrate"]["command"] == ["db", "migrate"]
    assert services["collector"]["command"] == ["collect"]
    assert services["collector"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert (ROOT / "Dockerfile").exists()


def test_dockerfile_copies_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("infra", "intake", "devices", "ingest", "anomaly", "api", "simulators", "migrations"):
        assert f"COPY {package} ./{package}" in dockerfile
