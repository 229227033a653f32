"""The benchmark's processes: the servers it starts (baseline, License API) and the CPU time they
and the bench database's PostgreSQL backends spend, read from /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import seed
from licenseserver.config import Settings

BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"
READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 35  # uvicorn's own graceful shutdown timeout is 25 s
LOG_PROBLEMS = ("ERROR", "CRITICAL")
TRACEBACK = "Traceback (most recent call last):"
EXPECTED_EXCEPTION = "starlette.requests.ClientDisconnect"
# uvicorn re-raises the SIGTERM it handled once its graceful shutdown is done.
CLEAN_EXITS = (0, -signal.SIGTERM, None)


# --- servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any licenseserver setting, so the API runs on its
    defaults (production settings) whatever the shell exports."""
    settings = {name.upper() for name in Settings.model_fields} | {"PROMETHEUS_MULTIPROC_DIR"}
    env = {k: v for k, v in os.environ.items() if k.upper() not in settings}
    env.update(extra)
    return env


class Server:
    """One server process of ours, in its own process group so its workers stop with it."""

    def __init__(
        self, name: str, port: int, command: list[str], env: dict[str, str], workdir: Path, ready_path: str
    ) -> None:
        self.name = name
        self.command = [*command, "--port", str(port)]
        self.env = env
        self.workdir = workdir
        self.url = f"http://{HOST}:{port}"
        self.ready_path = ready_path
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            # cwd is the run directory: no stray .env file there can change the settings.
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} server exited early, see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} server not ready after {READY_TIMEOUT_SECONDS} s, see {self.log_path}")

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} server is not started")
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> int | None:
        """SIGTERM (uvicorn's graceful shutdown), SIGKILL to the group if that hangs; exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def log_problems(self) -> tuple[list[str], int]:
        """Problem lines of the log, and how many tracebacks were client disconnects (wrk closes
        its connections at the end of each run while requests are still queued)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        problems = [line for line in text.splitlines() if _is_problem_line(line)]
        disconnects = 0
        for block in text.split(TRACEBACK)[1:]:
            exception = _exception_line(block)
            if exception.startswith(EXPECTED_EXCEPTION):
                disconnects += 1
            else:
                problems.append(exception or "a traceback without an exception line")
        return problems, disconnects


def _is_problem_line(line: str) -> bool:
    # uvicorn's own line before each traceback is judged with that traceback.
    return any(word in line for word in LOG_PROBLEMS) and "Exception in ASGI application" not in line


def _exception_line(block: str) -> str:
    """The `module.Error: message` line closing a traceback: its first unindented line."""
    return next((line for line in block.splitlines()[1:] if line and not line[0].isspace()), "")


def baseline_server(workdir: Path, workers: int) -> Server:
    command = [sys.executable, str(BENCH_DIR / "baseline_app.py"), "--workers", str(workers)]
    env = clean_env(PYTHONPATH=os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")])))
    return Server("baseline", free_port(), command, env, workdir, "/")


def api_server(workdir: Path, workers: int, database_url: str, name: str = "api") -> Server:
    command = [sys.executable, "-m", "licenseserver.cli", "serve", "api", "--host", HOST, "--workers", str(workers)]
    return Server(name, free_port(), command, clean_env(DATABASE_URL=database_url), workdir, "/health")


@contextmanager
def running(servers: list[Server]) -> Iterator[list[Server]]:
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


# --- CPU per request -----------------------------------------------------------------------
# Throughput on a shared 2-core machine moves with whatever else runs; the CPU time the server
# and its database backends spend per request moves much less, so both are reported too.

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process from /proc (Linux); 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_tree(root: int) -> list[int]:
    """root and its descendants (uvicorn's worker processes when --workers > 1)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, ppid = int(stat.parent.name), int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def database_backends(admin_url: str, database: str) -> list[int]:
    with seed.connect(admin_url) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)).fetchall()
    return [int(row[0]) for row in rows]


class CpuMeter:
    """CPU spent by a set of processes between start() and stop(); processes that appear in
    between (a new pool connection) count from zero."""

    def __init__(self, find: Callable[[], list[int]]) -> None:
        self._find = find
        self._start: dict[int, float] = {}

    def start(self) -> None:
        self._start = {pid: cpu_seconds(pid) for pid in self._find()}

    def stop(self) -> float:
        pids = set(self._start) | set(self._find())
        return sum(max(0.0, cpu_seconds(pid) - self._start.get(pid, 0.0)) for pid in pids)


def resident_mib(pids: list[int]) -> dict[int, float]:
    """Resident memory (VmRSS) of each process that still runs, in MiB."""
    sizes = {}
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith("VmRSS:"):
                sizes[pid] = int(line.split()[1]) / 1024
    return sizes
