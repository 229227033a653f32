"""The phases of a benchmark run, in order: warm-up; for each scenario its closed-loop pairs
(baseline run, scenario run) with the load average before each; then each scenario's open-loop
run at half its measured capacity; then the optional profile; finally the check of answers,
exit codes and server logs. run_bench.py prepares the databases and servers and reports."""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import seed
from closed_loop import Load, Result, run_wrk, to_result, wrk_command
from open_loop import WARMUP_SECONDS, OpenLoopResult, generator_niceness, run_constant_rate, server_side_p99_ms
from profiling import finish_recording, start_recording
from report import Pair, Summary, load_average
from scenarios import (
    BASELINE,
    BY_KEY,
    SCENARIOS,
    Scenario,
    Setting,
    database_clock,
    prepare,
    rows_written,
    script_args,
)
from servers import BENCH_DIR, CLEAN_EXITS, HOST, CpuMeter, Server, database_backends, process_tree, resident_mib
from traffic import traffic_for

ROOT = BENCH_DIR.parent


# Above this 1-minute load average the machine was busy before the pair began: its figures flatter
# or hide. Half the cores: 1.0 on the 2-core machine docs/performance.md reports on.
BUSY_LOAD = (os.cpu_count() or 2) / 2
# The API hands its access lines to their writer every 50 ms (kit/line_writer.py): after an
# open-loop run the bench waits this long before it reads the run's lines.
ACCESS_LINES_SECONDS = 0.3


@dataclass
class Run:
    options: argparse.Namespace
    load: Load
    workdir: Path
    data_dir: Path
    scale: seed.Scale
    database_url: str = ""
    api_keys: dict[str, str] = field(default_factory=dict)  # by server name
    pool_rows: dict[str, int] = field(default_factory=dict)  # by pool file
    summaries: list[Summary] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    runs: int = 0  # every load run so far; tags device names and output files

    @property
    def setting(self) -> Setting:
        longest = max(self.load.duration, round(WARMUP_SECONDS + self.options.latency_seconds))
        return Setting(self.database_url, self.scale, self.data_dir, self.workdir / "sqlite-bench.db", longest)

    def next_tag(self) -> str:
        self.runs += 1
        return f"{os.getpid()}r{self.runs}"


def say(message: str) -> None:
    print(message, flush=True)


def chosen(run: Run) -> list[Scenario]:
    return [s for s in SCENARIOS if s.key in run.options.scenario]


def measure(run: Run, scenario: Scenario, server: Server, duration: int) -> Result:
    """One wrk run of `scenario`, with the CPU its server and database spent."""
    rows = prepare(scenario, run.setting)
    if rows is not None and scenario.data:
        run.pool_rows[scenario.data] = rows
    tag = run.next_tag()
    arguments = script_args(scenario, run.data_dir, run.api_keys.get(server.name, ""), run.load.threads, tag)
    command = wrk_command(scenario.script, server.url + scenario.path, run.load, duration, arguments)
    server_cpu = CpuMeter(lambda: process_tree(server.pid))
    database_cpu = CpuMeter(lambda: database_backends(run.options.admin_url, run.options.database))
    started = database_clock(scenario, run.setting)
    on_postgres = server.name == "api"
    wal_before = seed.wal_mark(run.database_url) if on_postgres else None
    server_cpu.start()
    database_cpu.start()
    raw = run_wrk(command, duration, run.workdir / f"wrk-{run.runs:03d}-{scenario.key}.txt")
    server_seconds, database_seconds = server_cpu.stop(), database_cpu.stop()
    result = to_result(scenario.key, raw)
    result.rows_written = rows_written(scenario, run.setting, started)
    if wal_before is not None:
        wal_after = seed.wal_mark(run.database_url)
        result.wal_bytes = wal_after.bytes - wal_before.bytes
        result.wal_full_pages = wal_after.full_pages - wal_before.full_pages
        result.checkpoints = wal_after.checkpoints - wal_before.checkpoints
    if result.requests:
        result.server_cpu_us = 1e6 * server_seconds / result.requests
        if on_postgres:  # SQLite runs inside the server's process
            result.database_cpu_us = 1e6 * database_seconds / result.requests
    if not server.alive():
        run.problems.append(f"{server.name} server died during {scenario.key}")
    return result


