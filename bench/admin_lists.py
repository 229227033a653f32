"""The admin panel's lists at scale, in one command:

    .venv/bin/python bench/admin_lists.py [--licenses 1000000] [--requests 50] [--quick]
                                          [--small 10000] [--explain] [--keep-db] [--reuse]
                                          [--only TEXT ...]

For each of two sizes (--small, then --licenses) it creates and seeds a fresh PostgreSQL
database (bench/admin_seed.py), creates a staff account, starts the admin panel on 127.0.0.1
(bench/admin_probe.py: the real app factory under uvicorn, plus a statement count per request),
logs in like a browser and times each list request one at a time, after a warm-up. It prints
p50 and p99 per request type and how many SQL statements one request sent, side by side for
both sizes, and exits 1 when a p99 exceeds the budget, a count grows with the rows, or a request
failed. --explain writes EXPLAIN (ANALYZE, BUFFERS) of every statement of the slowest request of
each type at the larger size. --reuse seeds each size once, into a database of its own
(licenseserver_bench_admin_<licenses>), kept for the next run with --reuse; --only times the
request types whose name contains one of the texts (before/after runs close together). See
docs/performance.md, "Admin lists at 1,000,000 licenses".
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2 as httpx
import psycopg

import admin_seed
import seed
from admin_explain import explain_requests
from admin_probe import GC_MS_HEADER, QUERIES_HEADER, SERVER_MS_HEADER, SQL_LOG_ENV
from licenseserver.db.unit_of_work import run_in_orm_transaction
from licenseserver.domain.staff.service import create_admin
from report import machine_basics
from run_bench import HOST, Server, clean_env, free_port

BENCH_DIR = Path(__file__).resolve().parent
DATABASE = "licenseserver_bench_admin"
BUDGET_MS = 100.0  # the p99 budget per request
STAFF_USERNAME = "bench-admin"
REQUEST_TIMEOUT_SECONDS = 30.0
WARMUP_REQUESTS = 3
FILTERED_PAGE_AT_MILLION = 200  # the filtered page's number at 1,000,000 licenses, scaled below
CSRF_INPUT = 'name="csrf_token" value="'


@dataclass(frozen=True)
class Probe:
    """One request type: the paths its timed requests rotate over (real keys and names)."""

    name: str
    paths: Callable[[admin_seed.Samples, int], list[str]]
    required: bool = True  # the list; the others are measured for context
    # Statements one request may send whatever the data, when that depends on the hits (the
    # global search counts a kind only when it has more hits than it shows); None: no more than
    # at the small size.
    bound: int | None = None


def _url(path: str, **params: Any) -> str:
    return f"{path}?{urlencode(params)}"


def filtered_page(licenses: int) -> int:
    """Page 200 at a million licenses and as deep, relatively, at other sizes (so it exists)."""
    return max(2, FILTERED_PAGE_AT_MILLION * licenses // 1_000_000)


def _typed(samples: admin_seed.Samples) -> list[str]:
    """What staff type into the customer select: the first letters of a name."""
    return [name[:5] for name in samples.names]


# Session check and refresh, the customers' match probe (also their count), then a query per kind
# (customers, licenses, devices, leads, lead contacts, resources) and, beyond the limit, a COUNT
# for each kind but the customers.
GLOBAL_SEARCH_BOUND = 2 + 1 + 6 + 5
PROBES = (
    Probe("license list, first page", lambda s, n: ["/licenses"]),
    Probe("search by key prefix", lambda s, n: [_url("/licenses", q=k[: 4 + i % 6]) for i, k in enumerate(s.keys)]),
    Probe("search by customer name", lambda s, n: [_url("/licenses", q=name) for name in s.names]),
    Probe(
        "filtered and sorted page",
        lambda s, n: [
            _url(
                "/licenses", state="active", type="subscription", sort="valid_until", dir="desc", page=filtered_page(n)
            )
        ],
    ),
    Probe("customer select", lambda s, n: [_url("/api/customers", q=text) for text in _typed(s)]),
    Probe(
        "global search",
        lambda s, n: [_url("/api/global-search", q=name) for name in s.names],
        bound=GLOBAL_SEARCH_BOUND,
    ),
    Probe("search by a common surname", lambda s, n: [_url("/licenses", q=name) for name in s.surnames], False),
    Probe("customer select, two words", lambda s, n: [_url("/api/customers", q=name) for name in s.names], False),
    Probe("customer select, no text", lambda s, n: ["/api/customers"], False),
    Probe(
        "global search by key prefix",
        lambda s, n: [_url("/api/global-search", q=k[:6]) for k in s.keys],
        False,
        GLOBAL_SEARCH_BOUND,
    ),
    Probe(
        "global search, a common word",
        lambda s, n: [_url("/api/global-search", q=word) for word in ("desktop", "laptop", "gmbh")],
        False,
        GLOBAL_SEARCH_BOUND,
    ),
    Probe(
        "global search, a lead name",
        lambda s, n: [_url("/api/global-search", q=name) for name in s.records.lead_names],
        False,
        GLOBAL_SEARCH_BOUND,
    ),
    Probe(
        "global search, a resource IP",
        lambda s, n: [_url("/api/global-search", q=ip) for ip in s.records.resource_ips],
        False,
        GLOBAL_SEARCH_BOUND,
    ),
    Probe(
        "global search, a contact e-mail",
        lambda s, n: [_url("/api/global-search", q=mail) for mail in s.records.contact_emails],
        False,
        GLOBAL_SEARCH_BOUND,
    ),
    Probe(
        "header box's live list, a lead name",
        lambda s, n: [_url("/search/live", q=name) for name in s.records.lead_names],
        False,
        GLOBAL_SEARCH_BOUND,
    ),
    Probe("license list sorted by customer", lambda s, n: [_url("/licenses", sort="customer", dir="asc")], False),
    Probe("license list sorted by end date", lambda s, n: [_url("/licenses", sort="valid_until", dir="desc")], False),
    Probe("license count (loaded after the list)", lambda s, n: ["/licenses/count"], False),
)


@dataclass
class Measurement:
    probe: str
    example: str
    latencies_ms: list[float]
    server_ms: list[float]
    queries: set[int]
    failures: list[str] = field(default_factory=list)
    slowest: str = ""
    slowest_gc_ms: float = 0.0  # of the slowest request: full garbage collections in the panel

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def server_p50(self) -> float:
        return percentile(self.server_ms, 50)


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: with 50 samples p99 is the slowest request, never an interpolation below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class SizeRun:
    licenses: int
    counts: admin_seed.Counts | None = None
    seed_seconds: float = 0.0
    measurements: list[Measurement] = field(default_factory=list)


def say(message: str) -> None:
    print(message, flush=True)


# --- the panel -------------------------------------------------------------------------------


def panel_server(workdir: Path, database_url: str, name: str, sql_log: Path | None) -> Server:
    command = [sys.executable, str(BENCH_DIR / "admin_probe.py"), "--host", HOST]
    extra = {"DATABASE_URL": database_url, "SECRET_KEY": secrets.token_urlsafe(32)}
    if sql_log is not None:
        extra[SQL_LOG_ENV] = str(sql_log)
    return Server(name, free_port(), command, clean_env(**extra), workdir, "/login")


@contextmanager
def started(server: Server) -> Iterator[Server]:
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def create_staff(database_url: str, username: str, password: str) -> None:
    run_in_orm_transaction(database_url, lambda session: create_admin(session, username, password))


def log_in(client: httpx.Client, username: str, password: str) -> None:
    """As a browser does: the form's CSRF cookie and hidden field, then the form post."""
    form = client.get("/login")
    form.raise_for_status()
    start = form.text.index(CSRF_INPUT) + len(CSRF_INPUT)
    token = form.text[start : form.text.index('"', start)]
    data = {"username": username, "password": password, "csrf_token": token}
    answer = client.post("/login", data=data, follow_redirects=False)
    if answer.status_code != 303:
        raise RuntimeError(f"log-in failed: {answer.status_code} {answer.text[:200]}")


