"""Closed-loop load with wrk: a fixed number of connections, each sending its next request as soon
as the previous answer arrived. That measures capacity (requests/s); its latencies are mostly
queueing at saturation (p50 ≈ connections ÷ requests/s)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LUA_DIR = Path(__file__).resolve().parent / "lua"
WRK_TIMEOUT = "10s"
# wrk must finish within its duration plus this.
WRK_GRACE_SECONDS = 60


@dataclass(frozen=True)
class Load:
    duration: int
    connections: int
    threads: int


@dataclass
class Result:
    """One wrk run."""

    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    counters: dict[str, int] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    server_cpu_us: float | None = None  # per request, the server's processes
    database_cpu_us: float | None = None  # per request, the PostgreSQL backends of the bench database
    rows_written: int | None = None  # verify scenarios: devices the run refreshed (a write each)
    wal_bytes: int | None = None  # PostgreSQL runs: write-ahead log the cluster wrote during the run
    wal_full_pages: int | None = None  # of which full-page images (first write of a page after a checkpoint)
    checkpoints: int | None = None  # checkpoints begun during the run


def wrk_command(script: str, url: str, load: Load, duration: int, script_args: list[str]) -> list[str]:
    """The same shape for every scenario: threads, connections, timeout and latency histogram;
    the scenario only brings its script, its URL and the script's arguments."""
    command = ["wrk", f"-t{load.threads}", f"-c{load.connections}", f"-d{duration}s", "--timeout", WRK_TIMEOUT]
    command += ["--latency", "-s", str(LUA_DIR / script), url]
    if script_args:
        command += ["--", *script_args]
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
