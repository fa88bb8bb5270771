"""Real servers for hub tests: a throw-away PostgreSQL cluster (as the postgres user), `wibox hub run`."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from tests.hub.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parents[2]
WIBOX = str(Path(sys.executable).with_name("wibox"))
ADMIN_PASSWORD = "correct horse battery staple"
START_TIMEOUT_S = 60.0  # generous: a hub starts in about a second, but CI machines are shared and loaded


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_initdb() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return found[-1] if found else None


@dataclass
class PgCluster:
    """A PostgreSQL server in a temporary directory owned by ``postgres``, listening on 127.0.0.1 only."""

    bindir: Path
    root: Path
    port: int

    @classmethod
    def start(cls) -> PgCluster:
        initdb = find_initdb()
        if initdb is None:
            raise RuntimeError("PostgreSQL is not installed (Debian package postgresql; scripts/bootstrap.sh)")
        pg = pwd.getpwnam("postgres")
        root = Path(tempfile.mkdtemp(prefix="wibox-pg-"))
        os.chown(root, pg.pw_uid, pg.pw_gid)
        bindir = Path(initdb).parent
        as_pg = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*as_pg, initdb, "-D", str(root / "data"), "-A", "trust", "-U", "postgres"], check=True, capture_output=True
        )
        port = free_port()
        opts = f"-k {root} -h 127.0.0.1 -p {port} -c fsync=off -c max_connections=200"
        subprocess.run(
            [
                *as_pg,
                str(bindir / "pg_ctl"),
                "-D",
                str(root / "data"),
                "-o",
                opts,
                "-l",
                str(root / "log"),
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        return cls(bindir, root, port)

    def create_database(self) -> str:
        """A fresh database; returns its SQLAlchemy URL."""
        import psycopg

        name = "hub_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class HubProcess:
    """`wibox hub init` once, then `wibox hub run` in a subprocess; ``stop``/``start`` keep the same port."""

    config: Path
    port: int
    city_id: str = "wiesbaden"
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.config.with_suffix(".log")

    @classmethod
    def create(cls, tmp: Path, database_url: str, *, smtp: SmtpSink | None = None, **sync: int) -> HubProcess:
        """``smtp``: send the notices to this SMTP server on 127.0.0.1, with its security and certificate."""
        port = free_port()
        sync_lines = "".join(f"{k} = {v}\n" for k, v in sync.items())
        relay = "" if smtp is None else smtp.hub_config()
        cfg = tmp / "hub.toml"
        cfg.write_text(
            f'data_dir = "{tmp / "hubdata"}"\n[server]\nport = {port}\npublic_base_url = "http://127.0.0.1:{port}"\n'
            f'[database]\nurl = "{database_url}"\n[sync]\nmax_clock_skew_s = {30 * 86400}\n{sync_lines}{relay}'
        )
        hub = cls(cfg, port)
        subprocess.run(
            [
                WIBOX,
                "hub",
                "init",
                "--config",
                str(cfg),
                "--city-id",
                hub.city_id,
                "--city-name",
                "Wiesbaden",
                "--admin",
                "root",
            ],
            input=ADMIN_PASSWORD.encode() + b"\n",
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        return hub

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [WIBOX, "hub", "run", "--config", str(self.config), "--log-level", "warning"],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"hub did not start in {START_TIMEOUT_S:.0f} s")

    @contextmanager
    def running(self) -> Iterator[HubProcess]:
        """Started for the block, stopped after it however it ends."""
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