# --- timing ----------------------------------------------------------------------------------


def measure(client: httpx.Client, probe: Probe, paths: list[str], requests: int) -> Measurement:
    for path in (paths * WARMUP_REQUESTS)[:WARMUP_REQUESTS]:
        client.get(path)
    result = Measurement(probe.name, paths[0], [], [], set())
    slowest = -1.0
    for index in range(requests):
        path = paths[index % len(paths)]
        started_at = time.perf_counter()
        answer = client.get(path)
        elapsed = (time.perf_counter() - started_at) * 1000
        if answer.status_code != 200:
            result.failures.append(f"{path}: {answer.status_code}")
            continue
        result.latencies_ms.append(elapsed)
        result.server_ms.append(float(answer.headers[SERVER_MS_HEADER.decode()]))
        result.queries.add(int(answer.headers[QUERIES_HEADER.decode()]))
        if elapsed > slowest:
            slowest, result.slowest = elapsed, path
            result.slowest_gc_ms = float(answer.headers[GC_MS_HEADER.decode()])
    return result


def chosen(only: list[str] | None) -> list[Probe]:
    """Every request type, or those whose name contains one of `only`."""
    return [p for p in PROBES if not only or any(text in p.name for text in only)]


def run_probes(
    base_url: str, staff: tuple[str, str], samples: admin_seed.Samples, size: int, options: argparse.Namespace
) -> list[Measurement]:
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS) as client:
        log_in(client, *staff)
        results = []
        for probe in chosen(options.only):
            results.append(measure(client, probe, probe.paths(samples, size), options.requests))
            m = results[-1]
            gc_note = f"full GC in the slowest: {m.slowest_gc_ms:.0f} ms"
            say(f"  {probe.name}: p50 {m.p50:.1f} ms, p99 {m.p99:.1f} ms ({gc_note})")
        return results


