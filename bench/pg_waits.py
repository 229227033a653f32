"""What PostgreSQL waits on while the bench runs, to explain a burst of slow requests afterwards.

    .venv/bin/python bench/pg_waits.py record --out /tmp/waits.jsonl [--interval 0.05] [--seconds 3600]
    .venv/bin/python bench/pg_waits.py explain --waits /tmp/waits.jsonl --run bench/results/run-<time> [--slow-ms 5]

`record` polls, every interval, the bench databases' backends and PostgreSQL's own processes
(autovacuum, checkpointer, background writer, WAL writer) from pg_stat_activity, together with the
checkpointer's and the WAL's counters, and writes one JSON line per sample until stopped (Ctrl-C,
SIGTERM) or the seconds are up. It runs beside `bench/run_bench.py`, in its own process, against
the same server (`--admin-url`, default `BENCH_PG_ADMIN_URL` or postgres@127.0.0.1).

`explain` takes a run's folder and, for each scenario's open-loop run (its measured seconds, from
results.json), finds in the API's access log every 0.1 s in which more than 20 requests took over
`--slow-ms` inside the server. For each such burst it prints what the samples taken during it
show: the wait events of the bench's active backends, what PostgreSQL's own processes (an
autovacuum worker among them) were doing, and how far the checkpointer's, the background
writer's, the backends' own buffer writes and the WAL's counters moved. A burst with no sample
beside it is printed as such.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

import seed
from open_loop import access_lines, logged_at

ACTIVITY = """
SELECT pid, backend_type, coalesce(datname, '') AS datname, coalesce(state, '') AS state,
       coalesce(wait_event_type, '') AS wait_event_type, coalesce(wait_event, '') AS wait_event,
       left(coalesce(query, ''), 80) AS query
  FROM pg_stat_activity
 WHERE pid <> pg_backend_pid()
   AND (datname LIKE 'licenseserver_bench%' OR backend_type <> 'client backend')
"""
# Counters that say who wrote buffers out and how the WAL kept up (PostgreSQL 14 to 16).
COUNTERS = """
SELECT b.checkpoints_timed, b.checkpoints_req, b.buffers_checkpoint, b.buffers_clean,
       b.maxwritten_clean, b.buffers_backend, b.buffers_backend_fsync,
       w.wal_buffers_full, w.wal_write, w.wal_sync, w.wal_bytes::bigint AS wal_bytes
  FROM pg_stat_bgwriter b, pg_stat_wal w
"""
# PostgreSQL 17 moved the checkpointer's and the backends' buffer writes out of pg_stat_bgwriter.
WAL_COUNTERS = "SELECT wal_buffers_full, wal_write, wal_sync, wal_bytes::bigint AS wal_bytes FROM pg_stat_wal"
BURST_WINDOW = 0.1  # seconds
BURST_MIN_SLOW = 20  # slow requests within one window that make it a burst


def record(admin_url: str, out: Path, interval: float, seconds: float) -> None:
    stop = False

    def stop_sampling(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, stop_sampling)
    signal.signal(signal.SIGINT, stop_sampling)
    deadline = time.monotonic() + seconds
    with psycopg.connect(admin_url, autocommit=True) as db, out.open("w") as file:
        # A counter read is only as fresh as the statistics snapshot: take a new one each time.
        db.execute("SET stats_fetch_consistency = 'none'")
        counters = _counters_query(db)
        samples = 0
        while not stop and time.monotonic() < deadline:
            started = time.monotonic()
            sample = {"at": time.time(), "backends": _rows(db, ACTIVITY), "counters": _rows(db, counters)[0]}
            file.write(json.dumps(sample) + "\n")
            samples += 1
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    print(f"{samples} samples in {out}")


def _counters_query(db: psycopg.Connection[Any]) -> str:
    try:
        db.execute(COUNTERS)
    except psycopg.errors.UndefinedColumn:
        return WAL_COUNTERS
    return COUNTERS


def _rows(db: psycopg.Connection[Any], query: str) -> list[dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(query).fetchall()


@dataclass
class Burst:
    start: float
    end: float
    slow: int
    slowest_ms: float


@dataclass
class OpenLoopWindow:
    """The measured seconds of one scenario's open-loop run, as results.json keeps them."""

    scenario: str
    start: float
    end: float

    @classmethod
    def of_run(cls, run: Path) -> list[OpenLoopWindow]:
        results = json.loads((run / "results.json").read_text())
        windows = []
        for summary in results["scenarios"]:
            loop = summary.get("open_loop")
            if loop and loop.get("measured_from") and loop["achieved_rate"]:
                start = loop["measured_from"]
                windows.append(cls(summary["scenario"], start, start + loop["requests"] / loop["achieved_rate"]))
        return windows


