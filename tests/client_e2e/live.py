"""The real License API as `licenseserver serve api` in a subprocess, and the operator CLI, on a
test's database: what a vendor's program meets in the field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import free_port

BIN = Path(sys.executable).parent
CLIENT_SRC = Path(__file__).resolve().parents[2] / "client" / "src"
EXAMPLE = Path(__file__).resolve().parents[2] / "client" / "examples" / "desktop_app.py"


def server_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SESSION_SWEEP_SECONDS": "3600",
        "CLIENT_CONFIG_CACHE_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
    }


class ServeApi:
    """`licenseserver serve api --port P`, stopped (SIGTERM) by `stop()` or at the test's end."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("ab")
        command = [str(BIN / "licenseserver"), "serve", "api", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=server_env(database_url), stdout=self._log, stderr=self._log)
        self._wait_until_healthy(log)

    def _wait_until_healthy(self, log: Path, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early: {log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not become healthy")

    def jwks(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base_url}/.well-known/jwks.json", timeout=5) as answer:
            return dict(json.load(answer))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def cli(database_url: str, *args: str) -> str:
    """Run an operator command; its standard output."""
    done = subprocess.run(
        [str(BIN / "licenseserver"), *args],
        env=server_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def run_example(*args: str, clock_shift: float = 0.0) -> subprocess.CompletedProcess[str]:
    """client/examples/desktop_app.py as a vendor runs it: only the client library on its path."""
    env = {**os.environ, "PYTHONPATH": str(CLIENT_SRC), "LICENSE_CLIENT_CLOCK_SHIFT": str(clock_shift)}
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
