"""A PostgreSQL cluster of one test, on a free port, that a fault test may stop and start again.
The shared server at 127.0.0.1:5432 (every other test's) is never touched.

As root the cluster runs as the `postgres` user (PostgreSQL refuses to run as root); as anyone
else it runs as that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import free_port

PG_ROOT = Path("/usr/lib/postgresql")


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian's layout)."""
    versions = sorted((p for p in PG_ROOT.glob("*/bin") if (p / "initdb").exists()), key=lambda p: int(p.parent.name))
    return versions[-1] if versions else None


def _postgres_user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


def why_unavailable() -> str | None:
    if pg_bin() is None:
        return f"no initdb under {PG_ROOT} (Debian's postgresql package)"
    if os.geteuid() == 0 and _postgres_user() is None:
        return "running as root without a postgres user to run a private cluster as"
    return None


class PrivatePostgres:
    def __init__(self) -> None:
        bin_dir = pg_bin()
        assert bin_dir is not None
        self.bin = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="licenseserver-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        user = _postgres_user() if os.geteuid() == 0 else None
        self._as_user = ["runuser", "-u", user.pw_name, "--"] if user else []
        if user:
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._as_user, str(self.bin / tool), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, f"{tool} failed: {result.stdout}\n{result.stderr}\n{self._log_tail()}"

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "start", "-w", "-t", "30", "-D", str(self.data), "-l", str(self.log), "-o", options)

    def stop(self) -> None:
        """Fast shutdown: every session is ended at once, as in a restart or a fail-over."""
        self._run("pg_ctl", "stop", "-w", "-t", "30", "-m", "fast", "-D", str(self.data))

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", "-w", "-t", "30", "-m", "immediate", "-D", str(self.data))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    reason = why_unavailable()
    if reason:
        pytest.skip(reason)
    cluster = PrivatePostgres()
    try:
        yield cluster
    finally:
        cluster.destroy()