# --- one size ------------------------------------------------------------------------------


def database_name(options: argparse.Namespace, licenses: int) -> str:
    """One database for both sizes, re-created each time; with --reuse one per size, kept."""
    return f"{DATABASE}_{licenses}" if options.reuse else DATABASE


def seeded(options: argparse.Namespace, licenses: int) -> tuple[str, admin_seed.Counts]:
    name, scale = database_name(options, licenses), admin_seed.Scale(licenses)
    if not options.reuse:
        say(f"\n{licenses:,} licenses: create, migrate, seed {name}")
        return admin_seed.prepare(options.admin_url, name, scale)
    say(f"\n{licenses:,} licenses: reuse {name} if an earlier run seeded it, else create and seed it")
    url, counts, reused = admin_seed.reuse_or_prepare(options.admin_url, name, scale)
    if reused:
        say("  reused (migrated to the newest revision)")
    return url, counts


def run_size(options: argparse.Namespace, licenses: int, workdir: Path, explain: bool) -> SizeRun:
    run = SizeRun(licenses)
    started_at = time.monotonic()
    url, run.counts = seeded(options, licenses)
    run.seed_seconds = time.monotonic() - started_at
    say(f"  ready {run.counts} in {run.seed_seconds:.0f} s")
    # A fresh account each run: a reused database keeps the accounts of the runs before.
    staff = (f"{STAFF_USERNAME}-{secrets.token_hex(4)}", secrets.token_urlsafe(18))
    create_staff(url, *staff)
    samples = admin_seed.samples(url)
    sql_log = workdir / f"sql-{licenses}.jsonl" if explain else None
    server = panel_server(workdir, url, f"admin-{licenses}", sql_log)
    with started(server):
        run.measurements = run_probes(server.url, staff, samples, licenses, options)
    problems, _ = server.log_problems()
    if problems:
        raise RuntimeError(f"the panel logged problems: {problems[:3]}")
    if sql_log is not None:
        plans = workdir / f"explain-{licenses}.md"
        explain_requests(url, sql_log, [(m.probe, m.slowest) for m in run.measurements], plans)
        say(f"  plans of the slowest requests: {plans}")
    return run


# --- report --------------------------------------------------------------------------------


def _queries(m: Measurement) -> str:
    return "/".join(str(q) for q in sorted(m.queries)) or "–"


