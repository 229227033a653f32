"""Soak test: the License API and the admin panel under a steady, realistic load for a long time,
watched for slow leaks. Not part of the test suite (it runs for half an hour by default).

    .venv/bin/pip install -e '.[bench]'          # matplotlib, for the plot (the CSV needs nothing)
    .venv/bin/python bench/soak.py                # 30 minutes at half the measured capacity
    .venv/bin/python bench/soak.py --minutes 3 --rate 40 --out /tmp/soak

What it does: a fresh PostgreSQL database seeded by bench/seed.py; `licenseserver serve api
--workers 2` and `licenseserver serve admin` on it; capacity measured with a short closed-loop
burst of the mix (unless --rate is given), then an open-loop load at half of it for --minutes:
verify, activations, panel reads (a staff account logged in, list pages fetched), plus a
heartbeat every 30 s from each of a set of live sessions. Every 10 s it samples the resident
memory of each server process (/proc), the database's connections (pg_stat_activity), errors and
requests per second, into soak.csv and soak.png under --out.

Verdict: after warm-up (the first fifth of the run, at least a minute) each process's resident
memory grows by less than 10 %, the connections do not grow (the highest count of the second half
is not above the highest of the first half), and no request failed. Exit status 0 when it holds.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import random
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx

import seed
import servers

SAMPLE_SECONDS = 10
HEARTBEAT_SECONDS = 30  # the seeded client's heartbeat interval
LIVE_SESSIONS = 60
BURST_SECONDS = 10
BURST_CONCURRENCY = 16
MAX_IN_FLIGHT = 256  # beyond this the server is not keeping up: requests are counted as late
RSS_GROWTH_LIMIT = 0.10
STAFF_USER, STAFF_PASSWORD = "soak", "soak-password-1"
# The mix besides heartbeats, as shares of the requests.
MIX = {"verify": 0.80, "activate": 0.10, "panel": 0.10}
PANEL_PAGES = ("/licenses", "/licenses?page=2", "/customers", "/sessions", "/audit", "/")
EXPECTED = {"verify": {200}, "activate": {200, 409}, "heartbeat": {200}, "panel": {200}}


@dataclass
class Stats:
    done: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    late: int = 0
    in_flight: int = 0


@dataclass
class Rig:
    api: httpx.AsyncClient
    panel: httpx.AsyncClient
    verify_pool: list[list[str]]
    activate_pool: list[list[str]]
    stats: Stats = field(default_factory=Stats)
    counter: itertools.count[int] = field(default_factory=itertools.count)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, work: Coroutine[None, None, None]) -> None:
        """Send without waiting for the answer (open loop); the task is kept until it is done."""
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def one(self, kind: str) -> None:
        self.stats.in_flight += 1
        try:
            status = await self._send(kind)
            if status not in EXPECTED[kind]:
                self.stats.errors.append(f"{kind}: {status}")
            self.stats.done[kind] += 1
        except httpx.HTTPError as exc:
            self.stats.errors.append(f"{kind}: {type(exc).__name__}")
        finally:
            self.stats.in_flight -= 1

    async def one_heartbeat(self, token: str, key: str) -> None:
        self.stats.in_flight += 1
        try:
            body = {"session_token": token, "license_key": key}
            status = (await self.api.post("/api/license/session/heartbeat", json=body)).status_code
            if status not in EXPECTED["heartbeat"]:
                self.stats.errors.append(f"heartbeat: {status}")
            self.stats.done["heartbeat"] += 1
        except httpx.HTTPError as exc:
            self.stats.errors.append(f"heartbeat: {type(exc).__name__}")
        finally:
            self.stats.in_flight -= 1

    async def _send(self, kind: str) -> int:
        if kind == "verify":
            key, device = random.choice(self.verify_pool)[:2]
            body = {"license_key": key, "hardware_hash": device, "app_version": "1.0.0"}
            return (await self.api.post("/api/license/verify", json=body)).status_code
        if kind == "activate":
            key, device = random.choice(self.activate_pool)[0], f"soak-{next(self.counter) % 5_000}"
            body = {"license_key": key, "hardware_hash": device, "machine_name": "SOAK", "app_version": "1.0.0"}
            return (await self.api.post("/api/license/activate", json=body)).status_code
        return (await self.panel.get(random.choice(PANEL_PAGES))).status_code


def read_tsv(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines() if line]


def pick_kind(rng: random.Random) -> str:
    return rng.choices(list(MIX), weights=list(MIX.values()))[0]


async def log_in(panel: httpx.AsyncClient) -> None:
    page = await panel.get("/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert token, "no CSRF token on /login"
    form = {"username": STAFF_USER, "password": STAFF_PASSWORD, "csrf_token": token.group(1)}
    answer = await panel.post("/login", data=form)
    assert answer.status_code == 303, f"log-in refused: {answer.status_code}"


async def measure_capacity(rig: Rig) -> float:
    """Requests per second of the mix, closed loop, BURST_CONCURRENCY at a time."""
    rng, deadline = random.Random(1), time.monotonic() + BURST_SECONDS

    async def worker() -> None:
        while time.monotonic() < deadline:
            await rig.one(pick_kind(rng))

    before = sum(rig.stats.done.values())
    await asyncio.gather(*(worker() for _ in range(BURST_CONCURRENCY)))
    return (sum(rig.stats.done.values()) - before) / BURST_SECONDS


async def heartbeats(rig: Rig, sessions: list[tuple[str, str]], stop: asyncio.Event) -> None:
    """Each live session heartbeats every HEARTBEAT_SECONDS, spread evenly over the interval."""
    gap = HEARTBEAT_SECONDS / max(1, len(sessions))
    for token, key in itertools.cycle(sessions):
        if stop.is_set():
            return
        rig.spawn(rig.one_heartbeat(token, key))
        await asyncio.sleep(gap)


async def start_sessions(rig: Rig, session_pool: list[list[str]]) -> list[tuple[str, str]]:
    sessions = []
    for key, device in (row[:2] for row in session_pool[:LIVE_SESSIONS]):
        body = {"license_key": key, "hardware_hash": device, "machine_id": "SOAK", "version": "1.0.0"}
        answer = await rig.api.post("/api/license/session/start", json=body)
        if answer.status_code == 200:
            sessions.append((answer.json()["session_token"], key))
    return sessions


async def open_loop(rig: Rig, rate: float, stop: asyncio.Event) -> None:
    rng, started = random.Random(2), time.monotonic()
    for n in itertools.count():
        if stop.is_set():
            return
        await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        if rig.stats.in_flight >= MAX_IN_FLIGHT:
            rig.stats.late += 1
            continue
        rig.spawn(rig.one(pick_kind(rng)))


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def connections(admin_url: str, database: str) -> int:
    with seed.connect(admin_url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)).fetchone()
    return int(row[0]) if row else 0


def server_processes(api: servers.Server, admin: servers.Server) -> dict[str, int]:
    """name -> pid: the API's gunicorn master and each of its workers, and the panel."""
    tree = servers.process_tree(api.pid)
    named = {"api-master": api.pid} | {f"api-worker-{n}": pid for n, pid in enumerate(sorted(tree[1:]), 1)}
    return named | {"admin": admin.pid}