def run_pairs(run: Run, scenario: Scenario, servers: dict[str, Server]) -> Summary:
    summary = Summary(scenario)
    rounds, duration = run.options.rounds, run.load.duration
    for number in range(1, rounds + 1):
        busy = load_average()
        warning = f"  WARNING: load average {busy:.2f} > {BUSY_LOAD:.1f}: busy machine" if busy > BUSY_LOAD else ""
        say(f"{scenario.label}, pair {number}/{rounds} ({duration} s + {duration} s), load average {busy:.2f}{warning}")
        baseline = measure(run, BASELINE, servers["baseline"], duration)
        result = measure(run, scenario, servers[scenario.server], duration)
        pair = Pair(number, busy, baseline, result)
        summary.pairs.append(pair)
        ratio = f"{pair.ratio:.3f}" if pair.ratio is not None else "–"
        writes = ""
        if result.rows_written is not None and result.requests:
            writes = f", writes/request {result.rows_written / result.requests:.2f}"
        if result.wal_bytes is not None and result.requests:
            writes += (
                f", WAL {result.wal_bytes / result.requests / 1000:.2f} kB/request"
                f" ({result.wal_full_pages:,} full pages), checkpoints {result.checkpoints}"
            )
        say(
            f"  baseline {baseline.requests_per_second:,.0f} req/s, {scenario.key} {result.requests_per_second:,.0f}"
            f" req/s, ratio {ratio}{writes}"
        )
    if scenario.data:
        summary.pool_rows = run.pool_rows.get(scenario.data)
    return summary


def run_open_loop(run: Run, summary: Summary, servers: dict[str, Server]) -> None:
    """Constant rate at half the scenario's closed-loop capacity (median of its runs), then the
    bare baseline at the same rate: the latency the generator and the server stack add alone."""
    capacity = summary.median_of("requests_per_second") or 0.0
    if capacity < 2:
        run.problems.append(f"{summary.scenario.key}: no capacity measured, no open-loop run")
        return
    scenario, server = summary.scenario, servers[summary.scenario.server]
    rate = capacity / 2
    summary.open_loop = constant_rate_run(run, scenario, server, rate)
    summary.resident_mib = resident_mib(process_tree(server.pid))
    summary.open_loop_baseline = constant_rate_run(run, BASELINE, servers["baseline"], rate)


def constant_rate_run(run: Run, scenario: Scenario, server: Server, rate: float) -> OpenLoopResult:
    seconds = run.options.latency_seconds
    busy = load_average()
    warning = f"  WARNING: load average {busy:.2f} > {BUSY_LOAD:.1f}: busy machine" if busy > BUSY_LOAD else ""
    say(
        f"{scenario.label}, open loop at {rate:,.0f} req/s for {WARMUP_SECONDS:.0f} s unmeasured + {seconds} s,"
        f" load average {busy:.2f}{warning}"
    )
    prepare(scenario, run.setting)
    traffic = traffic_for(scenario, HOST, run.api_keys.get(server.name, ""), run.data_dir, run.next_tag())
    port = int(server.url.rsplit(":", 1)[1])
    started = database_clock(scenario, run.setting)
    log_offset = server.log_path.stat().st_size
    with generator_niceness(run.options.generator_nice) as niceness:
        result = run_constant_rate(HOST, port, traffic, rate, seconds, run.options.latency_connections)
    result.generator_niceness = niceness
    time.sleep(ACCESS_LINES_SECONDS)
    result.server_p99_ms = server_side_p99_ms(server.log_path, log_offset, scenario.path, result.measured_from)
    result.rows_written = rows_written(scenario, run.setting, started)
    per_request = result.writes_per_request
    writes = f", writes/request {per_request:.2f}" if per_request is not None else ""
    say(
        f"  achieved {result.achieved_rate:,.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms,"
        f" p99.9 {result.p999_ms:.2f} ms, errors {result.errors}{writes}, generator {result.generator_cores:.2f} cores"
        f" (nice {result.generator_niceness})"
    )
    if result.server_p99_ms is not None:
        say(f"  inside the server: p99 {result.server_p99_ms:.2f} ms (its access log)")
    if not server.alive():
        run.problems.append(f"{server.name} server died during the open-loop {scenario.key}")
    return result


