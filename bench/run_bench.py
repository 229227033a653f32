"""The License API benchmark, in one command:

    .venv/bin/python bench/run_bench.py [--rounds 3] [--duration 10] [--latency-seconds 20]
                                        [--connections 64] [--threads 2] [--workers 1]
                                        [--scenario NAME ...] [--profile NAME] [--quick] [--keep-db]

It seeds a fresh PostgreSQL database (and, for "verify (SQLite)", a SQLite file with the same
rows), starts the bare Starlette baseline and the License API (`licenseserver serve api`,
production settings) on 127.0.0.1, then for each scenario:

1. closed loop, in pairs: N rounds of (baseline run, scenario run) with the same wrk shape; the
   ratio reported is the median of the per-pair ratios, so a machine that gets busier during
   the run moves both halves of a pair and not the ratio. The 1-minute load average is printed
   before each pair, with a WARNING when it is above half the cores (1.0 on 2 cores);
2. open loop, after every closed-loop run: a constant rate of half the scenario's measured
   capacity (bench/open_loop.py), latency measured from each request's due time: p50/p99/p99.9.

Exit status 1 when a run saw unexpected answers or a server failed (never for a ratio), 2 when
wrk is missing. See docs/performance.md for what each scenario measures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

import seed
import seed_sqlite
from closed_loop import Load
from open_loop import WARMUP_SECONDS
from phases import BUSY_LOAD, Run, check, chosen, run_scenarios, say
from report import cpu_model, machine_info, memory_gib, table, write_json
from scenarios import BY_KEY
from servers import BENCH_DIR, HOST, Server, api_server, baseline_server, clean_env, free_port, running

# bench/admin_lists.py starts its panel and reads the machine through these names of run_bench.
__all__ = ["HOST", "Server", "clean_env", "cpu_model", "free_port", "main", "memory_gib"]


def timed(label: str, work: Callable[[], Any]) -> Any:
    started = time.monotonic()
    value = work()
    say(f"  {label}: {time.monotonic() - started:.1f} s")
    return value


def prepare_databases(run: Run) -> None:
    name = run.options.database
    say(f"Database {name}: create, migrate, seed {run.scale.licenses:,} licenses")
    run.database_url = timed("create", lambda: seed.create_database(run.options.admin_url, name))
    run.api_keys["api"] = timed("migrate", lambda: seed.migrate(run.database_url))
    timed("seed", lambda: seed.seed(run.database_url, run.scale))
    run.pool_rows = timed("export pools", lambda: seed.export_pools(run.database_url, run.scale, run.data_dir))
    run.pool_rows = {f"{pool}.tsv": rows for pool, rows in run.pool_rows.items()}
    if any(s.server == "api-sqlite" for s in chosen(run)):
        path = run.workdir / "sqlite-bench.db"
        run.api_keys["api-sqlite"] = timed(
            f"SQLite copy ({path.name})", lambda: seed_sqlite.create(run.database_url, path)
        )


def report(run: Run, machine: dict[str, str]) -> None:
    machine["load average at end"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    load, options = run.load, run.options
    say("\nMachine")
    for key, value in machine.items():
        say(f"  {key}: {value}")
    say(
        f"\nClosed loop: {options.rounds} pair(s) per scenario of wrk -t{load.threads} -c{load.connections}"
        f" -d{load.duration}s on {HOST}; open loop: {options.latency_seconds} s at half the measured req/s"
        f" (after {WARMUP_SECONDS:.0f} s at that rate, unmeasured) over up to {options.latency_connections}"
        f" connections; {options.workers} worker(s) per server;"
        f" {run.scale.licenses:,} licenses\n"
    )
    say(table(run.summaries))
    busy = sorted({p.load_average for s in run.summaries for p in s.pairs if p.load_average > BUSY_LOAD})
    if busy:
        say(
            f"\nWARNING: {len(busy)} pair(s) began with a load average above {BUSY_LOAD:.1f} (up to {busy[-1]:.2f}):"
            " these figures were taken on a busy machine"
        )
    summary = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "load": vars(load) | {"workers": options.workers, "licenses": run.scale.licenses, "rounds": options.rounds},
        "open_loop": {
            "seconds": options.latency_seconds,
            "warmup_seconds": WARMUP_SECONDS,
            "connections": options.latency_connections,
        },
        "busy_load_average": BUSY_LOAD,
        "problems": run.problems,
        "notes": run.notes,
    }
    write_json(run.workdir / "results.json", summary, run.summaries)
    say(f"\nRaw wrk output, server logs and results.json: {run.workdir}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark the License API against a bare Starlette endpoint.")
    parser.add_argument("--rounds", type=int, default=3, help="(baseline, scenario) pairs per scenario (default 3)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run (default 10)")
    parser.add_argument("--latency-seconds", type=int, default=20, help="seconds of the open-loop run (default 20)")
    parser.add_argument("--latency-connections", type=int, default=32, help="open-loop connections (default 32)")
    parser.add_argument(
        "--generator-nice",
        type=int,
        default=0,
        help="niceness of the open-loop generator during its runs (default 0, as the servers; below 0 needs root)",
    )
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes of each server (default 1)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load per server (default 3)")
    parser.add_argument("--quick", action="store_true", help="1 pair of 3 s, 3 s open loop, 1 s warm-up (CI)")
    parser.add_argument("--licenses", type=int, default=100_000, help="licenses to seed (default 100000)")
    parser.add_argument("--scenario", action="append", choices=list(BY_KEY), help="run only these (repeatable)")
    parser.add_argument("--profile", choices=list(BY_KEY), help="also record a flame graph of this scenario")
    parser.add_argument("--profile-output", type=Path, help="the SVG (default docs/perf/<scenario>-<date>.svg)")
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_PG_ADMIN_URL", seed.DEFAULT_ADMIN_URL))
    parser.add_argument("--database", default=f"licenseserver_bench_{os.getpid()}", help="licenseserver_bench*")
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    options = parser.parse_args(argv)
    if options.quick:
        options.rounds, options.duration, options.latency_seconds, options.warmup = 1, 3, 3, 1
    options.scenario = options.scenario or list(BY_KEY)
    if options.profile and options.profile not in options.scenario:
        options.scenario.append(options.profile)
    if not options.database.startswith("licenseserver_bench"):
        parser.error("--database must start with licenseserver_bench (it is dropped and re-created)")
    if options.connections < options.threads:
        parser.error("--connections must be at least --threads (wrk needs a connection per thread)")
    if options.rounds < 1 or options.duration < 1 or options.latency_seconds < 1:
        parser.error("--rounds, --duration and --latency-seconds must be at least 1")
    return options


def new_run(options: argparse.Namespace) -> Run:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = (options.results_dir / f"run-{stamp}").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    scale = seed.Scale(customers=max(1, options.licenses // 100), licenses=options.licenses)
    load = Load(options.duration, options.connections, options.threads)
    return Run(options, load, workdir, workdir / "data", scale)


def execute(run: Run) -> None:
    prepare_databases(run)
    workers = run.options.workers
    servers = [baseline_server(run.workdir, workers), api_server(run.workdir, workers, run.database_url)]
    if "api-sqlite" in run.api_keys:
        url = seed_sqlite.sqlite_url(run.workdir / "sqlite-bench.db")
        servers.append(api_server(run.workdir, workers, url, name="api-sqlite"))
    say(f"Starting servers (workers={workers}) ...")
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
            (run.workdir / "sqlite-bench.db").unlink(missing_ok=True)
    if run.summaries:
        report(run, machine)
    for note in run.notes:
        say(f"note: {note}")
    for problem in run.problems:
        say(f"PROBLEM: {problem}")
    return 1 if run.problems else 0


if __name__ == "__main__":
    sys.exit(main())