async def sample_until(
    rig: Rig, processes: dict[str, int], options: argparse.Namespace, seconds: float, rows: list[dict[str, float]]
) -> None:
    started, last_done, last_errors = time.monotonic(), 0, 0
    last_at = started
    while (elapsed := time.monotonic() - started) < seconds:
        await asyncio.sleep(min(SAMPLE_SECONDS, max(0.1, seconds - elapsed)))
        now, interval = time.monotonic(), time.monotonic() - last_at
        last_at = now
        done, errors = sum(rig.stats.done.values()), len(rig.stats.errors)
        row: dict[str, float] = {"seconds": round(now - started, 1)}
        row |= {f"rss_mib_{name}": round(rss_mib(pid), 1) for name, pid in processes.items()}
        conns = await asyncio.to_thread(connections, options.admin_url, options.database)
        row |= {"db_connections": conns, "errors": errors - last_errors, "late": rig.stats.late}
        row["requests_per_second"] = round((done - last_done) / interval, 1)
        rows.append(row)
        last_done, last_errors = done, errors
        print("  " + "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)


def verdict(rows: list[dict[str, float]], stats: Stats, minutes: float) -> tuple[bool, str]:
    warm = max(60.0, minutes * 60 / 5)
    after = [r for r in rows if r["seconds"] > warm]
    if len(after) < 2:
        return False, "VERDICT: FAIL (too short to judge: no samples after warm-up)"
    growth = {}
    for name in (k for k in after[0] if k.startswith("rss_mib_")):
        first, last = after[0][name], max(r[name] for r in after[-3:])
        growth[name.removeprefix("rss_mib_")] = (last - first) / first if first else 0.0
    half = len(after) // 2
    conns_first, conns_second = (
        max(r["db_connections"] for r in after[:half]),
        max(r["db_connections"] for r in after[half:]),
    )
    errors = len(stats.errors) + stats.late
    ok = all(g < RSS_GROWTH_LIMIT for g in growth.values()) and conns_second <= conns_first and errors == 0
    parts = ", ".join(f"{name} {g:+.1%}" for name, g in growth.items())
    line = (
        f"VERDICT: {'PASS' if ok else 'FAIL'}: RSS growth after warm-up ({warm:.0f} s): {parts}"
        f" (limit {RSS_GROWTH_LIMIT:.0%}); db connections {conns_first} then {conns_second} (flat: not growing);"
        f" errors {len(stats.errors)}, late {stats.late}; requests {sum(stats.done.values())}"
    )
    return ok, line


def write_csv(rows: list[dict[str, float]], path: Path) -> None:
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot(rows: list[dict[str, float]], path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no plot: matplotlib is missing; install it with  .venv/bin/pip install -e '.[bench]'")
        return False
    minutes = [r["seconds"] / 60 for r in rows]
    figure, (memory, conns, rate) = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    for name in (k for k in rows[0] if k.startswith("rss_mib_")):
        memory.plot(minutes, [r[name] for r in rows], label=name.removeprefix("rss_mib_"))
    memory.set_ylabel("resident memory (MiB)")
    memory.legend(fontsize="small")
    conns.plot(minutes, [r["db_connections"] for r in rows], color="tab:purple")
    conns.set_ylabel("database connections")
    rate.plot(minutes, [r["requests_per_second"] for r in rows], label="requests/s")
    rate.plot(minutes, [r["errors"] for r in rows], label="errors per sample", color="tab:red")
    rate.set_ylabel("per sample")
    rate.set_xlabel("minutes")
    rate.legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return True


def create_staff(database_url: str) -> None:
    command = [sys.executable, "-m", "licenseserver.cli", "admin", "create", STAFF_USER, "--password-stdin"]
    env = servers.clean_env(DATABASE_URL=database_url)
    subprocess.run(command, input=STAFF_PASSWORD.encode(), env=env, check=True, capture_output=True)


def admin_server(workdir: Path, database_url: str) -> servers.Server:
    command = [sys.executable, "-m", "licenseserver.cli", "serve", "admin", "--host", servers.HOST]
    env = servers.clean_env(DATABASE_URL=database_url)
    return servers.Server("admin", servers.free_port(), command, env, workdir, "/health")


async def soak(options: argparse.Namespace, api: servers.Server, admin: servers.Server, data: Path) -> int:
    api_key = options.api_key
    # The servers close a connection idle for 5 s (gunicorn's keepalive); a client that keeps it
    # as long races that close and reads an error on a request the server never saw. A client
    # should let idle connections go first: 2 s.
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, keepalive_expiry=2.0)
    async with (
        httpx.AsyncClient(base_url=api.url, headers={"X-API-Key": api_key}, timeout=10, limits=limits) as api_client,
        httpx.AsyncClient(base_url=admin.url, timeout=10, limits=limits) as panel,
    ):
        await log_in(panel)
        rig = Rig(api_client, panel, read_tsv(data / "verify.tsv"), read_tsv(data / "activate.tsv"))
        rate = options.rate or await measure_capacity(rig) / 2
        print(f"rate {rate:.1f} requests/s (+ heartbeats); {options.minutes} minutes", flush=True)
        rig.stats = Stats()
        sessions = await start_sessions(rig, read_tsv(data / "session.tsv"))
        stop, rows = asyncio.Event(), list[dict[str, float]]()
        load = [asyncio.create_task(open_loop(rig, rate, stop)), asyncio.create_task(heartbeats(rig, sessions, stop))]
        await sample_until(rig, server_processes(api, admin), options, options.minutes * 60, rows)
        stop.set()
        await asyncio.gather(*load)
        await asyncio.gather(*rig.tasks)
    ok, line = verdict(rows, rig.stats, options.minutes)
    options.out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, options.out / "soak.csv")
    title = f"soak {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {rate:.0f} req/s, {options.minutes} min"
    plotted = plot(rows, options.out / "soak.png", title)
    print("requests by kind:", dict(rig.stats.done))
    if rig.stats.errors:
        print("errors:", Counter(rig.stats.errors).most_common(5))
    print(f"series: {options.out / 'soak.csv'}" + (f", {options.out / 'soak.png'}" if plotted else ""))
    print(line)
    return 0 if ok else 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to run (default 30)")
    parser.add_argument(
        "--rate", type=float, default=None, help="requests/s besides heartbeats (default: half capacity)"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results") / "soak")
    parser.add_argument("--licenses", type=int, default=20_000, help="licenses to seed (default 20000)")
    parser.add_argument("--admin-url", default=seed.DEFAULT_ADMIN_URL)
    parser.add_argument("--database", default="licenseserver_bench_soak")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    scale = seed.Scale(customers=max(1, options.licenses // 100), licenses=options.licenses)
    work = options.out / "work"
    work.mkdir(parents=True, exist_ok=True)
    url = seed.create_database(options.admin_url, options.database)
    try:
        options.api_key = seed.migrate(url)
        seed.seed(url, scale)
        seed.export_pools(url, scale, work)
        create_staff(url)
        api = servers.api_server(work, 2, url)
        admin = admin_server(work, url)
        with servers.running([api, admin]):
            return asyncio.run(soak(options, api, admin, work))
    finally:
        if not options.keep:
            seed.drop_database(options.admin_url, options.database)


if __name__ == "__main__":
    sys.exit(main())