def table(small: SizeRun, large: SizeRun) -> str:
    s, b = f"{small.licenses:,}", f"{large.licenses:,}"
    lines = [
        f"| request | p50 ms ({s}) | p99 ms ({s}) | queries ({s}) | p50 ms ({b}) | p99 ms ({b})"
        f" | queries ({b}) | server p50 ms ({b}) | full GC in the slowest, ms ({b}) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for few, many in zip(small.measurements, large.measurements, strict=True):
        name = many.probe if _probe(many.probe).required else f"*{many.probe}*"
        cells = [name, f"{few.p50:.1f}", f"{few.p99:.1f}", _queries(few)]
        cells += [f"{many.p50:.1f}", f"{many.p99:.1f}", _queries(many), f"{many.server_p50:.1f}"]
        cells.append(f"{many.slowest_gc_ms:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _probe(name: str) -> Probe:
    return next(p for p in PROBES if p.name == name)


def problems_of(small: SizeRun, large: SizeRun, latency_fails: bool = True) -> list[str]:
    """What fails the run: errors, statement counts that grow with the rows and (unless
    `latency_fails` is off, as in CI on a shared machine) a p99 over the budget."""
    problems = []
    for few, many in zip(small.measurements, large.measurements, strict=True):
        problems += [f"{many.probe}: {failure}" for failure in few.failures + many.failures]
        allowed = max(max(few.queries, default=0), _probe(many.probe).bound or 0)
        if max(many.queries, default=0) > allowed:
            problems.append(f"{many.probe}: queries grow with the rows ({_queries(few)} → {_queries(many)})")
        if _probe(many.probe).required and many.p99 > BUDGET_MS:
            over = f"{many.probe}: p99 {many.p99:.1f} ms over the {BUDGET_MS:.0f} ms budget"
            if latency_fails:
                problems.append(over)
            else:
                say(f"NOTE: {over}")
    return problems


def report(options: argparse.Namespace, runs: list[SizeRun], info: dict[str, str], workdir: Path) -> None:
    info["load average at end"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    say("\nMachine")
    for key, value in info.items():
        say(f"  {key}: {value}")
    say(f"\n{options.requests} requests per type, one at a time, after {WARMUP_REQUESTS} unmeasured ones.")
    say("Client-side latency; p99 is nearest-rank. Types in italics are measured for context.\n")
    say(table(runs[0], runs[1]))
    summary = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "requests": options.requests,
        "sizes": [
            {
                "licenses": r.licenses,
                "counts": vars(r.counts) if r.counts else None,
                "seed_seconds": r.seed_seconds,
                "measurements": [vars(m) | {"queries": sorted(m.queries)} for m in r.measurements],
            }
            for r in runs
        ],
    }
    (workdir / "results.json").write_text(json.dumps(summary, indent=2))
    say(f"\nresults.json and the panel's logs: {workdir}")


# --- command line --------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time the admin panel's lists at scale.")
    parser.add_argument("--licenses", type=int, default=1_000_000, help="licenses of the large run (1000000)")
    parser.add_argument("--small", type=int, default=10_000, help="licenses of the small run (10000)")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per type and size (50)")
    parser.add_argument("--quick", action="store_true", help="100,000 licenses, 20 requests per type")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest requests")
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_PG_ADMIN_URL", seed.DEFAULT_ADMIN_URL))
    parser.add_argument(
        "--latency-report-only",
        action="store_true",
        help="print a p99 over the budget without failing (CI: only errors and growing statement counts fail)",
    )
    parser.add_argument("--keep-db", action="store_true", help=f"keep {DATABASE} (the large size) afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help=f"seed each size once into {DATABASE}_<licenses>, reuse it when seeded, keep it afterwards",
    )
    parser.add_argument(
        "--only", action="append", metavar="TEXT", help="time only the request types whose name contains TEXT"
    )
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    options = parser.parse_args(argv)
    if options.quick:
        options.licenses, options.requests = 100_000, 20
    if not 0 < options.small < options.licenses:
        parser.error("--small must be above 0 and below --licenses")
    if options.requests < 1:
        parser.error("--requests must be at least 1")
    if not chosen(options.only):
        parser.error("--only matches no request type")
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = (options.results_dir / f"admin-lists-{stamp}").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    info = machine_basics(seed.DEFAULT_ADMIN_URL)
    runs: list[SizeRun] = []
    try:
        for size in (options.small, options.licenses):
            runs.append(run_size(options, size, workdir, options.explain and size == options.licenses))
    except (RuntimeError, OSError, psycopg.Error, httpx.HTTPError) as exc:
        say(f"PROBLEM: run failed: {exc}")
        return 1
    finally:
        if options.reuse:
            kept = ", ".join(database_name(options, size) for size in (options.small, options.licenses))
            say(f"Kept databases {kept} for the next run with --reuse (DROP DATABASE … WITH (FORCE) when done)")
        elif options.keep_db:
            say(f"Kept database {seed.database_url(options.admin_url, DATABASE)}")
        else:
            seed.drop_database(options.admin_url, DATABASE)
    report(options, runs, info, workdir)
    problems = problems_of(runs[0], runs[1], latency_fails=not options.latency_report_only)
    for problem in problems:
        say(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
