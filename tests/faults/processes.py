"""`licenseserver serve ...` as a real process, the way an operator starts it, with its output
kept in files the test can read."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx

from tests.conftest import SETTING_VARIABLES, free_port


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("licenseserver")
    return [str(script)] if script.exists() else [sys.executable, "-m", "licenseserver.cli"]


class ServeProcess:
    def __init__(self, workdir: Path, service: str, workers: int = 1, port: int | None = None, **settings: str) -> None:
        # A given port: a process started again where the one before it was killed.
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        stem = f"serve-{service}-{self.port}-{time.monotonic_ns()}"  # one pair of files per start
        self.stdout_path = workdir / f"{stem}.out"
        self.stderr_path = workdir / f"{stem}.err"
        env = {k: v for k, v in os.environ.items() if k not in SETTING_VARIABLES and k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update(PYTHONUNBUFFERED="1", SESSION_SWEEP_SECONDS="3600", **settings)
        command = [*cli_command(), "serve", service, "--port", str(self.port), "--workers", str(workers)]
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=err)

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(errors="replace")

    def wait_healthy(self, path: str = "/health", timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"serve exited early:\n{self.output()}"
            try:
                if httpx.get(self.base_url + path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"never healthy:\n{self.output()}")

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout=35)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
