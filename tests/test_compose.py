"""docker-compose.yml is valid Compose (checked by Debian's docker-compose; no engine needed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import yaml

from tests.roles import READER, as_role

ROOT = Path(__file__).resolve().parent.parent


SECRETS = [
    "POSTGRES_PASSWORD",
    "INTAKE_DB_PASSWORD_COLLECTOR",
    "INTAKE_DB_PASSWORD_MONITOR",
    "INTAKE_DB_PASSWORD_API",
    "INTAKE_DB_PASSWORD_READER",
    "INTAKE_MQTT_COLLECTOR_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
]


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("docker-compose")
    assert tool, "docker-compose is missing: run scripts/dev-deps (make test does)"
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [tool, "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd="/",  # no .env file is read
    )


def test_compose_file_is_valid_with_every_secret_set() -> None:
    done = compose_config({name: f"secret-{n}" for n, name in enumerate(SECRETS)})
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    roles = {"collector": "intake_collector", "monitor": "intake_monitor", "api": "intake_api"}
    for service, role in roles.items():  # each process logs in as its own least-privilege role
        assert services[service]["environment"]["INTAKE_DATABASE_URL"].startswith(f"postgresql://{role}:")
    assert services["grafana"]["environment"]["GRAFANA_DB_USER"] == "intake_reader"
    assert services["collector"]["environment"]["INTAKE_MQTT_URL"].startswith("mqtts://intake-collector:")


def test_compose_refuses_to_start_without_a_password() -> None:
    """No default password anywhere: a missing one stops Compose before anything starts."""
    for missing in SECRETS:
        env = {name: "x" for name in SECRETS if name != missing}
        done = compose_config(env)
        assert done.returncode != 0 and missing in done.stderr, missing


def test_the_compose_broker_refuses_anonymous_clients_and_binds_client_ids() -> None:
    conf = (ROOT / "deploy/mosquitto/docker.conf").read_text()
    lines = [line.strip() for line in conf.splitlines() if line.strip() and not line.startswith("#")]
    assert "allow_anonymous false" in lines and "allow_anonymous true" not in lines
    assert "password_file /mosquitto/auth/passwd" in lines and "acl_file /mosquitto/auth/acl" in lines
    listeners = [n for n, line in enumerate(lines) if line.startswith("listener ")]
    assert [lines[n] for n in listeners] == ["listener 1883 0.0.0.0", "listener 8883 0.0.0.0"]
    for n in listeners:  # a listener option: it must follow each listener line
        assert lines[n + 1] == "use_username_as_clientid true"
    assert "certfile /mosquitto/tls/server.crt" in lines


def test_compose_mounts_the_projects_broker_config_and_builds_our_image() -> None:
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = spec["services"]
    for volume in services["mosquitto"]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).exists(), f"{source} is mounted but does not exist"
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb:")
    assert services["migrate"]["build"] == "."
    assert services["migrate"]["command"] == ["db", "migrate", "--passwords-from-env"]
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
