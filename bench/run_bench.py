"""The License API benchmark, in one command:

    .venv/bin/python bench/run_bench.py [--duration 10] [--connections 64] [--threads 2]
                                        [--workers 1] [--quick] [--keep-db]

It creates and seeds a fresh PostgreSQL database, starts the bare Starlette baseline and the
License API (`licenseserver serve api`, production settings) on 127.0.0.1, drives each scenario
with wrk, stops both servers and prints requests/s, p50 and p99 per scenario and as a ratio of
the baseline. Exit status 1 when a scenario saw unexpected answers or a server failed.
See docs/performance.md for what each scenario measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg

import seed
from licenseserver.config import Settings

BENCH_DIR = Path(__file__).resolve().parent
LUA_DIR = BENCH_DIR / "lua"
HOST = "127.0.0.1"
WRK_TIMEOUT = "10s"
# wrk must finish within its duration plus this, servers must start and stop within these.
WRK_GRACE_SECONDS = 60
READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 35  # uvicorn's own graceful shutdown timeout is 25 s
LOG_PROBLEMS = ("ERROR", "CRITICAL")
TRACEBACK = "Traceback (most recent call last):"
EXPECTED_EXCEPTION = "starlette.requests.ClientDisconnect"
# uvicorn re-raises the SIGTERM it handled once its graceful shutdown is done.
CLEAN_EXITS = (0, -signal.SIGTERM, None)


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str  # "baseline" or "api"
    script: str
    path: str
    data: str | None = None  # pool file written by seed.py


SCENARIOS = (
    Scenario("baseline", "baseline", "baseline.lua", "/"),
    Scenario("verify", "api", "verify.lua", "/api/license/verify", "verify.tsv"),
    # The same verifies with Accept-Signature: the cost of a signed answer (docs/signatures.md).
    Scenario("signed-verify", "api", "signed_verify.lua", "/api/license/verify", "verify.tsv"),
    Scenario("activate", "api", "activate.lua", "/api/license/activate", "activate.tsv"),
    Scenario("heartbeat", "api", "heartbeat.lua", "/api/license/session/heartbeat", "heartbeat.tsv"),
    Scenario("session start/end", "api", "session.lua", "/api/license/session/start", "session.tsv"),
)
SCENARIO_KEYS = {s.name.split()[0]: s for s in SCENARIOS}


@dataclass
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    counters: dict[str, int] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    ratio: float | None = None
    note: str = ""
    server_cpu_us: float | None = None  # per request, the server's processes
    database_cpu_us: float | None = None  # per request, the PostgreSQL backends of the bench database


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


def api_server(workdir: Path, workers: int, database_url: str) -> Server:
    command = [sys.executable, "-m", "licenseserver.cli", "serve", "api", "--host", HOST, "--workers", str(workers)]
    return Server("api", free_port(), command, clean_env(DATABASE_URL=database_url), workdir, "/health")


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


# --- wrk -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    duration: int
    connections: int
    threads: int


def wrk_command(
    scenario: Scenario, base_url: str, load: Load, duration: int, data_dir: Path, api_key: str
) -> list[str]:
    command = ["wrk", f"-t{load.threads}", f"-c{load.connections}", f"-d{duration}s", "--timeout", WRK_TIMEOUT]
    command += ["--latency", "-s", str(LUA_DIR / scenario.script), base_url + scenario.path]
    if scenario.data is not None:
        command += ["--", str(data_dir / scenario.data), api_key, str(load.threads)]
    return command


def run_wrk(command: list[str], duration: int, output: Path | None) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + WRK_GRACE_SECONDS, check=False)
    if output is not None:
        output.write_text(f"$ {' '.join(command)}\n{done.stdout}\n{done.stderr}")
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return dict(json.loads(line.removeprefix("BENCH_RESULT ")))
    raise RuntimeError(f"wrk printed no BENCH_RESULT line:\n{done.stdout}\n{done.stderr}")


def to_result(name: str, raw: dict[str, Any]) -> Result:
    counters = {k: int(v) for k, v in raw.get("counters", {}).items()}
    sockets = raw.get("socket_errors", {})
    broken = sum(int(sockets.get(k, 0)) for k in ("connect", "read", "write", "timeout"))
    # "unexpected" (scripts that read answers) already includes every non-2xx; wrk's "status"
    # counts >= 400 for the baseline, which reads none.
    errors = broken + max(int(sockets.get("status", 0)), counters.get("unexpected", 0))
    latency = raw["latency_ms"]
    return Result(
        name=name,
        requests_per_second=float(raw["requests_per_second"]),
        p50_ms=float(latency["p50"]),
        p99_ms=float(latency["p99"]),
        errors=errors,
        requests=int(raw["requests"]),
        counters=counters,
        raw=raw,
    )


def describe(result: Result, data_rows: int | None) -> str:
    c = result.counters
    if result.name == "activate":
        made = c.get("created", 0) + c.get("refreshed", 0)
        return f"{c.get('created', 0) / max(made, 1):.0%} new devices, rest re-activations"
    if result.name == "heartbeat":
        return f"{data_rows} live sessions"
    if result.name.startswith("session"):
        return f"{result.requests_per_second / 2:,.0f} start+end cycles/s"
    if result.name == "verify":
        return f"{data_rows} key/device pairs"
    if result.name == "signed-verify":
        return f"{data_rows} key/device pairs, Accept-Signature on each"
    return "GET /, Starlette JSONResponse"


# --- machine -------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def machine_info(admin_url: str) -> dict[str, str]:
    with seed.connect(admin_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10, check=False)
    versions = ", ".join(
        f"{p} {metadata.version(p)}" for p in ("uvicorn", "uvloop", "httptools", "starlette", "fastapi", "asyncpg")
    )
    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": str(row[0]) if row else "unknown",
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0].split("[")[0].strip(),
        "stack": versions,
        "load average at start": " ".join(f"{v:.2f}" for v in os.getloadavg()),
    }


# --- the run -------------------------------------------------------------------------------


@dataclass
class Run:
    options: argparse.Namespace
    load: Load
    workdir: Path
    data_dir: Path
    scale: seed.Scale
    database_url: str = ""
    api_key: str = ""
    pool_rows: dict[str, int] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def say(message: str) -> None:
    print(message, flush=True)


def timed(label: str, work: Callable[[], Any]) -> Any:
    started = time.monotonic()
    value = work()
    say(f"  {label}: {time.monotonic() - started:.1f} s")
    return value


def prepare_database(run: Run) -> None:
    name = run.options.database
    say(f"Database {name}: create, migrate, seed {run.scale.licenses:,} licenses")
    run.database_url = timed("create", lambda: seed.create_database(run.options.admin_url, name))
    run.api_key = timed("migrate", lambda: seed.migrate(run.database_url))
    timed("seed", lambda: seed.seed(run.database_url, run.scale))
    run.pool_rows = timed("export pools", lambda: seed.export_pools(run.database_url, run.scale, run.data_dir))


def measure(run: Run, scenario: Scenario, server: Server) -> Result:
    if scenario.name == "heartbeat":
        # Sessions opened now, not at seeding time: the client's 90 s timeout must not run out first.
        rows = seed.open_heartbeat_sessions(run.database_url, run.scale, run.data_dir)
        run.pool_rows["heartbeat"] = rows
    say(f"Running {scenario.name} ({run.load.duration} s) ...")
    command = wrk_command(scenario, server.url, run.load, run.load.duration, run.data_dir, run.api_key)
    safe_name = scenario.name.split()[0]
    server_cpu = CpuMeter(lambda: process_tree(server.pid))
    database_cpu = CpuMeter(lambda: database_backends(run.options.admin_url, run.options.database))
    server_cpu.start()
    database_cpu.start()
    raw = run_wrk(command, run.load.duration, run.workdir / f"wrk-{safe_name}.txt")
    server_seconds, database_seconds = server_cpu.stop(), database_cpu.stop()
    result = to_result(scenario.name, raw)
    if result.requests:
        result.server_cpu_us = 1e6 * server_seconds / result.requests
        if scenario.server == "api":
            result.database_cpu_us = 1e6 * database_seconds / result.requests
    pool = scenario.data.removesuffix(".tsv") if scenario.data else safe_name  # signed-verify reads verify's
    result.note = describe(result, run.pool_rows.get(pool))
    if not server.alive():
        run.problems.append(f"{server.name} server died during {scenario.name}")
    return result


def warm_up(run: Run, scenario: Scenario, server: Server) -> None:
    """Fill the connection pool, prepared statements and caches before anything is measured."""
    seconds = run.options.warmup
    if seconds > 0:
        command = wrk_command(scenario, server.url, run.load, seconds, run.data_dir, run.api_key)
        run_wrk(command, seconds, None)


def run_scenarios(run: Run, servers: dict[str, Server]) -> None:
    chosen = [s for s in SCENARIOS if s.name == "baseline" or s.name.split()[0] in run.options.scenario]
    warm_up(run, SCENARIOS[0], servers["baseline"])
    warm_up(run, SCENARIO_KEYS["verify"], servers["api"])
    for scenario in chosen:
        run.results.append(measure(run, scenario, servers[scenario.server]))
    baseline = run.results[0].requests_per_second
    for result in run.results:
        result.ratio = result.requests_per_second / baseline if baseline else None


def check(run: Run, servers: list[Server], exit_codes: dict[str, int | None]) -> None:
    for result in run.results:
        if result.errors:
            run.problems.append(f"{result.name}: {result.errors} unexpected answers or socket errors")
        if result.requests == 0:
            run.problems.append(f"{result.name}: no request completed")
    for server in servers:
        if exit_codes.get(server.name) not in CLEAN_EXITS:
            run.problems.append(f"{server.name} server exited with {exit_codes[server.name]}")
        problems, disconnects = server.log_problems()
        run.problems.extend(f"{server.name} log: {line}" for line in problems[:5])
        if disconnects:
            run.notes.append(f"{server.name} logged {disconnects} ClientDisconnect tracebacks (wrk stopping)")


def table(results: list[Result]) -> str:
    lines = [
        "| scenario | requests/s | p50 ms | p99 ms | errors | ratio to baseline"
        " | server CPU µs/req | PostgreSQL CPU µs/req | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        cells = [r.name, f"{r.requests_per_second:,.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", str(r.errors)]
        cells += [_optional(r.ratio, "{:.3f}"), _optional(r.server_cpu_us, "{:,.0f}")]
        cells += [_optional(r.database_cpu_us, "{:,.0f}"), r.note]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _optional(value: float | None, form: str) -> str:
    return "–" if value is None else form.format(value)


def report(run: Run, machine: dict[str, str]) -> None:
    machine["load average at end"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    load = run.load
    say("\nMachine")
    for key, value in machine.items():
        say(f"  {key}: {value}")
    say(
        f"\nLoad: wrk -t{load.threads} -c{load.connections} -d{load.duration}s on {HOST}; "
        f"{run.options.workers} worker(s) per server; {run.scale.licenses:,} licenses\n"
    )
    say(table(run.results))
    summary = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "load": vars(load) | {"workers": run.options.workers, "licenses": run.scale.licenses},
        "results": [vars(r) for r in run.results],
        "problems": run.problems,
        "notes": run.notes,
    }
    (run.workdir / "results.json").write_text(json.dumps(summary, indent=2))
    say(f"\nRaw wrk output, server logs and results.json: {run.workdir}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark the License API against a bare Starlette endpoint.")
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario (default 10)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes of each server (default 1)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load per server (default 3)")
    parser.add_argument("--quick", action="store_true", help="3 s per scenario, 1 s warm-up (CI)")
    parser.add_argument("--licenses", type=int, default=100_000, help="licenses to seed (default 100000)")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=[k for k in SCENARIO_KEYS if k != "baseline"],
        help="run only these (repeatable)",
    )
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_PG_ADMIN_URL", seed.DEFAULT_ADMIN_URL))
    parser.add_argument("--database", default=f"licenseserver_bench_{os.getpid()}", help="licenseserver_bench*")
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    options = parser.parse_args(argv)
    if options.quick:
        options.duration, options.warmup = 3, 1
    options.scenario = options.scenario or [k for k in SCENARIO_KEYS if k != "baseline"]
    if not options.database.startswith("licenseserver_bench"):
        parser.error("--database must start with licenseserver_bench (it is dropped and re-created)")
    if options.connections < options.threads:
        parser.error("--connections must be at least --threads (wrk needs a connection per thread)")
    return options


def new_run(options: argparse.Namespace) -> Run:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = (options.results_dir / f"run-{stamp}").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    scale = seed.Scale(customers=max(1, options.licenses // 100), licenses=options.licenses)
    load = Load(options.duration, options.connections, options.threads)
    return Run(options, load, workdir, workdir / "data", scale)


def execute(run: Run) -> None:
    prepare_database(run)
    servers = [baseline_server(run.workdir, run.options.workers)]
    servers.append(api_server(run.workdir, run.options.workers, run.database_url))
    say(f"Starting servers (workers={run.options.workers}) ...")
    try:
        with running(servers):
            run_scenarios(run, {s.name: s for s in servers})
    finally:
        # Also after a failure: the server logs usually say why.
        check(run, servers, {s.name: s.stop() for s in servers})


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    if shutil.which("wrk") is None:
        say("wrk not found: install it (Debian: apt-get install wrk)")
        return 2
    run = new_run(options)
    machine: dict[str, str] = {}
    try:
        machine = machine_info(options.admin_url)
        execute(run)
    except (RuntimeError, subprocess.SubprocessError, OSError, psycopg.Error) as exc:
        run.problems.append(f"run failed: {exc}")
    finally:
        if run.database_url and options.keep_db:
            say(f"Kept database {run.database_url}")
        elif run.database_url:
            seed.drop_database(options.admin_url, options.database)
            # The pools only make sense with their database (and hold its keys).
            shutil.rmtree(run.data_dir, ignore_errors=True)
    if run.results:
        report(run, machine)
    for note in run.notes:
        say(f"note: {note}")
    for problem in run.problems:
        say(f"PROBLEM: {problem}")
    return 1 if run.problems else 0


if __name__ == "__main__":
    sys.exit(main())