def run_profile(run: Run, scenario: Scenario, server: Server) -> str:
    """One more (unmeasured) wrk run of `scenario` with py-spy on the server; the SVG's path."""
    default = ROOT / "docs" / "perf" / f"{scenario.key}-{datetime.now(UTC):%Y-%m-%d}.svg"
    svg = (run.options.profile_output or default).resolve()
    log = run.workdir / f"py-spy-{scenario.key}.log"
    duration = run.load.duration
    say(f"{scenario.label}: profiling the {server.name} server ({duration} s) with py-spy ...")
    recorder = start_recording(server.pid, duration, svg, log)
    time.sleep(1)  # attached before the load begins
    result = measure(run, scenario, server, duration)
    finish_recording(recorder, duration, log)
    if result.errors:
        run.problems.append(f"{scenario.key} (profiled run): {result.errors} unexpected answers or socket errors")
    say(f"  flame graph: {svg}")
    return str(svg)


def warm_up(run: Run, servers: dict[str, Server]) -> None:
    """Fill the connection pools, prepared statements and caches before anything is measured."""
    seconds = run.options.warmup
    if seconds <= 0:
        return
    for name, server in servers.items():
        scenario = BASELINE if name == "baseline" else BY_KEY["verify"]
        arguments = script_args(scenario, run.data_dir, run.api_keys.get(name, ""), run.load.threads, "warm")
        run_wrk(wrk_command(scenario.script, server.url + scenario.path, run.load, seconds, arguments), seconds, None)


def run_scenarios(run: Run, servers: dict[str, Server]) -> None:
    warm_up(run, servers)
    for scenario in chosen(run):
        run.summaries.append(run_pairs(run, scenario, servers))
    for summary in run.summaries:
        run_open_loop(run, summary, servers)
    if run.options.profile:
        scenario = BY_KEY[run.options.profile]
        profiled = next((s for s in run.summaries if s.scenario.key == scenario.key), None)
        if profiled is not None:
            try:
                profiled.profile = run_profile(run, scenario, servers[scenario.server])
            except (RuntimeError, OSError) as exc:
                run.problems.append(f"profile of {scenario.key}: {exc}")


def check(run: Run, servers: list[Server], exit_codes: dict[str, int | None]) -> None:
    for summary in run.summaries:
        for pair in summary.pairs:
            for result in (pair.baseline, pair.scenario):
                if result.errors:
                    run.problems.append(
                        f"{result.name} (pair {pair.round}): {result.errors} unexpected answers or socket errors"
                    )
                if result.requests == 0:
                    run.problems.append(f"{result.name} (pair {pair.round}): no request completed")
        for label, open_loop in (("open loop", summary.open_loop), ("baseline open loop", summary.open_loop_baseline)):
            if open_loop and open_loop.errors:
                run.problems.append(f"{summary.scenario.key} {label}: {open_loop.errors} errors {open_loop.counters}")
    for server in servers:
        if exit_codes.get(server.name) not in CLEAN_EXITS:
            run.problems.append(f"{server.name} server exited with {exit_codes[server.name]}")
        problems, disconnects = server.log_problems()
        run.problems.extend(f"{server.name} log: {line}" for line in problems[:5])
        if disconnects:
            run.notes.append(f"{server.name} logged {disconnects} ClientDisconnect tracebacks (wrk stopping)")
