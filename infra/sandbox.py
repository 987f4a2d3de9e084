"""Private PostgreSQL clusters and Mosquitto brokers on free ports, for tests and benchmarks.

Each is started from the machine's own binaries (TimescaleDB preloaded; Mosquitto with the
project's tuning in ``deploy/mosquitto/conf.d``) in a folder of its own, so a test can stop and
restart it mid-stream without touching the machine's services or another test run.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from infra.errors import SandboxError

MOSQUITTO_CONF_D = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto" / "conf.d"
TLS_CERTS = Path(__file__).resolve().parent.parent / "scripts" / "tls-certs"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise SandboxError(f"nothing is listening on 127.0.0.1:{port} after {timeout:.0f} s")


def _postgres_bindir() -> Path:
    override = os.environ.get("INTAKE_TEST_PG_BINDIR")
    if override:
        return Path(override)
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin/postgres")),
        key=lambda p: int(p.parent.parent.name),
    )
    if not versions:
        raise SandboxError("no PostgreSQL server under /usr/lib/postgresql: run scripts/stack up")
    return versions[-1].parent


def _as_service_user(user: str) -> list[str]:
    """Prefix for running a server as ``user`` when we are root (PostgreSQL refuses to run as root)."""
    return ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []


def _chown_for(user: str, path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        for item in [path, *path.rglob("*")]:
            os.chown(item, entry.pw_uid, entry.pw_gid)


@dataclass
class PrivatePostgres:
    """A throwaway PostgreSQL cluster with TimescaleDB preloaded; trust auth on 127.0.0.1."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="intake-pg-")))
    port: int = field(default_factory=free_port)
    user: str = "postgres"
    settings: dict[str, str] = field(default_factory=dict)  # postgresql.conf entries over the defaults

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> None:
        cmd = [*_as_service_user("postgres"), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SandboxError(f"{' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")

    def init(self) -> PrivatePostgres:
        bindir = _postgres_bindir()
        control = Path("/usr/share/postgresql") / bindir.parent.name / "extension" / "timescaledb.control"
        if not control.exists():
            raise SandboxError(f"TimescaleDB is not installed for {bindir.parent}: run scripts/stack up")
        _chown_for("postgres", self.root)
        self._run(
            str(bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            self.user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "shared_preload_libraries": "'timescaledb'",
            "timescaledb.telemetry_level": "off",
            # No background jobs (the Apache edition has none we use): its per-database scheduler
            # would hold a connection to template databases and block CREATE DATABASE ... TEMPLATE.
            "timescaledb.max_background_workers": "0",
            "max_connections": "200",
            # Throwaway data: fsync off for speed; only an OS crash needs it. synchronous_commit stays
            # on, so a committed transaction survives stop(mode="immediate") (a PostgreSQL crash),
            # which the no-loss tests rely on.
            "fsync": "off",
            "full_page_writes": "off",
        } | self.settings
        with (self.datadir / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        return self

    def start(self) -> PrivatePostgres:
        bindir = _postgres_bindir()
        self._run(
            str(bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(self.root / "postgres.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        wait_for_port(self.port)
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the cluster: ``fast`` (clean) or ``immediate`` (like a crash: recovery on next start)."""
        bindir = _postgres_bindir()
        if (self.datadir / "postmaster.pid").exists():
            self._run(str(bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def destroy(self) -> None:
        with contextlib.suppress(SandboxError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PrivateMosquitto:
    """A Mosquitto broker on a free port, configured with the project's tuning, persistence on."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="intake-mqtt-")))
    port: int = field(default_factory=free_port)
    extra_config: str = ""
    auth_dir: Path | None = None  # holds passwd and acl (intake registry credentials): anonymous refused
    tls: bool = False  # also a TLS listener on tls_port, with a certificate from a private CA
    tls_port: int = field(default_factory=free_port)
    _process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        """The TLS listener, by the name its certificate carries."""
        return f"mqtts://localhost:{self.tls_port}"

    @property
    def ca_file(self) -> Path:
        return self.root / "tls" / "ca.crt"

    @property
    def log(self) -> Path:
        return self.root / "mosquitto.log"

    def _write_config(self) -> Path:
        (self.root / "data").mkdir(exist_ok=True)
        conf = self.root / "mosquitto.conf"
        auth = "allow_anonymous true\n"
        bound = ""
        if self.auth_dir is not None:
            own = self._copy_auth()
            auth = f"allow_anonymous false\npassword_file {own}/passwd\nacl_file {own}/acl\n"
            bound = "use_username_as_clientid true\n"  # a listener option: after its listener line
        tls = ""
        if self.tls:
            certs = self.root / "tls"
            if not (certs / "server.crt").exists():
                made = subprocess.run(
                    [str(TLS_CERTS), str(certs)], capture_output=True, text=True, check=False
                )
                if made.returncode != 0:
                    raise SandboxError(f"scripts/tls-certs failed: {made.stderr.strip()}")
            tls = (
                f"listener {self.tls_port} 127.0.0.1\n{bound}"
                f"cafile {certs}/ca.crt\ncertfile {certs}/server.crt\nkeyfile {certs}/server.key\n"
            )
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"{bound}"
            f"{tls}"
            f"{auth}"
            f"persistence_location {self.root}/data/\n"
            f"log_dest file {self.log}\n"
            f"include_dir {MOSQUITTO_CONF_D}\n"
            f"{self.extra_config}\n"
        )
        if os.geteuid() == 0 and _user_exists("mosquitto"):
            _chown_for("mosquitto", self.root)
        return conf

    def start(self) -> PrivateMosquitto:
        if shutil.which("mosquitto") is None:
            raise SandboxError("mosquitto is not installed: run scripts/stack up")
        conf = self._write_config()
        stderr = self.root / "mosquitto.stderr"
        with stderr.open("ab") as err:
            self._process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=err, stderr=err)
        try:
            wait_for_port(self.port, timeout=15)
            if self.tls:
                wait_for_port(self.tls_port, timeout=15)
        except SandboxError:
            self.stop(kill=True)
            raise SandboxError(f"mosquitto did not start: {stderr.read_text()[-2000:]}") from None
        return self

    def stop(self, kill: bool = False) -> None:
        """Stop the broker: cleanly (it saves its store), or ``kill=True`` like a crash."""
        if self._process is None:
            return
        if kill:
            self._process.kill()
        else:
            self._process.terminate()
        self._process.wait(timeout=30)
        self._process = None

    def restart(self, kill: bool = False) -> None:
        self.stop(kill)
        self.start()

    def _copy_auth(self) -> Path:
        """The broker's own copy of passwd and acl (it runs as its own user and cannot read test folders)."""
        assert self.auth_dir is not None
        own = self.root / "auth"
        own.mkdir(exist_ok=True)
        for name in ("passwd", "acl"):
            shutil.copyfile(self.auth_dir / name, own / name)
        if os.geteuid() == 0 and _user_exists("mosquitto"):
            _chown_for("mosquitto", self.root)
        return own

    def reload(self) -> None:
        """SIGHUP: the broker rereads its password and ACL files; connected clients stay connected."""
        if self.auth_dir is not None:
            self._copy_auth()
        if self._process is not None:
            self._process.send_signal(signal.SIGHUP)

    def destroy(self) -> None:
        self.stop(kill=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
