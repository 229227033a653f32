"""What a run prints and keeps: the machine, one table row per scenario (medians of its pairs,
then its open-loop latencies), and results.json with every pair and load average."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from statistics import median
from typing import Any

import seed
from closed_loop import Result
from open_loop import OpenLoopResult
from scenarios import Scenario


@dataclass
class Pair:
    """One baseline run and the scenario run right after it, on the same wrk shape."""

    round: int
    load_average: float  # 1 minute, taken just before the baseline run
    baseline: Result
    scenario: Result

    @property
    def ratio(self) -> float | None:
        base = self.baseline.requests_per_second
        return self.scenario.requests_per_second / base if base else None


@dataclass
class Summary:
    scenario: Scenario
    pairs: list[Pair] = field(default_factory=list)
    pool_rows: int | None = None
    open_loop: OpenLoopResult | None = None
    # The bare baseline at the same constant rate right after: what the generator and the server
    # stack alone add to the latency at that rate, so the scenario's own share can be read.
    open_loop_baseline: OpenLoopResult | None = None
    resident_mib: dict[int, float] = field(default_factory=dict)  # API processes after its open-loop run
    profile: str = ""

    def median_of(self, value: str, side: str = "scenario") -> float | None:
        values = [getattr(getattr(p, side), value) for p in self.pairs]
        present = [v for v in values if v is not None]
        return median(present) if present else None

    @property
    def ratio(self) -> float | None:
        ratios = [r for r in (p.ratio for p in self.pairs) if r is not None]
        return median(ratios) if ratios else None

    @property
    def errors(self) -> int:
        open_loops = (self.open_loop, self.open_loop_baseline)
        return sum(p.scenario.errors + p.baseline.errors for p in self.pairs) + sum(o.errors for o in open_loops if o)

    def note(self) -> str:
        counters: dict[str, int] = {}
        for pair in self.pairs:
            for name, value in pair.scenario.counters.items():
                counters[name] = counters.get(name, 0) + value
        text = f"{self.pool_rows:,} {self.scenario.note}" if self.pool_rows is not None else self.scenario.note
        if self.scenario.key == "activate" and counters.get("refreshed"):
            made = counters.get("created", 0) + counters["refreshed"]
            text += f"; only {counters.get('created', 0) / made:.0%} new (free slots ran out)"
        if self.scenario.devices_seen:
            text += f"; devices {self.scenario.devices_seen}; {self._writes()}"
        return text

    def _writes(self) -> str:
        """Writes per request as measured (the database's count of refreshed devices), closed
        loop and open loop: the mix each actually ran, not the one it was meant to run."""
        closed = [(p.scenario.rows_written, p.scenario.requests) for p in self.pairs]
        written, asked = sum(w or 0 for w, _ in closed), sum(n for _, n in closed)
        text = f"writes/request closed {written / asked:.2f}" if asked else "writes/request closed –"
        o = self.open_loop
        if o is not None and o.writes_per_request is not None:
            text += f", open {o.writes_per_request:.2f}"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.key,
            "pool_rows": self.pool_rows,
            "median_ratio": self.ratio,
            "median_requests_per_second": self.median_of("requests_per_second"),
            "median_baseline_requests_per_second": self.median_of("requests_per_second", "baseline"),
            "median_server_cpu_us": self.median_of("server_cpu_us"),
            "median_database_cpu_us": self.median_of("database_cpu_us"),
            "pairs": [asdict(p) | {"ratio": p.ratio} for p in self.pairs],
            "open_loop": asdict(self.open_loop) if self.open_loop else None,
            "open_loop_baseline": asdict(self.open_loop_baseline) if self.open_loop_baseline else None,
            "median_baseline_server_cpu_us": self.median_of("server_cpu_us", "baseline"),
            "resident_mib": self.resident_mib,
            "profile": self.profile,
        }


def table(summaries: list[Summary]) -> str:
    lines = [
        "| scenario | pairs | req/s | baseline req/s | ratio (median) | ratios | p50 / p99 ms (closed)"
        " | server CPU µs/req (baseline) | PostgreSQL CPU µs/req | open loop req/s (planned) | p50 / p99 / p99.9 ms"
        " | inside the server p99 ms | baseline at that rate p50 / p99 ms | generator cores | RSS MiB | errors"
        " | note |",
        "| --- | ---: | ---: | ---: | ---: | --- |" + " ---: |" * 10 + " --- |",
    ]
    for s in summaries:
        ratios = [p.ratio for p in s.pairs if p.ratio is not None]
        o = s.open_loop
        cells = [s.scenario.label, str(len(s.pairs)), _optional(s.median_of("requests_per_second"), "{:,.0f}")]
        cells += [_optional(s.median_of("requests_per_second", "baseline"), "{:,.0f}"), _optional(s.ratio, "{:.3f}")]
        cells += [" ".join(f"{r:.3f}" for r in ratios) or "–"]
        cells += [f"{_optional(s.median_of('p50_ms'), '{:.2f}')} / {_optional(s.median_of('p99_ms'), '{:.2f}')}"]
        cpu, baseline_cpu = s.median_of("server_cpu_us"), s.median_of("server_cpu_us", "baseline")
        cells += [f"{_optional(cpu, '{:,.0f}')} ({_optional(baseline_cpu, '{:,.0f}')})"]
        cells += [_optional(s.median_of("database_cpu_us"), "{:,.0f}")]
        cells += [f"{o.achieved_rate:,.0f} ({o.planned_rate:,.0f})" if o else "–"]
        cells += [f"{o.p50_ms:.2f} / {o.p99_ms:.2f} / {o.p999_ms:.2f}" if o else "–"]
        cells += [_optional(o.server_p99_ms if o else None, "{:.2f}")]
        b = s.open_loop_baseline
        cells += [f"{b.p50_ms:.2f} / {b.p99_ms:.2f}" if b else "–", f"{o.generator_cores:.2f}" if o else "–"]
        cells += [" ".join(f"{v:.0f}" for v in s.resident_mib.values()) or "–", str(s.errors), s.note()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _optional(value: float | None, form: str) -> str:
    return "–" if value is None else form.format(value)


def load_average() -> float:
    return os.getloadavg()[0]


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


def machine_basics(admin_url: str) -> dict[str, str]:
    """The machine a figure was taken on, and how busy it was (every bench prints this)."""
    with seed.connect(admin_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": str(row[0]) if row else "unknown",
        "load average": " ".join(f"{v:.2f}" for v in os.getloadavg()),
    }


def machine_info(admin_url: str) -> dict[str, str]:
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10, check=False)
    versions = ", ".join(
        f"{p} {metadata.version(p)}" for p in ("uvicorn", "uvloop", "httptools", "starlette", "fastapi", "asyncpg")
    )
    return machine_basics(admin_url) | {
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0].split("[")[0].strip(),
        "stack": versions,
    }


def write_json(path: Path, summary: dict[str, Any], summaries: list[Summary]) -> None:
    path.write_text(json.dumps(summary | {"scenarios": [s.as_json() for s in summaries]}, indent=2, default=str))