def bursts(access_log: Path, window: OpenLoopWindow, slow_ms: float) -> tuple[list[Burst], int]:
    """The 0.1 s stretches (merged when adjacent) of `window` in which many requests took over
    `slow_ms` inside the server, by the time a request ended, and the slow requests in all."""
    slow_by_tenth: dict[int, list[float]] = {}
    for entry in access_lines(access_log):
        ended, duration = logged_at(entry["time"]), float(entry["duration_ms"])
        if window.start <= ended <= window.end and duration > slow_ms:
            slow_by_tenth.setdefault(int(ended / BURST_WINDOW), []).append(duration)
    found: list[Burst] = []
    for tenth in sorted(slow_by_tenth):
        durations = slow_by_tenth[tenth]
        if len(durations) <= BURST_MIN_SLOW:
            continue
        start = tenth * BURST_WINDOW
        if found and abs(found[-1].end - start) < 1e-6:
            last = found[-1]
            slowest = max(last.slowest_ms, *durations)
            found[-1] = Burst(last.start, start + BURST_WINDOW, last.slow + len(durations), slowest)
        else:
            found.append(Burst(start, start + BURST_WINDOW, len(durations), max(durations)))
    return found, sum(len(d) for d in slow_by_tenth.values())


def explain(waits: Path, run: Path, slow_ms: float) -> None:
    samples = [json.loads(line) for line in waits.open()]
    for window in OpenLoopWindow.of_run(run):
        # The SQLite scenarios are served by their own API process, which no sample watches.
        log = run / ("api-sqlite.log" if window.scenario.startswith("sqlite") else "api.log")
        found, slow_total = bursts(log, window, slow_ms)
        print(f"{window.scenario}: {slow_total} requests over {slow_ms:g} ms inside the server, {len(found)} bursts")
        for burst in found:
            # Its requests began up to their duration before they ended: look that far back.
            first = bisect.bisect_left(samples, burst.start - burst.slowest_ms / 1000, key=lambda s: s["at"])
            last = bisect.bisect_right(samples, burst.end, key=lambda s: s["at"])
            during = samples[first:last]
            print(
                f"  burst at {burst.start - window.start:.1f} s into the measured part, "
                f"{burst.end - burst.start:.1f} s long: {burst.slow} slow requests, "
                f"slowest {burst.slowest_ms:.1f} ms, {len(during)} samples"
            )
            if during and log.name == "api.log":
                describe(during, before=samples[max(0, first - 1)])


def describe(during: list[dict[str, Any]], before: dict[str, Any]) -> None:
    """What the samples `during` a burst show; the counters as they moved since `before`."""
    waits: Counter[str] = Counter()
    others: Counter[str] = Counter()
    for sample in during:
        for backend in sample["backends"]:
            wait = f"{backend['wait_event_type']}:{backend['wait_event']}".strip(":") or "on CPU"
            if backend["backend_type"] == "client backend" and backend["state"] == "active":
                waits[wait] += 1
            elif backend["backend_type"] != "client backend" and backend["wait_event_type"] != "Activity":
                # Activity is a process's idle wait for its next round: only its work is told.
                others[f"{backend['backend_type']} {wait} {backend['query']}".strip()] += 1
    print("    active bench backends, by wait (backend-samples): " + _listed(waits))
    print("    PostgreSQL's own processes at work: " + _listed(others))
    moved = {key: during[-1]["counters"][key] - before["counters"][key] for key in before["counters"]}
    print("    counters moved: " + (", ".join(f"{key} {value:+d}" for key, value in moved.items() if value) or "none"))


def _listed(counts: Counter[str]) -> str:
    return ", ".join(f"{what} {count}" for what, count in counts.most_common(8)) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    recording = commands.add_parser("record")
    recording.add_argument("--out", type=Path, required=True)
    recording.add_argument("--interval", type=float, default=0.05)
    recording.add_argument("--seconds", type=float, default=3600)
    recording.add_argument("--admin-url", default=os.environ.get("BENCH_PG_ADMIN_URL", seed.DEFAULT_ADMIN_URL))
    explaining = commands.add_parser("explain")
    explaining.add_argument("--waits", type=Path, required=True)
    explaining.add_argument("--run", type=Path, required=True, help="a run's folder, bench/results/run-*")
    explaining.add_argument("--slow-ms", type=float, default=5.0)
    options = parser.parse_args()
    if options.command == "record":
        record(options.admin_url, options.out, options.interval, options.seconds)
    else:
        explain(options.waits, options.run, options.slow_ms)


if __name__ == "__main__":
    main()
