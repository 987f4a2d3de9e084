"""docker-compose.yml is valid Compose (checked by Debian's docker-compose; no engine needed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import yaml

from tests.roles import READER, as_role

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


def test_grafana_is_provisioned_from_the_repository() -> None:
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grafana = spec["services"]["grafana"]
    for volume in grafana["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).is_dir(), f"{source} is mounted but does not exist"
    source = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/timescaledb.yml").read_text())
    assert source["datasources"][0]["jsonData"]["timescaledb"] is True
    titles = [p["title"] for p in grafana_panels()]
    assert any("Ingest rate" in t for t in titles)
    assert any("Fleet" in t for t in titles)
    assert any("Top permits" in t for t in titles)


def grafana_panels() -> list[dict[str, Any]]:
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/intake.json").read_text())
    panels: list[dict[str, Any]] = dashboard["panels"]
    return panels


def _without_macros(sql: str) -> str:
    """Grafana's macros as the plain SQL Grafana would send for the last six hours."""
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", r"\1 > now() - interval '6 hours'", sql)
    return sql.replace("$__timeFrom()", "(now() - interval '6 hours')")


def test_every_grafana_query_runs_on_the_schema(database_url: str) -> None:
    """As Grafana's own read-only role, which is all it gets."""
    with psycopg.connect(as_role(database_url, READER)) as conn:
        for panel in grafana_panels():
            for target in panel["targets"]:
                conn.execute(_without_macros(target["rawSql"])).fetchall()  # raises if a name is wrong
